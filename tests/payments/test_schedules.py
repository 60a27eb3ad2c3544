"""The settlement schedules (issue 3, Deliver 7): django-celery-beat rows made by a migration,
and the task they call, with a frozen date."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from payments import schedules
from payments.models import Scheme, SettlementRun
from payments.schedules import (
    ANNUAL_SCHEDULE_NAME,
    MONTHLY_SCHEDULE_NAME,
    TASK_NAME,
    period_before,
    start_scheduled_settlements,
)
from payments.tasks import run_scheduled_settlements_task
from tests.factories.payments import SchemeFactory

pytestmark = pytest.mark.django_db
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def test_the_two_schedules_exist_after_migrate_with_shanghai_crontabs() -> None:
    monthly = PeriodicTask.objects.select_related("crontab").get(name=MONTHLY_SCHEDULE_NAME)
    annual = PeriodicTask.objects.select_related("crontab").get(name=ANNUAL_SCHEDULE_NAME)

    for task, period, day, month in ((monthly, "month", "1", "*"), (annual, "year", "5", "1")):
        assert (task.task, task.enabled, task.one_off, json.loads(task.kwargs)) == (
            TASK_NAME,
            True,
            False,
            {"period": period},
        )
        cron = task.crontab
        assert (
            cron.minute,
            cron.hour,
            cron.day_of_month,
            cron.month_of_year,
            cron.day_of_week,
            str(cron.timezone),
        ) == ("0", "2", day, month, "*", "Asia/Shanghai")
    # The task named there is the one Celery knows.
    assert run_scheduled_settlements_task.name == TASK_NAME


def _next_firing(task: PeriodicTask, after: dt.datetime) -> dt.datetime:
    """The first minute after ``after`` (Shanghai time) that ``task``'s crontab matches."""
    cron = task.crontab
    schedule = crontab(
        minute=cron.minute,
        hour=cron.hour,
        day_of_month=cron.day_of_month,
        month_of_year=cron.month_of_year,
        day_of_week=cron.day_of_week,
    )
    moment = after.replace(second=0, microsecond=0)
    for _minute in range(60 * 24 * 400):
        moment += dt.timedelta(minutes=1)
        if (
            moment.minute in schedule.minute
            and moment.hour in schedule.hour
            and moment.day in schedule.day_of_month
            and moment.month in schedule.month_of_year
            and moment.isoweekday() % 7 in schedule.day_of_week
        ):
            return moment
    raise AssertionError("the schedule never fires")


def test_the_crontabs_fire_on_the_first_of_the_month_and_on_5_january() -> None:
    monthly = PeriodicTask.objects.get(name=MONTHLY_SCHEDULE_NAME)
    annual = PeriodicTask.objects.get(name=ANNUAL_SCHEDULE_NAME)
    start = dt.datetime(2025, 12, 15, 12, 0, tzinfo=SHANGHAI)

    assert _next_firing(monthly, start) == dt.datetime(2026, 1, 1, 2, 0, tzinfo=SHANGHAI)
    assert _next_firing(annual, start) == dt.datetime(2026, 1, 5, 2, 0, tzinfo=SHANGHAI)
    assert _next_firing(annual, dt.datetime(2026, 1, 5, 3, 0, tzinfo=SHANGHAI)) == dt.datetime(
        2027, 1, 5, 2, 0, tzinfo=SHANGHAI
    )


@pytest.mark.parametrize(
    ("kind", "today", "expected"),
    [
        ("month", dt.date(2026, 1, 1), "2025-12"),
        ("month", dt.date(2025, 3, 1), "2025-02"),
        ("month", dt.date(2024, 3, 1), "2024-02"),
        ("month", dt.date(2025, 7, 31), "2025-06"),
        ("year", dt.date(2026, 1, 5), "2025"),
        ("year", dt.date(2025, 12, 31), "2024"),
    ],
)
def test_the_period_before_the_day_it_runs(kind: str, today: dt.date, expected: str) -> None:
    assert period_before(kind, today) == expected


@pytest.fixture
def schemes() -> dict[str, Scheme]:
    return {
        "dm2025": SchemeFactory(code="DM2025", year=2025),
        "fd2025": SchemeFactory(
            code="FD2025", year=2025, kind=Scheme.Kind.PER_CAPITA, diagnosis_prefixes=""
        ),
        "dm2026": SchemeFactory(code="DM2026", year=2026, annual_rate=Decimal("1300.00")),
    }


@pytest.fixture
def commits(django_capture_on_commit_callbacks):
    """Call a function and run what it left for the commit (a run's task), as a real commit
    would; the test's transaction never commits."""

    def call(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return call


def _freeze(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    """Django's clock stops at ``moment`` (timezone.localdate reads timezone.now)."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


def _runs() -> list[tuple[str, str, str]]:
    return sorted(SettlementRun.objects.values_list("scheme__code", "period", "status"))


def test_on_1_january_the_monthly_task_settles_december_for_every_scheme_of_that_year(
    schemes: dict[str, Scheme], monkeypatch: pytest.MonkeyPatch, commits
) -> None:
    # 00:30 on 1 January in Shanghai is still 31 December in UTC: the local date counts.
    _freeze(monkeypatch, dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC))

    result = commits(run_scheduled_settlements_task.delay, "month").get()

    assert _runs() == [("DM2025", "2025-12", "finished"), ("FD2025", "2025-12", "finished")]
    assert [(r["scheme_code"], r["period"], r["outcome"]) for r in result] == [
        ("DM2025", "2025-12", "started"),
        ("FD2025", "2025-12", "started"),
    ]


def test_running_the_schedule_twice_gives_one_run_per_scheme_and_period(
    schemes: dict[str, Scheme], monkeypatch: pytest.MonkeyPatch, commits
) -> None:
    _freeze(monkeypatch, dt.datetime(2026, 3, 1, 2, 0, tzinfo=SHANGHAI))

    first = commits(run_scheduled_settlements_task.delay, "month").get()
    second = commits(run_scheduled_settlements_task.delay, "month").get()

    assert _runs() == [("DM2026", "2026-02", "finished")]
    assert [r["outcome"] for r in first] == ["started"]
    assert [(r["run_id"], r["outcome"]) for r in second] == [(first[0]["run_id"], "finished")]


def test_the_annual_task_on_5_january_starts_the_final_runs_of_the_year_before(
    schemes: dict[str, Scheme], monkeypatch: pytest.MonkeyPatch, quality_provider: object, commits
) -> None:
    _freeze(monkeypatch, dt.datetime(2026, 1, 5, 2, 0, tzinfo=SHANGHAI))

    commits(run_scheduled_settlements_task.delay, "year").get()
    commits(run_scheduled_settlements_task.delay, "year").get()

    assert _runs() == [("DM2025", "2025", "finished"), ("FD2025", "2025", "finished")]


def test_a_run_under_way_is_not_doubled_and_a_failed_one_is_tried_again(
    schemes: dict[str, Scheme], monkeypatch: pytest.MonkeyPatch, commits
) -> None:
    dm, fd = schemes["dm2025"], schemes["fd2025"]
    under_way = SettlementRun.objects.create(
        scheme=dm,
        period="2025-06",
        period_start=dt.date(2025, 6, 1),
        period_end=dt.date(2025, 6, 30),
        status=SettlementRun.Status.RUNNING,
    )
    SettlementRun.objects.create(
        scheme=fd,
        period="2025-06",
        period_start=dt.date(2025, 6, 1),
        period_end=dt.date(2025, 6, 30),
        status=SettlementRun.Status.FAILED,
    )

    result = commits(start_scheduled_settlements, kind="month", today=dt.date(2025, 7, 1))

    assert [(r.scheme_code, r.run_id == under_way.pk, r.outcome) for r in result] == [
        ("DM2025", True, "under_way"),
        ("FD2025", False, "started"),
    ]
    assert _runs() == [
        ("DM2025", "2025-06", "running"),
        ("FD2025", "2025-06", "failed"),
        ("FD2025", "2025-06", "finished"),
    ]


def test_the_task_takes_an_explicit_day(schemes: dict[str, Scheme], commits) -> None:
    result = commits(run_scheduled_settlements_task.delay, "month", "2026-02-01").get()

    assert [(r["scheme_code"], r["period"]) for r in result] == [("DM2026", "2026-01")]


def test_the_schedules_module_names_the_rows_the_migration_made() -> None:
    names = set(PeriodicTask.objects.filter(task=TASK_NAME).values_list("name", flat=True))
    assert names == {schedules.MONTHLY_SCHEDULE_NAME, schedules.ANNUAL_SCHEDULE_NAME}
