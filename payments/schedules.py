"""Scheduled settlements (issue 3, Deliver 7): the interim settlement of the month before, on
the 1st of every month, and the final settlement of the year before, on 5 January.

The schedules are django-celery-beat rows (``PeriodicTask`` with an ``Asia/Shanghai`` crontab)
created by migration ``payments.0004_settlement_schedules``, so operators change their times in
the admin. Both call ``payments.tasks.run_scheduled_settlements_task``, which resolves "the month
before" or "the year before" from the day it runs and starts a run for every scheme of that
year through the same service as ``run_settlement`` and the API.

Starting is idempotent: a scheme whose period already has a run under way or finished is left
alone, so a schedule that fires twice (a beat restart, an operator's "run now") gives one run
per scheme and period. A failed run does not count: the next firing tries again.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from payments.models import Scheme, SettlementRun
from payments.tasks import start_settlement_run

TASK_NAME = "payments.tasks.run_scheduled_settlements_task"
# The PeriodicTask rows of migration 0004, by name (operators may change their times, not
# their names).
MONTHLY_SCHEDULE_NAME = "payments: monthly interim settlement (the month before)"
ANNUAL_SCHEDULE_NAME = "payments: annual final settlement (the year before)"
SCHEDULE_TIMEZONE = "Asia/Shanghai"


class ScheduledPeriod(enum.StrEnum):
    MONTH_BEFORE = "month"
    YEAR_BEFORE = "year"


def period_before(kind: ScheduledPeriod | str, today: dt.date) -> str:
    """``"2025-12"`` for the month before 2026-01-01; ``"2025"`` for the year before any day of
    2026 (CONTRACTS conventions: a period never crosses a calendar year)."""
    kind = ScheduledPeriod(kind)
    if kind is ScheduledPeriod.YEAR_BEFORE:
        return f"{today.year - 1:04d}"
    last_month = today.replace(day=1) - dt.timedelta(days=1)
    return f"{last_month.year:04d}-{last_month.month:02d}"


@dataclass(frozen=True)
class ScheduledRun:
    scheme_code: str
    period: str
    run_id: int
    # "started": a new run; "under_way" or "finished": the run already there, left alone.
    outcome: str


def start_scheduled_settlements(
    *, kind: ScheduledPeriod | str, today: dt.date | None = None
) -> list[ScheduledRun]:
    """Start the settlement of the period before ``today`` (the local date in Asia/Shanghai
    when not given) for every scheme of that period's year, skipping the schemes whose period
    already has a run pending, running or finished."""
    day = today if today is not None else timezone.localdate()
    period = period_before(kind, day)
    year = int(period[:4])
    started: list[ScheduledRun] = []
    for scheme in Scheme.objects.filter(year=year).order_by("code"):
        # One transaction per scheme: the run is sent to the workers when it commits, and a
        # failure for one scheme does not hold back the others' runs.
        with transaction.atomic():
            existing = (
                SettlementRun.objects.filter(
                    scheme=scheme,
                    period=period,
                    status__in=[*SettlementRun.ACTIVE_STATUSES, SettlementRun.Status.FINISHED],
                )
                .order_by("-id")
                .first()
            )
            if existing is not None:
                outcome = (
                    "finished" if existing.status == SettlementRun.Status.FINISHED else "under_way"
                )
                started.append(ScheduledRun(scheme.code, period, existing.pk, outcome))
                continue
            run, created = start_settlement_run(scheme=scheme, period=period)
        started.append(
            ScheduledRun(scheme.code, period, run.pk, "started" if created else "under_way")
        )
    return started
