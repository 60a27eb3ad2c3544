"""The production task path: a task goes through the real Redis broker to a real Celery worker.

Runs only with ``REDIS_URL`` set and ``CELERY_WORKER_TESTS=1`` (``.ci/run`` does both); the
embedded path (tasks eager in-process) is what every other test exercises.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult, EagerResult

from healthcommunity.celery import app as celery_app
from healthcommunity.tasks import ping_task

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or os.environ.get("CELERY_WORKER_TESTS") != "1",
        reason="needs REDIS_URL and CELERY_WORKER_TESTS=1 (a real broker and worker)",
    ),
]


@pytest.fixture
def broker_queue() -> Iterator[str]:
    """A queue of this test's own, so a worker or test elsewhere on the broker cannot take it."""
    queue = f"hc-test-{uuid.uuid4().hex}"
    previous_eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield queue
    celery_app.conf.task_always_eager = previous_eager
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)


def test_settings_send_tasks_to_the_redis_broker() -> None:
    assert celery_app.conf.broker_url == os.environ["REDIS_URL"]
    assert celery_app.conf.result_backend == os.environ["REDIS_URL"]
    assert celery_app.conf.task_always_eager is False


def test_ping_task_waits_in_redis_until_a_real_worker_runs_it(broker_queue: str) -> None:
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])

    # Given a task sent while no worker listens on its queue: it waits in Redis, not run.
    result = ping_task.apply_async(queue=broker_queue)
    assert not isinstance(result, EagerResult)
    assert broker.llen(broker_queue) == 1
    assert result.state == "PENDING"

    # When a real worker starts on that queue, it takes the message and runs the task.
    with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[broker_queue]):
        answer = result.get(timeout=30)

    # Then the answer comes back through the result backend, and the queue is empty.
    assert answer["status"] == "pong"
    assert datetime.fromisoformat(answer["worker_time"]).tzinfo is not None
    assert AsyncResult(result.id, app=celery_app).state == "SUCCESS"
    assert broker.llen(broker_queue) == 0
