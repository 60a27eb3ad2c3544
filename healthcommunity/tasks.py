"""Project-level diagnostic tasks for operators (wiring only: no business logic here)."""

from celery import shared_task
from django.utils import timezone


@shared_task(name="healthcommunity.tasks.ping_task")
def ping_task() -> dict[str, str]:
    """Answer a health check: proves a worker took the task from the broker and ran it.

    Operators send it with ``celery -A healthcommunity call healthcommunity.tasks.ping_task``
    (or ``ping_task.delay().get(timeout=10)`` from ``manage.py shell``); the answer carries
    the worker's clock so a stalled or clock-skewed worker shows.
    """
    return {"status": "pong", "worker_time": timezone.now().isoformat()}
