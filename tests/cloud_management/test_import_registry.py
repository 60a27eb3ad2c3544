"""The import-kind registry (later apps add ``claims``, ``schemes``, ``followups``,
``lab_results``) and the row parsers kinds build on."""

import datetime as dt
import io
import random
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import translation

from cloud_management.identifiers import ResidentIdError, make_resident_id, validate_resident_id
from cloud_management.imports.registry import (
    ImportKind,
    columns_of,
    get_import_kind,
    import_kind_names,
    register_import_kind,
    registered_temporarily,
)
from cloud_management.imports.registry_kinds import PatientKind
from cloud_management.imports.rows import Row, is_valid_resident_id
from cloud_management.models import District, Institution


@pytest.fixture(autouse=True)
def _english() -> object:
    with translation.override("en"):
        yield


class DistrictNameKind(ImportKind):
    """A kind as a later app would write one: renames districts by code."""

    name = "district_names"
    columns = columns_of("code", "name", "note?")
    model = District
    fields = ("code", "name")
    natural_key = ("code",)
    key_columns = ("code",)

    def prepare(self, rows: Any) -> None:
        self.known = set(District.objects.values_list("code", flat=True))

    def parse_row(self, row: Row) -> dict[str, Any]:
        code = row.code("code", max_length=6)
        if code and code not in self.known:
            row.error("code", "is not a district")
        return {"code": code, "name": row.text("name", max_length=50)}


def test_the_registry_holds_this_issues_four_kinds() -> None:
    # Later apps add their kinds (claims, followups, ...) beside these.
    assert {"contracts", "enrolments", "institutions", "patients"} <= set(import_kind_names())
    assert import_kind_names() == sorted(import_kind_names())
    assert get_import_kind("patients") is PatientKind


def test_registering_the_same_kind_again_changes_nothing() -> None:
    before = import_kind_names()

    assert register_import_kind(PatientKind) is PatientKind
    assert import_kind_names() == before
    assert get_import_kind("patients") is PatientKind


def test_another_kind_under_a_taken_name_is_refused() -> None:
    class Impostor(DistrictNameKind):
        name = "patients"

    with pytest.raises(ImproperlyConfigured, match="The import kind 'patients' is already"):
        register_import_kind(Impostor)
    assert get_import_kind("patients") is PatientKind


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"natural_key": ("name",)}, "District does not hold ('name',) unique"),
        ({"natural_key": ("nope",)}, "`natural_key` must be a non-empty subset of `fields`"),
        ({"key_columns": ("district",)}, "`key_columns` must be a non-empty subset"),
        ({"columns": columns_of("code", "code")}, "`columns` names a column twice"),
        ({"name": ""}, "`name` must be a non-empty string"),
    ],
)
def test_a_malformed_kind_is_refused(attributes: dict[str, Any], problem: str) -> None:
    malformed = type("Malformed", (DistrictNameKind,), attributes)

    with pytest.raises(ImproperlyConfigured, match=f"is malformed: .*{re.escape(problem)}"):
        register_import_kind(malformed)
    assert "district_names" not in import_kind_names()


def test_a_registered_kind_is_imported_by_the_command_and_gone_afterwards(
    tmp_path: Path, db: object
) -> None:
    path = tmp_path / "districts.csv"
    path.write_text("name,code\n和平区（新）,120101\n南开区,999999\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()

    with registered_temporarily(DistrictNameKind):
        assert "district_names" in import_kind_names()
        with pytest.raises(CommandError) as failed:
            call_command(
                "import_records", "district_names", str(path), "--partial", stdout=out, stderr=err
            )

    assert (failed.value.returncode, out.getvalue(), err.getvalue()) == (
        1,
        "imported 1 district_names\n",
        "row 3: code: is not a district\n",
    )
    assert District.objects.get(code="120101").name == "和平区（新）"
    assert District.objects.count() == 16
    assert "district_names" not in import_kind_names()
    with pytest.raises(CommandError, match='Unknown import kind "district_names"'):
        call_command("import_records", "district_names", str(path))


# -- row parsers -------------------------------------------------------------------------------


def row_of(**cells: str) -> Row:
    return Row(2, list(cells.values()), {name: i for i, name in enumerate(cells)})


def test_an_absent_optional_column_reads_as_empty() -> None:
    row = row_of(name="x")

    assert (
        row.text("address", max_length=5, required=False),
        row.date("ended_on", required=False),
    ) == (
        "",
        None,
    )
    assert row.errors == []


def test_integers_are_checked_against_their_bounds() -> None:
    row = row_of(a="120", b="39", c="1.5", d="-3")

    values = [
        row.integer("a", minimum=40, maximum=300),
        row.integer("b", minimum=40),
        row.integer("c"),
        row.integer("d", maximum=-5),
    ]

    assert values == [120, None, None, None]
    assert [(e.field, e.reason) for e in row.errors] == [
        ("b", "must be at least 40"),
        ("c", "must be a whole number"),
        ("d", "must be at most -5"),
    ]


def _resident_id_cases() -> list[str]:
    rng = random.Random(11643)
    cases = ["", "X" * 18, "１２０１０４１９９００１０１００１Ｘ", "120104١٩٩٠0101001X"]
    for n in range(400):
        birth = dt.date(1880, 1, 1) + dt.timedelta(days=rng.randrange(60_000))
        valid = make_resident_id("120104", birth, n % 100, rng.choice("MF"))
        position = rng.randrange(18)
        mutated = valid[:position] + rng.choice("0123456789X") + valid[position + 1 :]
        cases += [valid, valid.lower(), mutated, valid[:-1], valid + "1", f" {valid} "]
    # Real checksums around impossible or too early birth dates.
    for body in [
        "12010418791231001",
        "12010419900230001",
        "12010419901301001",
        "12010400000101001",
    ]:
        cases += [body + check for check in "0123456789X"]
    return cases


def test_the_fast_resident_id_check_agrees_with_identifiers() -> None:
    """The import's pre-check accepts only what identifiers.validate_resident_id accepts, and
    a row gets the same value or the same reason either way."""
    disagreements = []
    for value in _resident_id_cases():
        try:
            expected: tuple[str | None, list[str]] = (validate_resident_id(value), [])
        except ResidentIdError as exc:
            expected = (None, [str(exc)])
        if not value.strip():
            expected = (None, ["must not be empty"])
        row = row_of(resident_id=value.strip())
        got = (row.resident_id(), [e.reason for e in row.errors])
        fast = is_valid_resident_id(value.strip().upper())
        if got != expected or (fast and expected[0] != value.strip().upper()):
            disagreements.append((value, got, expected, fast))

    assert disagreements == []


def test_institution_lookups_are_loaded_once_per_import(
    tmp_path: Path, db: object, django_assert_max_num_queries: Any
) -> None:
    """No query per row: a 200-row patients file costs a fixed number of queries."""
    from tests.factories.csv_files import PATIENT_COLUMNS, patient_row, write_csv

    Institution.objects.create(
        code="NK001",
        name="长江道",
        district=District.objects.get(code="120104"),
        kind="community_centre",
    )
    path = write_csv(tmp_path / "p.csv", PATIENT_COLUMNS, [patient_row(n) for n in range(200)])

    with django_assert_max_num_queries(12):
        call_command("import_records", "patients", str(path), stdout=io.StringIO())
