"""The tianjin scale's follow-ups and lab results (healthcommunity.demo.care_tianjin), with a
small population: realistic shapes, rows consistent with the enrolments, the same rows from
the COPY path and the portable path, and nothing added by a second run."""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from chronic_care.indicators import indicator_figures
from chronic_care.models import FollowUp
from cloud_exams.models import CriticalValueAlert, ExamResult
from cloud_management.models import DiabetesEnrollment
from healthcommunity.demo import care_tianjin, tianjin
from healthcommunity.demo.steps import SeedContext

YEAR = 2026
TODAY = dt.date(YEAR, 11, 30)
REGISTRY_STEPS = [
    tianjin.refuse_if_residents_exist,
    tianjin.seed_institutions,
    tianjin.seed_staff,
    tianjin.seed_residents,
    tianjin.analyze,
]

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL"
)


@pytest.fixture(autouse=True)
def demo_today(monkeypatch):
    monkeypatch.setattr(care_tianjin, "_today", lambda: TODAY)


def seed(writer: str, *, registry: bool = True) -> SeedContext:
    ctx = SeedContext(
        scale="tianjin", year=YEAR, write=lambda _: None, residents=900, enrolments=400,
        writer=writer,
    )  # fmt: skip
    for step in (REGISTRY_STEPS if registry else []) + care_tianjin.STEPS:
        step(ctx)
    return ctx


def follow_up_snapshot() -> list[tuple[object, ...]]:
    return sorted(
        FollowUp.objects.values_list(
            "patient__resident_id", "institution__code", "date", "mode", "symptoms", "fbg",
            "hba1c", "systolic", "diastolic", "weight_kg", "height_cm", "medication_adherence",
            "outcome", "next_date", "is_referred", "referral_to", "referral_reason",
            "recorded_by__username", "needs_urgent_referral",
        )
    )  # fmt: skip


def result_snapshot() -> list[tuple[object, ...]]:
    return sorted(
        ExamResult.objects.values_list(
            "entry_key", "patient__resident_id", "item__code", "ordering_institution__code",
            "performing_institution__code", "collected_on", "value", "unit", "flag",
            "reference_text", "origin", "entered_at", "verified_by__username", "verified_at",
        )
    )  # fmt: skip


@pytest.mark.django_db
def test_follow_ups_and_results_have_realistic_shapes_and_agree_with_the_enrolments():
    seed("orm")
    enrolees = (
        DiabetesEnrollment.objects.filter(enrolled_on__lte=TODAY)
        .exclude(ended_on__lt=dt.date(YEAR, 1, 1))
        .values("patient_id")
        .distinct()
        .count()
    )
    follow_ups = list(FollowUp.objects.all())
    # Quarterly, a few missed, rechecks after uncontrolled results: about five a year.
    assert 4.0 * enrolees <= len(follow_ups) <= 6.5 * enrolees
    spans: dict[int, list[tuple[int, dt.date, dt.date | None]]] = {}
    for e in DiabetesEnrollment.objects.all():
        spans.setdefault(e.patient_id, []).append((e.institution_id, e.enrolled_on, e.ended_on))
    for f in follow_ups:
        assert dt.date(YEAR, 1, 1) <= f.date <= TODAY
        assert any(
            inst == f.institution_id and start <= f.date and (end is None or f.date <= end)
            for inst, start, end in spans[f.patient_id]
        ), f
        if f.fbg is not None and f.fbg >= Decimal("7.0"):
            assert f.outcome == FollowUp.Outcome.UNCONTROLLED
            assert f.next_date == f.date + dt.timedelta(days=14)
        if f.needs_urgent_referral and not f.is_referred:
            assert f.referral_to == ""
        assert f.recorded_by_id is not None
    modes = Counter(f.mode for f in follow_ups)
    assert modes[FollowUp.Mode.CLINIC] > modes[FollowUp.Mode.HOME] > modes[FollowUp.Mode.PHONE]
    assert modes[FollowUp.Mode.ONLINE] > 0
    fbgs = sorted(f.fbg for f in follow_ups if f.fbg is not None)
    assert Decimal("6.5") <= fbgs[len(fbgs) // 2] <= Decimal("8.5")

    results = list(ExamResult.objects.select_related("item"))
    assert all(r.verified_at is not None and r.verified_by_id is not None for r in results)
    assert all(r.entered_by_id is None for r in results)
    assert all(r.verified_at is not None and r.verified_at > r.entered_at for r in results)
    by_item = Counter(r.item.code for r in results)
    assert by_item.most_common(1)[0][0] == "HBA1C"
    tested = {r.patient_id for r in results if r.item.code == "HBA1C"}
    assert 0.6 * enrolees <= len(tested) <= 0.9 * enrolees
    assert 1.0 <= by_item["HBA1C"] / len(tested) <= 2.0
    assert {r.flag for r in results if r.item.code == "HBA1C"} >= {"H"}
    alerts = CriticalValueAlert.objects.select_related("result")
    assert all(alert.result.is_critical for alert in alerts)

    figures = indicator_figures(year=YEAR, institution_ids=None)
    managed = sum(f.managed_population for f in figures.values())
    assert managed > 0.8 * enrolees
    assert 0.5 * managed < sum(f.standardized_managed for f in figures.values()) < managed
    assert 0.2 * managed < sum(f.glucose_controlled for f in figures.values()) < 0.7 * managed


@pytest.mark.django_db
def test_running_the_step_again_adds_nothing():
    seed("orm")
    before = (FollowUp.objects.count(), ExamResult.objects.count())
    seed("orm", registry=False)
    assert (FollowUp.objects.count(), ExamResult.objects.count()) == before


def definitions() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = ANY(%s::regclass[])
            UNION ALL
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid = ANY(%s::regclass[])
            """,
            [[FollowUp._meta.db_table, ExamResult._meta.db_table]] * 2,
        )
        return set(cursor.fetchall())


@on_postgresql
@pytest.mark.postgres
@pytest.mark.django_db(transaction=False)
def test_copy_path_writes_what_the_portable_path_writes_and_restores_indexes():
    before = definitions()
    seed("copy")
    copied = (follow_up_snapshot(), result_snapshot(), CriticalValueAlert.objects.count())
    assert definitions() == before
    assert len(copied[0]) > 1000

    CriticalValueAlert.objects.all().delete()
    ExamResult.objects.all().delete()
    FollowUp.objects.all().delete()
    seed("orm", registry=False)

    assert (follow_up_snapshot(), result_snapshot(), CriticalValueAlert.objects.count()) == copied
