"""The ``lab_results`` import kind (CONTRACTS §1): good rows, bad rows, re-import; both write
paths on PostgreSQL, the portable one on SQLite."""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from cloud_exams import services
from cloud_exams.models import ExamResult
from cloud_management.imports.service import import_records
from cloud_management.models import Patient
from payments.models import ClaimLine
from tests.factories.cloud_management import PatientFactory
from tests.factories.csv_files import write_csv

COLUMNS = ["resident_id", "institution_code", "item_code", "collected_on", "value", "unit"]
pytestmark = pytest.mark.django_db

WRITE_PATHS = ["portable", pytest.param("fast", marks=pytest.mark.postgres)]


@pytest.fixture(params=WRITE_PATHS)
def write_path(request):
    if request.param == "fast" and connection.vendor != "postgresql":
        pytest.skip("the fast path needs PostgreSQL")
    return request.param


@pytest.fixture
def woman(home_institution):
    return PatientFactory(
        home_institution=home_institution, sex=Patient.Sex.FEMALE, birth_date=dt.date(1970, 3, 1)
    )


def rows_for(patient, **overrides):
    row = {
        "resident_id": patient.resident_id,
        "institution_code": patient.home_institution.code,
        "item_code": "FBG",
        "collected_on": "2025-03-10",
        "value": "7.8",
        "unit": "mmol/L",
    }
    row.update(overrides)
    return row


def run_import(tmp_path: Path, rows, write_path="portable", partial=False):
    path = write_csv(tmp_path / "lab_results.csv", COLUMNS, rows)
    return import_records(kind="lab_results", path=path, partial=partial, write_path=write_path)


def test_good_rows_are_imported_unverified_and_flagged(tmp_path, patient, woman, write_path):
    outcome = run_import(
        tmp_path,
        [
            rows_for(patient),
            rows_for(patient, item_code="HBA1C", value="6.9", unit="%"),
            # Creatinine 80 µmol/L: high for a woman of 55 (41-73), normal for a man of 64.
            rows_for(woman, item_code="CREA", value="80", unit="µmol/L"),
            rows_for(patient, item_code="CREA", value="80", unit="µmol/L"),
            rows_for(patient, item_code="ECG", value="窦性心律，大致正常心电图", unit=""),
        ],
        write_path,
    )
    assert (outcome.written, outcome.imported, outcome.error_lines()) == (True, 5, [])
    results = {(r.patient_id, r.item.code): r for r in ExamResult.objects.select_related("item")}
    fbg = results[(patient.pk, "FBG")]
    assert (fbg.value, fbg.unit, fbg.flag, fbg.reference_text) == (
        Decimal("7.8"),
        "mmol/L",
        "H",
        "3.9-6.1",
    )
    assert fbg.collected_on == dt.date(2025, 3, 10)
    assert (fbg.origin, fbg.verified_at, fbg.entered_by) == ("imported", None, None)
    assert fbg.ordering_institution == fbg.performing_institution == patient.home_institution
    assert results[(woman.pk, "CREA")].flag == "H"
    assert results[(patient.pk, "CREA")].flag == "N"
    ecg = results[(patient.pk, "ECG")]
    assert (ecg.value, ecg.value_text) == (None, "窦性心律，大致正常心电图")
    # Imported results are billed through the insurance system's claims file, not here.
    assert not ClaimLine.objects.exists()


def test_a_bad_row_writes_nothing_and_is_reported_by_row_and_field(tmp_path, patient):
    outcome = run_import(
        tmp_path,
        [
            rows_for(patient),
            rows_for(patient, item_code="NOPE"),
            rows_for(patient, item_code="HBA1C", unit="mmol/mol"),
            rows_for(patient, collected_on="2025-13-01"),
            rows_for(patient, value="high", collected_on="2025-03-11"),
            rows_for(patient, institution_code="XX999", collected_on="2025-03-12"),
        ],
    )
    assert not outcome.written
    lines = outcome.error_lines()
    assert [line.split(":")[0] for line in lines] == ["row 3", "row 4", "row 5", "row 6", "row 7"]
    assert lines[0].startswith("row 3: item_code: ")
    assert lines[1].startswith("row 4: unit: ")
    assert "%" in lines[1]
    assert lines[2].startswith("row 5: collected_on: ")
    assert lines[3].startswith("row 6: value: ")
    assert lines[4].startswith("row 7: institution_code: ")
    assert not ExamResult.objects.exists()


def test_future_dates_and_duplicates_are_bad_rows(tmp_path, patient):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    outcome = run_import(
        tmp_path,
        [
            rows_for(patient),
            rows_for(patient, value="5.0"),
            rows_for(patient, collected_on=tomorrow),
        ],
    )
    assert [line.split(":")[:2] for line in outcome.error_lines()] == [
        ["row 3", " resident_id"],
        ["row 4", " collected_on"],
    ]


def test_partial_import_writes_the_good_rows(tmp_path, patient):
    outcome = run_import(
        tmp_path, [rows_for(patient), rows_for(patient, item_code="NOPE")], partial=True
    )
    assert (outcome.written, outcome.imported, len(outcome.bad_rows)) == (True, 1, 1)
    assert ExamResult.objects.count() == 1


def test_reimport_updates_and_never_duplicates(tmp_path, patient, write_path):
    run_import(tmp_path, [rows_for(patient)], write_path)
    first = ExamResult.objects.get()
    outcome = run_import(tmp_path, [rows_for(patient, value="5.4")], write_path)
    assert outcome.imported == 1
    again = ExamResult.objects.get()
    assert again.pk == first.pk
    assert (again.value, again.flag) == (Decimal("5.4"), "N")


def test_a_verified_result_is_not_changed_by_a_reimport(tmp_path, patient, lab_user):
    run_import(tmp_path, [rows_for(patient)])
    services.verify_result(user=lab_user, result=ExamResult.objects.get())
    # The same values again are accepted and change nothing.
    assert run_import(tmp_path, [rows_for(patient)]).written
    outcome = run_import(tmp_path, [rows_for(patient, value="5.4")])
    assert not outcome.written
    assert outcome.error_lines()[0].startswith("row 2: value: ")
    result = ExamResult.objects.get()
    assert (result.value, result.verified_by) == (Decimal("7.8"), lab_user)


def test_the_command_prints_the_contract_lines(tmp_path, patient):
    good = write_csv(tmp_path / "good.csv", COLUMNS, [rows_for(patient)])
    out = io.StringIO()
    call_command("import_records", "lab_results", str(good), stdout=out)
    assert out.getvalue().strip() == "imported 1 lab_results"
    bad = write_csv(tmp_path / "bad.csv", COLUMNS, [rows_for(patient, unit="mg/dL")])
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_records", "lab_results", str(bad), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().startswith("row 2: unit: ")
