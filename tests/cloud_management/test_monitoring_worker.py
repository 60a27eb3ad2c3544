"""The monitoring task on the production path: sent with .delay() through the Redis broker, run
by a real Celery worker, its figures landing in the Redis cache the web processes read.

Runs only with ``REDIS_URL`` set and ``CELERY_WORKER_TESTS=1``; everywhere else the task runs
eagerly (test_monitoring.py covers that path).
"""

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.result import EagerResult
from django.core.cache import cache
from django.utils import timezone

from cloud_management.monitoring import cache_key, cached_figures, compute_figures
from cloud_management.tasks import refresh_monitoring_figures_task
from healthcommunity.celery import app as celery_app
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    PatientFactory,
)

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or os.environ.get("CELERY_WORKER_TESTS") != "1",
        reason="needs REDIS_URL and CELERY_WORKER_TESTS=1 (a real broker and worker)",
    ),
]


@pytest.fixture
def own_queue() -> Iterator[str]:
    """Route the task to a queue of this test's own, so no other worker on the broker takes it."""
    queue = f"hc-test-monitoring-{uuid.uuid4().hex}"
    previous_eager = celery_app.conf.task_always_eager
    previous_routes = celery_app.conf.task_routes
    celery_app.conf.task_always_eager = False
    celery_app.conf.update(task_routes={refresh_monitoring_figures_task.name: {"queue": queue}})
    yield queue
    celery_app.conf.update(task_routes=previous_routes)
    celery_app.conf.task_always_eager = previous_eager
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)


def test_the_worker_puts_todays_figures_in_the_redis_cache(transactional_db, own_queue) -> None:
    # Given committed registry rows (the worker thread reads through its own connection).
    patient = PatientFactory()
    FamilyDoctorContractFactory(patient=patient)
    DiabetesEnrollmentFactory(patient=patient)
    today = timezone.localdate()
    cache.delete(cache_key(today))
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    stored_key = cache.make_key(cache_key(today))
    assert broker.exists(stored_key) == 0

    # When the task is sent with .delay() and a real worker consumes the queue.
    result = refresh_monitoring_figures_task.delay()
    assert not isinstance(result, EagerResult)
    assert broker.llen(own_queue) == 1
    with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[own_queue]):
        summary = result.get(timeout=60)

    # Then the figures are in Redis, under the key the dashboards read, and exact.
    assert broker.exists(stored_key) == 1
    assert broker.llen(own_queue) == 0
    cached = cached_figures(today)
    assert cached is not None
    assert summary == {
        "day": today.isoformat(),
        "computed_at": cached.computed_at.isoformat(),
        "metrics": len(cached.values),
    }
    institution_id = patient.home_institution_id
    assert cached.values["registry.residents"] == {institution_id: 1}
    assert cached.values["registry.active_contracts"] == {institution_id: 1}
    assert cached.values["registry.active_enrolments_t2"] == {institution_id: 1}
    assert cached.values == compute_figures(today).values
