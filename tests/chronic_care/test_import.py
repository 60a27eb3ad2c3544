"""The ``followups`` import kind (CONTRACTS §1-2), through ``import_records``, on both write
paths."""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from chronic_care.models import FollowUp
from cloud_management.imports.service import import_records
from tests.factories.cloud_management import InstitutionFactory, PatientFactory, district
from tests.factories.csv_files import bad_checksum, write_csv

COLUMNS = [
    "resident_id",
    "institution_code",
    "date",
    "mode",
    "fbg",
    "hba1c",
    "systolic",
    "diastolic",
    "weight_kg",
    "outcome",
]


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def people(db):
    institution = InstitutionFactory(code="NK001", district=district("120104"))
    return (
        institution,
        PatientFactory(home_institution=institution),
        PatientFactory(home_institution=institution),
    )


def row(resident_id, **overrides):
    values = {
        "resident_id": resident_id,
        "institution_code": "NK001",
        "date": "2025-03-01",
        "mode": "clinic",
        "fbg": "7.2",
        "hba1c": "",
        "systolic": "135",
        "diastolic": "85",
        "weight_kg": "68.5",
        "outcome": "uncontrolled",
    }
    values.update(overrides)
    return values


def run(path: Path, *flags: str):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_records", "followups", str(path), *flags, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_good_rows_are_imported(tmp_path, people):
    institution, p1, p2 = people
    path = write_csv(
        tmp_path / "f.csv",
        COLUMNS,
        [
            row(p1.resident_id),
            row(p2.resident_id, mode="home", fbg="17.0", systolic="", diastolic="", hba1c="7.9"),
        ],
    )

    assert run(path) == (0, "imported 2 followups\n", "")

    first = FollowUp.objects.get(patient=p1)
    assert (
        first.institution,
        first.date,
        first.mode,
        first.fbg,
        first.systolic,
        first.diastolic,
        first.weight_kg,
        first.outcome,
        first.needs_urgent_referral,
    ) == (
        institution,
        dt.date(2025, 3, 1),
        "clinic",
        Decimal("7.2"),
        135,
        85,
        Decimal("68.5"),
        "uncontrolled",
        False,
    )
    second = FollowUp.objects.get(patient=p2)
    assert (second.hba1c, second.systolic, second.needs_urgent_referral) == (
        Decimal("7.9"),
        None,
        True,
    )


def test_a_bad_row_is_reported_by_row_and_field_and_nothing_is_written(tmp_path, people):
    _institution, p1, p2 = people
    path = write_csv(
        tmp_path / "f.csv",
        COLUMNS,
        [
            row(p1.resident_id),
            row(bad_checksum(p2.resident_id), fbg="60.0", mode="visit"),
            row(p2.resident_id, systolic="120", diastolic="", institution_code="XX999"),
            row(p2.resident_id, date="2025-03-02", systolic="80", diastolic="90"),
        ],
    )

    code, out, err = run(path)

    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("row 3: resident_id: ")
    assert "mode: must be one of: clinic, home, phone, online" in lines[0]
    assert "fbg: must be from 1.0 to 50.0" in lines[0]
    assert lines[1] == (
        "row 4: institution_code: no institution has this code; "
        "diastolic: systolic and diastolic are recorded together"
    )
    assert lines[2] == "row 5: diastolic: must be below systolic"
    assert FollowUp.objects.count() == 0


def test_partial_writes_the_good_rows(tmp_path, people):
    _institution, p1, p2 = people
    path = write_csv(
        tmp_path / "f.csv", COLUMNS, [row(p1.resident_id), row(p2.resident_id, outcome="fine")]
    )

    code, _out, err = run(path, "--partial")

    assert code == 1
    assert "row 3: outcome: must be one of" in err
    assert list(FollowUp.objects.values_list("patient_id", flat=True)) == [p1.pk]


def test_a_follow_up_in_the_future_is_refused(tmp_path, people):
    _institution, p1, _p2 = people
    path = write_csv(tmp_path / "f.csv", COLUMNS, [row(p1.resident_id, date="2999-01-01")])

    code, _out, err = run(path)

    assert (code, err) == (1, "row 2: date: must not be in the future\n")


@pytest.mark.parametrize("write_path", ["portable", "fast"])
def test_reimport_updates_without_duplicating_and_keeps_what_the_file_lacks(
    tmp_path, people, write_path
):
    if write_path == "fast" and connection.vendor != "postgresql":
        pytest.skip("COPY needs PostgreSQL")
    _institution, p1, _p2 = people
    path = write_csv(tmp_path / "f.csv", COLUMNS, [row(p1.resident_id)])
    import_records(kind="followups", path=path, write_path=write_path)
    FollowUp.objects.filter(patient=p1).update(symptoms="polyuria", next_date=dt.date(2025, 6, 1))
    path = write_csv(
        tmp_path / "f.csv", COLUMNS, [row(p1.resident_id, fbg="3.5", outcome="adverse_reaction")]
    )

    outcome = import_records(kind="followups", path=path, write_path=write_path)

    assert (outcome.imported, outcome.written) == (1, True)
    follow_up = FollowUp.objects.get()
    assert (
        follow_up.fbg,
        follow_up.outcome,
        follow_up.needs_urgent_referral,
        follow_up.symptoms,
        follow_up.next_date,
    ) == (Decimal("3.5"), "adverse_reaction", True, "polyuria", dt.date(2025, 6, 1))


def test_the_kind_is_registered_with_its_columns():
    from cloud_management.imports.registry import get_import_kind

    kind = get_import_kind("followups")

    assert [c.name + ("" if c.required else "?") for c in kind.columns] == [
        "resident_id",
        "institution_code",
        "date",
        "mode",
        "fbg?",
        "hba1c?",
        "systolic?",
        "diastolic?",
        "weight_kg?",
        "outcome",
    ]
