"""Celery tasks of chronic care: thin entry points over ``chronic_care.snapshots``."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from chronic_care.snapshots import refresh_year


@shared_task(
    name="chronic_care.tasks.refresh_quality_snapshots_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def refresh_quality_snapshots_task(today: str | None = None) -> dict[str, int]:
    """Recompute every institution's stored quality figures of the current year (each ended
    month, the month so far, the whole year) and, in January, of the year before (lab
    results of December verified since). ``today`` (ISO date) defaults to the local date.

    Idempotent: a second run recomputes the same rows. Scheduled nightly at 01:30
    Asia/Shanghai by beat (migration ``chronic_care.0003``). Returns rows written per year.
    """
    day = timezone.localdate() if today is None else dt.date.fromisoformat(today)
    years = [day.year - 1, day.year] if day.month == 1 else [day.year]
    return {str(year): refresh_year(year=year, today=day) for year in years}
