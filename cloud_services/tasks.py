"""Celery tasks of cloud_services: thin entrypoints over ``cloud_services.services``."""

from celery import shared_task

from cloud_services.services import notify_results_ready


@shared_task(name="cloud_services.tasks.notify_results_ready_task")
def notify_results_ready_task() -> int:
    """Text patients whose home-collected specimens have all their results verified.

    Idempotent: each booking is texted once (``result_notified_at``). Scheduled by beat every
    five minutes; returns how many patients were texted.
    """
    return notify_results_ready()
