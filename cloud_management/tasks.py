"""Celery tasks of the registry: thin entrypoints over ``cloud_management.monitoring``."""

from celery import shared_task

from cloud_management.monitoring import refresh_figures


@shared_task(name="cloud_management.tasks.refresh_monitoring_figures_task")
def refresh_monitoring_figures_task() -> dict[str, str | int]:
    """Compute today's operations-monitoring figures and put them in the shared cache.

    Idempotent: a second run recomputes the same figures and overwrites the entry. Scheduled by
    beat (every 10 minutes is enough: the dashboards compute live whenever the cache is empty).
    Returns a small summary for the result backend.
    """
    figures = refresh_figures()
    return {
        "day": figures.day.isoformat(),
        "computed_at": figures.computed_at.isoformat(),
        "metrics": len(figures.values),
    }
