"""Stored quality figures (chronic_care.snapshots) on the community of test_indicators.py:
A = NK001 in 南开区 120104 (P1, P2, P4 managed in 2024; P3 from 07-01; P5 89 days), B = HP001
in 和平区 120101 (P3 until 06-30)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_celery_beat.models import PeriodicTask

from chronic_care.indicators import EMPTY_FIGURES, indicator_figures, month_ends, pooled
from chronic_care.models import FollowUp, QualitySnapshot
from chronic_care.services import end_enrolment, record_follow_up, update_follow_up
from chronic_care.snapshots import (
    COUNTS,
    compute_snapshots,
    refresh_year,
    snapshot_days,
    stored_quality,
)
from chronic_care.tasks import refresh_quality_snapshots_task
from cloud_management.imports.service import import_records
from cloud_management.models import DiabetesEnrollment, StaffRole
from payments.formulas import IndicatorFigures
from tests.chronic_care.conftest import day
from tests.factories.cloud_management import (
    InstitutionFactory,
    RegulatorRoleFactory,
    StaffRoleFactory,
    district,
)
from tests.factories.csv_files import write_csv

D = Decimal
QUALITY = "/dashboards/quality/"
YEAR_END = day(12, 31)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def stored(institution, as_of) -> IndicatorFigures:
    row = QualitySnapshot.objects.get(institution=institution, year=as_of.year, as_of=as_of)
    return IndicatorFigures(*(getattr(row, name) for name in COUNTS))


def city_client() -> Client:
    client = Client()
    client.force_login(
        RegulatorRoleFactory(district=None, agency=StaffRole.Agency.HEALTH_COMMISSION).user
    )
    return client


def snapshot_statements(queries) -> int:
    """How many indicator statements ran (the statement's CTE names the members)."""
    return sum("member_spans" in query["sql"] for query in queries)


def test_a_snapshot_equals_the_live_computation(world):
    a, b = world["a"], world["b"]

    written = refresh_year(year=2024, today=dt.date(2026, 11, 30))

    assert written == 2 * 12
    assert stored(a, YEAR_END) == IndicatorFigures(4, 3, 2, 1, 2)
    assert stored(b, YEAR_END) == IndicatorFigures(1, 1, 1, 1, 0)
    # Through 03-31 only P1 is managed at A: standardized, not controlled, no HbA1c, baseline
    # 8.0 (test_indicators.py); B has nobody yet by the end of January.
    assert stored(a, day(3, 31)) == IndicatorFigures(1, 1, 0, 0, 0)
    assert stored(b, day(1, 31)) == EMPTY_FIGURES
    for end in month_ends(2024, YEAR_END):
        live = indicator_figures(year=2024, institution_ids=None, through=end)
        for institution in (a, b):
            assert stored(institution, end) == live.get(institution.pk, EMPTY_FIGURES), end


def test_the_running_month_is_stored_as_of_today_and_replaced_the_next_night(world):
    a = world["a"]

    refresh_year(year=2024, today=day(11, 14))
    assert snapshot_days(2024, day(11, 14))[-2:] == [day(11, 14), YEAR_END]
    assert QualitySnapshot.objects.filter(institution=a, as_of=day(11, 14)).exists()

    refresh_year(year=2024, today=day(11, 15))

    assert not QualitySnapshot.objects.filter(as_of=day(11, 14)).exists()
    live = indicator_figures(year=2024, institution_ids=[a.pk], through=day(11, 15))
    assert stored(a, day(11, 15)) == live[a.pk]
    assert QualitySnapshot.objects.filter(institution=a).count() == 10 + 1 + 1


def test_a_missing_snapshot_is_computed_once_by_the_page(world):
    client = city_client()

    with CaptureQueriesContext(connection) as first:
        response = client.get(QUALITY, {"year": 2024})
    computed_at = set(QualitySnapshot.objects.values_list("computed_at", flat=True))
    with CaptureQueriesContext(connection) as second:
        again = client.get(QUALITY, {"year": 2024})

    # Twelve month ends (the last is 31 December) for every institution, once.
    assert snapshot_statements(first.captured_queries) == 12
    assert QualitySnapshot.objects.count() == 2 * 12
    assert snapshot_statements(second.captured_queries) == 0
    assert set(QualitySnapshot.objects.values_list("computed_at", flat=True)) == computed_at
    for page in (response, again):
        rows = {row.code: row for row in page.context["rows"]}
        assert (rows["120104"].managed, rows["120104"].score) == (4, D("67.86"))
        assert (rows["120101"].managed, rows["120101"].score) == (1, D("100.00"))
        assert page.context["total"].managed == 5
        # P1 at A and P3 at B reach 90 covered days in March (91).
        assert [m["row"].managed for m in page.context["trend"]][:3] == [0, 0, 2]
        assert page.context["computed_at"] == min(computed_at)
    assert "Figures as of" in again.content.decode()


def test_the_page_reads_a_fixed_number_of_queries_however_many_institutions(world):
    client = city_client()
    refresh_year(year=2024, today=YEAR_END)
    with CaptureQueriesContext(connection) as few:
        client.get(QUALITY, {"year": 2024})
    for number in range(6):
        InstitutionFactory(code=f"XQ{number:03d}", district=district("120111"))
    refresh_year(year=2024, today=YEAR_END)

    with CaptureQueriesContext(connection) as many:
        response = client.get(QUALITY, {"year": 2024})

    assert len(many.captured_queries) == len(few.captured_queries)
    assert snapshot_statements(many.captured_queries) == 0
    assert response.context["total"].managed == 5


def test_a_new_follow_up_invalidates_its_residents_institutions_from_its_day(world):
    a, b, p = world["a"], world["b"], world["p"]
    manager = StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=a).user
    refresh_year(year=2024, today=YEAR_END)
    assert stored(a, YEAR_END).standardized_managed == 3

    # P1 (enrolled at A only) gets a clinic follow-up on 06-15: A's figures from the end of June on
    # are gone, May's and B's stay.
    record_follow_up(
        user=manager,
        patient=p[1],
        institution=a,
        date=day(6, 15),
        mode=FollowUp.Mode.CLINIC,
        outcome=FollowUp.Outcome.CONTROLLED,
        fbg=D("6.1"),
    )

    assert set(QualitySnapshot.objects.filter(institution=a).values_list("as_of", flat=True)) == {
        end for end in month_ends(2024, YEAR_END) if end < day(6, 15)
    }
    assert QualitySnapshot.objects.filter(institution=b).count() == 12
    stored_now = stored_quality(
        year=2024, today=YEAR_END, institution_ids=[a.pk, b.pk], by_district=False
    )
    # P1 had three face-to-face follow-ups with a glucose (01-10, 04-10, 10-10) of the four
    # required; the fourth makes them standardized: SMR at A 4 of 4.
    assert stored_now.groups[a.pk].standardized_managed == 4
    assert stored(a, YEAR_END) == indicator_figures(year=2024, institution_ids=[a.pk])[a.pk]


def test_a_follow_up_of_a_transferred_resident_invalidates_both_institutions(world):
    a, b, p = world["a"], world["b"], world["p"]
    manager = StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=a).user
    refresh_year(year=2024, today=YEAR_END)
    follow_up = FollowUp.objects.get(patient=p[3], date=day(8, 1))

    update_follow_up(user=manager, follow_up=follow_up, fbg=D("6.2"))

    for institution in (a, b):
        assert set(
            QualitySnapshot.objects.filter(institution=institution).values_list("as_of", flat=True)
        ) == {end for end in month_ends(2024, YEAR_END) if end < day(8, 1)}


def test_ending_an_enrolment_invalidates_from_its_last_day(world):
    a, p = world["a"], world["p"]
    manager = StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=a).user
    refresh_year(year=2024, today=YEAR_END)
    enrolment = DiabetesEnrollment.objects.get(patient=p[4], ended_on__isnull=True)

    end_enrolment(user=manager, enrolment=enrolment, ended_on=day(10, 31), reason="moved_away")

    assert set(QualitySnapshot.objects.filter(institution=a).values_list("as_of", flat=True)) == {
        end for end in month_ends(2024, YEAR_END) if end < day(10, 31)
    }


@pytest.mark.parametrize("write_path", ["portable", "fast"])
def test_the_followups_import_invalidates(tmp_path, world, write_path):
    if write_path == "fast" and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    a, b, p = world["a"], world["b"], world["p"]
    refresh_year(year=2024, today=YEAR_END)
    columns = ["resident_id", "institution_code", "date", "mode", "fbg", "hba1c"]
    columns += ["systolic", "diastolic", "weight_kg", "outcome"]
    path = write_csv(
        tmp_path / "f.csv",
        columns,
        [
            {
                "resident_id": p[2].resident_id,
                "institution_code": "NK001",
                "date": "2024-11-20",
                "mode": "clinic",
                "fbg": "6.0",
                "hba1c": "",
                "systolic": "",
                "diastolic": "",
                "weight_kg": "",
                "outcome": "controlled",
            }
        ],
    )

    outcome = import_records(kind="followups", path=path, write_path=write_path)

    assert outcome.imported == 1
    assert set(QualitySnapshot.objects.filter(institution=a).values_list("as_of", flat=True)) == {
        end for end in month_ends(2024, YEAR_END) if end < day(11, 20)
    }
    assert QualitySnapshot.objects.filter(institution=b).count() == 12


def test_compute_snapshots_for_some_institutions_leaves_the_others(world):
    a, b = world["a"], world["b"]
    refresh_year(year=2024, today=YEAR_END)
    QualitySnapshot.objects.filter(institution=a).update(managed_population=99)
    before_b = set(QualitySnapshot.objects.filter(institution=b).values_list("computed_at"))

    compute_snapshots(year=2024, days=[YEAR_END], institution_ids=[a.pk])

    assert stored(a, YEAR_END).managed_population == 4
    assert stored(a, day(11, 30)).managed_population == 99
    assert set(QualitySnapshot.objects.filter(institution=b).values_list("computed_at")) == (
        before_b
    )
    with pytest.raises(ValueError, match="fall in the year"):
        compute_snapshots(year=2024, days=[day(1, 31, 2025)])


def test_the_nightly_task_recomputes_the_year_so_far_and_in_january_the_year_before(world):
    assert refresh_quality_snapshots_task("2024-11-30") == {"2024": 2 * 12}
    assert QualitySnapshot.objects.filter(year=2024, as_of=day(11, 30)).count() == 2

    result = refresh_quality_snapshots_task("2025-01-05")

    assert result == {"2024": 2 * 12, "2025": 2 * 2}
    assert QualitySnapshot.objects.filter(year=2025, as_of=dt.date(2025, 1, 5)).count() == 2
    schedule = PeriodicTask.objects.get(task="chronic_care.tasks.refresh_quality_snapshots_task")
    assert (schedule.crontab.hour, schedule.crontab.minute, str(schedule.crontab.timezone)) == (
        "1",
        "30",
        "Asia/Shanghai",
    )


def test_the_running_month_is_read_as_of_the_last_nightly_recompute(world):
    a, b = world["a"], world["b"]
    refresh_year(year=2024, today=day(11, 14))

    with CaptureQueriesContext(connection) as queries:
        result = stored_quality(
            year=2024, today=day(11, 15), institution_ids=[a.pk, b.pk], by_district=False
        )

    assert snapshot_statements(queries.captured_queries) == 0
    assert len(queries.captured_queries) == 3
    assert [end for end, _figures in result.trend][-2:] == [day(10, 31), day(11, 14)]
    live = indicator_figures(year=2024, institution_ids=[a.pk, b.pk], through=day(11, 14))
    assert result.trend[-1][1] == pooled(live.values())
    assert result.groups[a.pk] == stored(a, YEAR_END)


def test_the_district_page_reads_a_fixed_number_of_queries(world):
    regulator = RegulatorRoleFactory(district=district("120104")).user
    client = Client()
    client.force_login(regulator)
    url = f"{QUALITY}districts/120104/"
    refresh_year(year=2024, today=YEAR_END)
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"year": 2024})
    for number in range(5):
        InstitutionFactory(code=f"NK{number + 2:03d}", district=district("120104"))
    refresh_year(year=2024, today=YEAR_END)

    with CaptureQueriesContext(connection) as many:
        response = client.get(url, {"year": 2024})

    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    assert snapshot_statements(many.captured_queries) == 0
    rows = {row.code: row for row in response.context["rows"]}
    assert len(rows) == 6
    assert (rows["NK001"].managed, rows["NK001"].score) == (4, D("67.86"))
    assert rows["NK002"].managed == 0
