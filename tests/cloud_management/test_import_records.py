"""``import_records`` (CONTRACTS §1-2): file checks, row checks, all-or-nothing, --partial,
re-import, masking. Runs on SQLite and on PostgreSQL."""

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from cloud_management.imports.registry import import_kind_names
from cloud_management.models import (
    DiabetesEnrollment,
    FamilyDoctorContract,
    Institution,
    Patient,
)
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    district,
)
from tests.factories.csv_files import (
    CONTRACT_COLUMNS,
    ENROLMENT_COLUMNS,
    INSTITUTION_COLUMNS,
    PATIENT_COLUMNS,
    bad_checksum,
    contract_row,
    enrolment_row,
    institution_row,
    patient_row,
    write_csv,
)

# Any 18-character resident ID, whole.
WHOLE_RESIDENT_ID = re.compile(r"\d{17}[\dXx]")


@pytest.fixture(autouse=True)
def _english() -> object:
    """Reasons are translated; these tests read the English text."""
    with translation.override("en"):
        yield


@pytest.fixture
def institution(db: object) -> Institution:
    return InstitutionFactory(code="NK001", district=district("120104"))


class Result:
    def __init__(self, code: int, out: str, err: str, message: str = "") -> None:
        self.code = code
        self.out = out
        self.err = err
        # The CommandError's text: what `manage.py` prints on stderr after the row lines.
        self.message = message

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run(*args: str) -> Result:
    import io

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_records", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return Result(exc.returncode, out.getvalue(), err.getvalue(), str(exc))
    return Result(0, out.getvalue(), err.getvalue())


def import_file(tmp_path: Path, kind: str, columns: list[str], rows: list[dict], *flags: str):
    path = write_csv(tmp_path / f"{kind}.csv", columns, rows)
    return run(kind, str(path), *flags)


# -- happy paths -------------------------------------------------------------------------------


def test_institutions_are_imported_and_reimport_updates_without_duplicating(
    tmp_path: Path, db: object
) -> None:
    rows = [institution_row("NK001"), institution_row("HP001", district_code="120101")]

    first = import_file(tmp_path, "institutions", INSTITUTION_COLUMNS, rows)

    assert (first.code, first.out, first.err) == (0, "imported 2 institutions\n", "")
    nk = Institution.objects.get(code="NK001")
    assert (nk.name, nk.district.code, nk.kind, nk.is_chronic_care_centre, nk.is_active) == (
        "NK001社区卫生服务中心",
        "120104",
        "community_centre",
        True,
        True,
    )
    # An operator deactivates one; the next file renames it and changes its kind.
    Institution.objects.filter(code="NK001").update(is_active=False)
    rows[0] = institution_row(
        "NK001", name="长江道社区卫生服务中心", kind="township_centre", chronic_care_centre="false"
    )

    again = import_file(tmp_path, "institutions", INSTITUTION_COLUMNS, rows)

    assert (again.code, again.out) == (0, "imported 2 institutions\n")
    assert Institution.objects.count() == 2
    nk = Institution.objects.get(code="NK001")
    assert (nk.name, nk.kind, nk.is_chronic_care_centre, nk.is_active) == (
        "长江道社区卫生服务中心",
        "township_centre",
        False,
        False,
    )


def test_patients_are_imported_with_every_field(tmp_path: Path, institution: Institution) -> None:
    row = patient_row(1, insurance_type="resident", address="天津市南开区长江道1号")

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, [row])

    assert (result.code, result.out, result.err) == (0, "imported 1 patients\n", "")
    patient = Patient.objects.get()
    assert (
        patient.resident_id,
        patient.name,
        patient.sex,
        patient.birth_date,
        patient.phone,
        patient.district.code,
        patient.home_institution_id,
        patient.insurance_type,
        patient.insurance_number,
        patient.address,
    ) == (
        row["resident_id"],
        "居民1",
        "M",
        dt.date(1940, 1, 1),
        "13900000001",
        "120104",
        institution.pk,
        "resident",
        "TJ0000000001",
        "天津市南开区长江道1号",
    )


def test_column_order_is_free_and_optional_columns_may_be_absent_or_empty(
    tmp_path: Path, institution: Institution
) -> None:
    columns = [
        "insurance_type",
        "home_institution_code",
        "district_code",
        "birth_date",
        "sex",
        "name",
        "resident_id",
        "phone",
    ]
    rows = [patient_row(1), patient_row(2, phone="")]

    result = import_file(tmp_path, "patients", columns, rows)

    assert (result.code, result.out) == (0, "imported 2 patients\n")
    assert list(
        Patient.objects.order_by("name").values_list("phone", "insurance_number", "address")
    ) == [("13900000001", "", ""), ("", "", "")]


def test_reimporting_patients_updates_them_and_clears_emptied_optional_values(
    tmp_path: Path, institution: Institution
) -> None:
    rows = [patient_row(n) for n in range(3)]
    import_file(tmp_path, "patients", PATIENT_COLUMNS, rows)
    rows[1] = patient_row(1, name="新名字", phone="", address="")

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, rows)

    assert (result.code, result.out) == (0, "imported 3 patients\n")
    assert Patient.objects.count() == 3
    changed = Patient.objects.get(resident_id=rows[1]["resident_id"])
    assert (changed.name, changed.phone, changed.address) == ("新名字", "", "")


def test_reimporting_without_an_optional_column_keeps_its_recorded_values(
    tmp_path: Path, institution: Institution
) -> None:
    """An absent column says nothing about its field; an empty cell clears it."""
    rows = [patient_row(n) for n in range(3)]
    import_file(tmp_path, "patients", PATIENT_COLUMNS, rows)
    columns = [c for c in PATIENT_COLUMNS if c not in ("phone", "address")]
    rows[1] = patient_row(1, name="新名字", insurance_number="")
    rows.append(patient_row(3))

    result = import_file(tmp_path, "patients", columns, rows)

    assert (result.code, result.out, result.err) == (0, "imported 4 patients\n", "")
    assert list(
        Patient.objects.order_by("resident_id").values_list(
            "name", "phone", "insurance_number", "address"
        )
    ) == [
        ("居民0", "13900000000", "TJ0000000000", "天津市南开区长江道0号"),
        ("新名字", "13900000001", "", "天津市南开区长江道1号"),
        ("居民2", "13900000002", "TJ0000000002", "天津市南开区长江道2号"),
        ("居民3", "", "TJ0000000003", ""),
    ]


def test_a_contracts_file_without_ended_on_keeps_the_recorded_end(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    other = InstitutionFactory(code="HP001", district=district("120101"))
    import_file(
        tmp_path,
        "contracts",
        CONTRACT_COLUMNS,
        [contract_row(patient.resident_id, ended_on="2025-12-31")],
    )
    columns = ["resident_id", "institution_code", "signed_on"]

    result = import_file(
        tmp_path,
        "contracts",
        columns,
        [contract_row(patient.resident_id, institution_code="HP001")],
    )

    assert (result.code, result.out) == (0, "imported 1 contracts\n")
    assert list(FamilyDoctorContract.objects.values_list("institution_id", "ended_on")) == [
        (other.pk, dt.date(2025, 12, 31))
    ]


def test_an_enrolments_file_without_ended_on_keeps_the_recorded_end_in_the_overlap_check(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    import_file(
        tmp_path,
        "enrolments",
        ENROLMENT_COLUMNS,
        [enrolment_row(patient.resident_id, ended_on="2025-06-30")],
    )
    columns = ["resident_id", "institution_code", "diabetes_type", "diagnosis_code", "enrolled_on"]
    rows = [
        # Updates the recorded enrolment, whose end (2025-06-30) stays: no overlap with the next.
        enrolment_row(patient.resident_id, diabetes_type="T1"),
        enrolment_row(patient.resident_id, enrolled_on="2025-07-01"),
    ]

    result = import_file(tmp_path, "enrolments", columns, rows)

    assert (result.code, result.out, result.err) == (0, "imported 2 enrolments\n", "")
    assert list(
        DiabetesEnrollment.objects.order_by("enrolled_on").values_list(
            "enrolled_on", "ended_on", "diabetes_type", "baseline_fbg", "baseline_hba1c"
        )
    ) == [
        (dt.date(2025, 1, 1), dt.date(2025, 6, 30), "T1", Decimal("8.2"), Decimal("7.4")),
        (dt.date(2025, 7, 1), None, "T2", None, None),
    ]


def test_a_utf8_bom_and_whitespace_around_cells_are_accepted(
    tmp_path: Path, institution: Institution
) -> None:
    row = patient_row(1)
    text = ",".join(PATIENT_COLUMNS) + "\n" + ",".join(f" {row[c]} " for c in PATIENT_COLUMNS)
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8") + b"\n")

    result = run("patients", str(path))

    assert (result.code, result.out) == (0, "imported 1 patients\n")
    assert Patient.objects.get().name == "居民1"


def test_blank_lines_are_skipped_but_still_count_as_rows(
    tmp_path: Path, institution: Institution
) -> None:
    good, bad = patient_row(1), patient_row(2, sex="X")
    header = ",".join(PATIENT_COLUMNS)
    lines = [header, ",".join(str(good[c]) for c in PATIENT_COLUMNS), "", ""]
    lines.append(",".join(str(bad[c]) for c in PATIENT_COLUMNS))
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run("patients", str(path))

    assert result.code == 1
    assert result.err_lines == ["row 5: sex: must be one of: M, F"]


def test_a_header_only_file_imports_nothing(tmp_path: Path, db: object) -> None:
    result = import_file(tmp_path, "institutions", INSTITUTION_COLUMNS, [])

    assert (result.code, result.out) == (0, "imported 0 institutions\n")


def test_contracts_are_imported_and_reimport_updates_by_resident_and_signed_on(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    other = InstitutionFactory(code="HP001", district=district("120101"))
    rows = [
        contract_row(patient.resident_id),
        contract_row(patient.resident_id, signed_on="2024-01-01", ended_on="2024-12-31"),
    ]
    first = import_file(tmp_path, "contracts", CONTRACT_COLUMNS, rows)
    rows[0] = contract_row(patient.resident_id, institution_code="HP001", ended_on="2025-06-30")

    again = import_file(tmp_path, "contracts", CONTRACT_COLUMNS, rows)

    assert (first.code, first.out, again.code, again.out) == (
        0,
        "imported 2 contracts\n",
        0,
        "imported 2 contracts\n",
    )
    assert list(
        FamilyDoctorContract.objects.order_by("signed_on").values_list(
            "patient_id", "institution_id", "signed_on", "ended_on"
        )
    ) == [
        (patient.pk, institution.pk, dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
        (patient.pk, other.pk, dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
    ]


def test_enrolments_are_imported_and_reimport_updates_by_resident_and_enrolled_on(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    rows = [
        enrolment_row(patient.resident_id, enrolled_on="2023-01-01", ended_on="2023-12-31"),
        enrolment_row(patient.resident_id, baseline_fbg="", baseline_hba1c="10"),
    ]
    first = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows)
    # The open enrolment ends; the next begins the day after.
    rows[1] = enrolment_row(patient.resident_id, ended_on="2025-06-30", diabetes_type="other")
    rows.append(enrolment_row(patient.resident_id, enrolled_on="2025-07-01"))

    again = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows)

    assert (first.code, first.out) == (0, "imported 2 enrolments\n")
    assert (again.code, again.out, again.err) == (0, "imported 3 enrolments\n", "")
    assert list(
        DiabetesEnrollment.objects.order_by("enrolled_on").values_list(
            "enrolled_on", "ended_on", "diabetes_type", "baseline_fbg", "baseline_hba1c"
        )
    ) == [
        (dt.date(2023, 1, 1), dt.date(2023, 12, 31), "T2", Decimal("8.2"), Decimal("7.4")),
        (dt.date(2025, 1, 1), dt.date(2025, 6, 30), "other", Decimal("8.2"), Decimal("7.4")),
        (dt.date(2025, 7, 1), None, "T2", Decimal("8.2"), Decimal("7.4")),
    ]


# -- the file as a whole -----------------------------------------------------------------------


def test_an_unknown_kind_is_an_error_listing_the_kinds(tmp_path: Path, db: object) -> None:
    result = run("widgets", str(tmp_path / "x.csv"))

    assert (result.code, result.out, result.err) == (1, "", "")
    kinds = ", ".join(import_kind_names())
    assert "contracts, enrolments" in kinds
    assert result.message == f'Unknown import kind "widgets". The kinds are: {kinds}.'


def test_a_missing_file_is_an_error(tmp_path: Path, db: object) -> None:
    path = tmp_path / "nowhere.csv"

    result = run("patients", str(path))

    assert (result.code, result.message) == (1, f'"{path}" does not exist.')


def test_an_empty_file_is_a_one_line_error(tmp_path: Path, db: object) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"\xef\xbb\xbf\n\n")

    result = run("patients", str(path))

    assert (result.code, result.out, result.err) == (1, "", "")
    assert result.message == f'"{path}" is empty: it has no header row and no data.'


def test_a_file_that_is_not_utf8_names_the_byte_offset_and_line(
    tmp_path: Path, institution: Institution
) -> None:
    path = tmp_path / "gbk.csv"
    text = ",".join(INSTITUTION_COLUMNS) + "\nNK002,长江道,120104,community_centre,true\n"
    path.write_bytes(text.encode("gbk"))
    offset = len(",".join(INSTITUTION_COLUMNS) + "\nNK002,")

    result = run("institutions", str(path))

    assert (result.code, result.out, result.err) == (1, "", "")
    assert result.message == (
        f'"{path}" is not UTF-8 (it looks like GBK/GB18030): byte '
        f"0x{'长'.encode('gbk')[0]:02X} at offset {offset} (line 2) cannot be decoded. Save the "
        "file as UTF-8 and import it again."
    )
    assert Institution.objects.count() == 1


def test_a_utf16_file_is_named_as_such(tmp_path: Path, institution: Institution) -> None:
    path = tmp_path / "unicode.txt"
    text = ",".join(INSTITUTION_COLUMNS) + "\nNK002,长江道,120104,community_centre,true\n"
    path.write_bytes(text.encode("utf-16"))

    result = run("institutions", str(path))

    assert (result.code, result.out, result.err) == (1, "", "")
    assert result.message == (
        f'"{path}" is not UTF-8 (it looks like UTF-16): byte 0x{text.encode("utf-16")[0]:02X} '
        "at offset 0 (line 1) cannot be decoded. Save the file as UTF-8 and import it again."
    )
    assert Institution.objects.count() == 1


def test_undecodable_bytes_of_no_known_encoding_are_named_without_a_guess(
    tmp_path: Path, db: object
) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"code,name\n\xff\xff\n")

    result = run("institutions", str(path))

    assert result.message == (
        f'"{path}" is not UTF-8: byte 0xFF at offset 10 (line 2) cannot be decoded. Save the '
        "file as UTF-8 and import it again."
    )


@pytest.mark.parametrize(
    ("separator", "name"), [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")]
)
def test_a_file_separated_by_something_other_than_commas_says_so(
    tmp_path: Path, institution: Institution, separator: str, name: str
) -> None:
    path = tmp_path / "excel.csv"
    row = institution_row("NK002")
    lines = [
        separator.join(INSTITUTION_COLUMNS),
        separator.join(str(row[c]) for c in INSTITUTION_COLUMNS),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run("institutions", str(path))

    assert (result.code, result.out, result.err) == (1, "", "")
    assert result.message == (
        f'"{path}" is not comma-separated: its header row is separated by {name}. Save it as a '
        "comma-separated CSV file and import it again."
    )
    assert Institution.objects.count() == 1


def test_unknown_columns_are_a_one_line_error(tmp_path: Path, institution: Institution) -> None:
    result = import_file(
        tmp_path, "institutions", [*INSTITUTION_COLUMNS, "manager", ""], [institution_row("X1")]
    )

    assert (result.code, result.err) == (1, "")
    assert result.message == (
        f'"{tmp_path / "institutions.csv"}" has columns that institutions files do not have: '
        "manager, (column 7 has no name). The columns are: code, name, district_code, kind, "
        "chronic_care_centre."
    )
    assert Institution.objects.count() == 1


def test_a_missing_required_column_is_a_one_line_error(
    tmp_path: Path, institution: Institution
) -> None:
    columns = [c for c in PATIENT_COLUMNS if c not in {"sex", "insurance_type"}]

    result = import_file(tmp_path, "patients", columns, [patient_row(1)])

    assert (result.code, result.err) == (1, "")
    assert result.message == (
        f'"{tmp_path / "patients.csv"}" lacks the required columns: sex, insurance_type. The '
        "columns are: resident_id, name, sex, birth_date, phone?, district_code, "
        "home_institution_code, insurance_type, insurance_number?, address?."
    )
    assert Patient.objects.count() == 0


def test_a_missing_header_is_a_one_line_error_that_shows_no_data(
    tmp_path: Path, institution: Institution
) -> None:
    row = patient_row(1)
    path = tmp_path / "no-header.csv"
    path.write_text(",".join(str(row[c]) for c in PATIENT_COLUMNS) + "\n", encoding="utf-8")

    result = run("patients", str(path))

    assert (result.code, result.err) == (1, "")
    assert result.message == (
        f'"{path}" has no header row: row 1 must name the columns of patients (resident_id, '
        "name, sex, birth_date, phone?, district_code, home_institution_code, insurance_type, "
        "insurance_number?, address?)."
    )


def test_a_column_named_twice_is_a_one_line_error(tmp_path: Path, db: object) -> None:
    result = import_file(tmp_path, "institutions", [*INSTITUTION_COLUMNS, "kind"], [])

    assert result.message == (
        f'"{tmp_path / "institutions.csv"}" names these columns more than once: kind.'
    )


def test_a_row_with_the_wrong_number_of_cells_is_a_bad_row(
    tmp_path: Path, institution: Institution
) -> None:
    path = tmp_path / "cells.csv"
    header = ",".join(INSTITUTION_COLUMNS)
    path.write_text(
        f"{header}\nNK002,a,120104,community_centre,true\nNK003,b,120104\n", encoding="utf-8"
    )

    result = run("institutions", str(path))

    assert (result.code, result.out) == (1, "")
    assert result.err_lines == ["row 3: cells: the row has 3 cells but the header has 5"]
    assert result.message == "1 of 2 rows is bad; nothing was imported."
    assert list(Institution.objects.values_list("code", flat=True)) == ["NK001"]


# -- bad rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"resident_id": "12010419400101001"}, "resident_id: must be 18 characters"),
        (
            {"resident_id": "1201041940010100AX"},
            "resident_id: must be 17 digits and a check character 0-9 or X",
        ),
        ({"resident_id": "checksum"}, "resident_id: checksum does not verify"),
        ({"resident_id": ""}, "resident_id: must not be empty"),
        ({"name": ""}, "name: must not be empty"),
        ({"name": "名" * 51}, "name: must be at most 50 characters"),
        ({"sex": "male"}, "sex: must be one of: M, F"),
        ({"sex": "F"}, "sex: does not agree with the resident ID"),
        ({"birth_date": "1940-01-02"}, "birth_date: does not agree with the resident ID"),
        ({"birth_date": "1940/01/01"}, "birth_date: must be a date as YYYY-MM-DD"),
        ({"birth_date": "19400101"}, "birth_date: must be a date as YYYY-MM-DD"),
        ({"birth_date": "1940-02-30"}, "birth_date: is not a valid date"),
        ({"phone": "139-0000-000a"}, "phone: must hold only digits, spaces, +, -, ( and )"),
        ({"district_code": "999999"}, "district_code: no district has this code"),
        ({"home_institution_code": "NOPE"}, "home_institution_code: no institution has this code"),
        ({"insurance_type": "private"}, "insurance_type: must be one of: employee, resident"),
        ({"insurance_number": "N" * 33}, "insurance_number: must be at most 32 characters"),
    ],
)
def test_a_bad_patient_row_is_reported_by_row_and_field_and_nothing_is_written(
    tmp_path: Path, institution: Institution, overrides: dict[str, str], line: str
) -> None:
    rows = [patient_row(0), patient_row(1), patient_row(2)]
    if overrides.get("resident_id") == "checksum":
        overrides = {"resident_id": bad_checksum(str(rows[1]["resident_id"]))}
    rows[1] = {**rows[1], **overrides}

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, rows)

    assert (result.code, result.out) == (1, "")
    assert result.err_lines == [f"row 3: {line}"]
    assert result.message == "1 of 3 rows is bad; nothing was imported."
    assert Patient.objects.count() == 0


def test_every_bad_field_of_a_row_is_reported_on_its_line_in_column_order(
    tmp_path: Path, institution: Institution
) -> None:
    row = patient_row(1, insurance_type="", sex="F", birth_date="1941-01-01", name="")

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, [row])

    assert result.err_lines == [
        "row 2: name: must not be empty; sex: does not agree with the resident ID; "
        "birth_date: does not agree with the resident ID; insurance_type: must not be empty"
    ]


def test_the_same_resident_twice_in_one_file_reports_the_later_row(
    tmp_path: Path, institution: Institution
) -> None:
    rows = [patient_row(1), patient_row(2), patient_row(1, name="又一个")]

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, rows)

    assert result.err_lines == ["row 4: resident_id: duplicates row 2 (same resident_id)"]
    assert Patient.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"code": "NK 002"}, "code: must be printable ASCII without spaces"),
        ({"code": "南开"}, "code: must be printable ASCII without spaces"),
        (
            {"kind": "hospital"},
            "kind: must be one of: community_centre, township_centre, "
            "village_clinic, digital_hospital, general_hospital",
        ),
        ({"chronic_care_centre": "True"}, "chronic_care_centre: must be true or false"),
        ({"chronic_care_centre": ""}, "chronic_care_centre: must not be empty"),
        ({"district_code": "120100"}, "district_code: no district has this code"),
    ],
)
def test_a_bad_institution_row_is_reported(
    tmp_path: Path, db: object, overrides: dict[str, str], line: str
) -> None:
    rows = [{**institution_row("NK002"), **overrides}]

    result = import_file(tmp_path, "institutions", INSTITUTION_COLUMNS, rows)

    assert (result.code, result.err_lines) == (1, [f"row 2: {line}"])
    assert Institution.objects.count() == 0


def test_institution_codes_are_case_sensitive(tmp_path: Path, institution: Institution) -> None:
    result = import_file(tmp_path, "institutions", INSTITUTION_COLUMNS, [institution_row("nk001")])

    assert result.code == 0
    assert sorted(Institution.objects.values_list("code", flat=True)) == ["NK001", "nk001"]


def test_bad_contract_rows_are_reported(tmp_path: Path, institution: Institution) -> None:
    patient = PatientFactory(home_institution=institution)
    stranger = patient_row(77)["resident_id"]
    rows = [
        contract_row(patient.resident_id, ended_on="2024-12-31"),
        contract_row(str(stranger)),
        contract_row(patient.resident_id, signed_on="2025-02-01", institution_code="NK999"),
        contract_row(patient.resident_id, ended_on="2025-03-01"),
    ]

    result = import_file(tmp_path, "contracts", CONTRACT_COLUMNS, rows)

    assert result.err_lines == [
        "row 2: ended_on: must not be before signed_on",
        "row 3: resident_id: no resident is registered with this ID",
        "row 4: institution_code: no institution has this code",
        "row 5: resident_id: duplicates row 2 (same resident_id and signed_on)",
    ]
    assert FamilyDoctorContract.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"diabetes_type": "T3"}, "diabetes_type: must be one of: T1, T2, other"),
        ({"diagnosis_code": "diabetes"}, "diagnosis_code: must be an ICD-10 code such as E11.9"),
        ({"diagnosis_code": ""}, "diagnosis_code: must not be empty"),
        ({"enrolled_on": ""}, "enrolled_on: must not be empty"),
        ({"ended_on": "2024-12-31"}, "ended_on: must not be before enrolled_on"),
        ({"baseline_fbg": "7.25"}, "baseline_fbg: must have at most 1 decimal places"),
        ({"baseline_fbg": "abc"}, "baseline_fbg: must be a number such as 7.5"),
        ({"baseline_fbg": "1e3"}, "baseline_fbg: must be a number such as 7.5"),
        ({"baseline_fbg": "-1"}, "baseline_fbg: must not be negative"),
        ({"baseline_hba1c": "1000"}, "baseline_hba1c: must be less than 1000"),
        ({"institution_code": ""}, "institution_code: must not be empty"),
    ],
)
def test_a_bad_enrolment_row_is_reported(
    tmp_path: Path, institution: Institution, overrides: dict[str, str], line: str
) -> None:
    patient = PatientFactory(home_institution=institution)

    result = import_file(
        tmp_path, "enrolments", ENROLMENT_COLUMNS, [enrolment_row(patient.resident_id, **overrides)]
    )

    assert (result.code, result.err_lines) == (1, [f"row 2: {line}"])
    assert DiabetesEnrollment.objects.count() == 0


def test_decimals_keep_their_value_and_drop_trailing_zeros(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    row = enrolment_row(patient.resident_id, baseline_fbg="007.50", baseline_hba1c="999.9")

    result = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, [row])

    assert result.code == 0
    assert DiabetesEnrollment.objects.values_list("baseline_fbg", "baseline_hba1c").get() == (
        Decimal("7.5"),
        Decimal("999.9"),
    )


def test_an_enrolment_overlapping_another_row_of_the_file_is_a_bad_row(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    other = PatientFactory(home_institution=institution)
    rows = [
        enrolment_row(patient.resident_id, enrolled_on="2024-01-01", ended_on="2024-12-31"),
        enrolment_row(other.resident_id, enrolled_on="2024-06-01"),
        enrolment_row(patient.resident_id, enrolled_on="2024-12-31"),
    ]

    result = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows)

    assert result.err_lines == ["row 4: enrolled_on: overlaps the enrolment in row 2"]
    assert DiabetesEnrollment.objects.count() == 0


def test_an_enrolment_overlapping_a_recorded_one_is_a_bad_row(
    tmp_path: Path, institution: Institution
) -> None:
    patient = PatientFactory(home_institution=institution)
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=dt.date(2024, 1, 1), ended_on=None)
    ended = PatientFactory(home_institution=institution)
    DiabetesEnrollmentFactory(
        patient=ended, enrolled_on=dt.date(2023, 1, 1), ended_on=dt.date(2023, 12, 31)
    )
    rows = [
        enrolment_row(patient.resident_id, enrolled_on="2025-01-01"),
        enrolment_row(ended.resident_id, enrolled_on="2023-06-01", ended_on="2023-07-01"),
        enrolment_row(ended.resident_id, enrolled_on="2024-01-01"),
    ]

    result = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows)

    assert result.err_lines == [
        "row 2: enrolled_on: overlaps the recorded enrolment from 2024-01-01 with no end date",
        "row 3: enrolled_on: overlaps the recorded enrolment from 2023-01-01 to 2023-12-31",
    ]
    assert DiabetesEnrollment.objects.count() == 2


def test_a_rejected_update_keeps_its_recorded_enrolment_in_the_overlap_check(
    tmp_path: Path, institution: Institution
) -> None:
    """Row 3 would end the recorded enrolment on 2024-06-30 but is bad, so the recorded one
    stays open-ended and row 2, starting 2024-07-01, would overlap it."""
    patient = PatientFactory(home_institution=institution)
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=dt.date(2024, 1, 1), ended_on=None)
    rows = [
        enrolment_row(patient.resident_id, enrolled_on="2024-07-01"),
        enrolment_row(
            patient.resident_id, enrolled_on="2024-01-01", ended_on="2024-06-30", diabetes_type="X"
        ),
    ]

    result = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows, "--partial")

    assert result.err_lines == [
        "row 2: enrolled_on: overlaps the recorded enrolment from 2024-01-01 with no end date",
        "row 3: diabetes_type: must be one of: T1, T2, other",
    ]
    assert result.out == "imported 0 enrolments\n"
    assert list(DiabetesEnrollment.objects.values_list("enrolled_on", "ended_on")) == [
        (dt.date(2024, 1, 1), None)
    ]


def test_shortening_a_recorded_enrolment_makes_room_for_the_next_in_the_same_file(
    tmp_path: Path, institution: Institution
) -> None:
    """The database checks one enrolment a day row by row, so the write must shorten first."""
    patient = PatientFactory(home_institution=institution)
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=dt.date(2024, 1, 1), ended_on=None)
    rows = [
        enrolment_row(patient.resident_id, enrolled_on="2024-07-01"),
        enrolment_row(patient.resident_id, enrolled_on="2024-01-01", ended_on="2024-06-30"),
    ]

    result = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows)

    assert (result.code, result.err) == (0, "")
    assert list(
        DiabetesEnrollment.objects.order_by("enrolled_on").values_list("enrolled_on", "ended_on")
    ) == [(dt.date(2024, 1, 1), dt.date(2024, 6, 30)), (dt.date(2024, 7, 1), None)]


def test_a_contract_overlapping_another_row_or_a_recorded_one_is_a_bad_row(
    tmp_path: Path, institution: Institution
) -> None:
    """One family-doctor contract at a time, at any institution (migration 0004)."""
    InstitutionFactory(code="HP001", district=district("120101"))
    moving = PatientFactory(home_institution=institution)
    recorded = PatientFactory(home_institution=institution)
    FamilyDoctorContract.objects.create(
        patient=recorded, institution=institution, signed_on=dt.date(2024, 1, 1)
    )
    rows = [
        contract_row(moving.resident_id, signed_on="2024-01-01", ended_on="2024-06-30"),
        contract_row(moving.resident_id, institution_code="HP001", signed_on="2024-06-30"),
        contract_row(recorded.resident_id, institution_code="HP001", signed_on="2025-03-01"),
    ]

    result = import_file(tmp_path, "contracts", CONTRACT_COLUMNS, rows)

    assert result.err_lines == [
        "row 3: signed_on: overlaps the contract in row 2",
        "row 4: signed_on: overlaps the recorded contract from 2024-01-01 with no end date",
    ]
    assert FamilyDoctorContract.objects.count() == 1


def test_ending_a_contract_and_signing_at_another_institution_in_one_file(
    tmp_path: Path, institution: Institution
) -> None:
    """A move: the recorded contract is ended and the next one starts the day after."""
    other = InstitutionFactory(code="HP001", district=district("120101"))
    patient = PatientFactory(home_institution=institution)
    FamilyDoctorContract.objects.create(
        patient=patient, institution=institution, signed_on=dt.date(2024, 1, 1)
    )
    rows = [
        contract_row(patient.resident_id, institution_code="HP001", signed_on="2025-07-01"),
        contract_row(patient.resident_id, signed_on="2024-01-01", ended_on="2025-06-30"),
    ]

    result = import_file(tmp_path, "contracts", CONTRACT_COLUMNS, rows)

    assert (result.code, result.err) == (0, "")
    assert list(
        FamilyDoctorContract.objects.order_by("signed_on").values_list(
            "institution_id", "signed_on", "ended_on"
        )
    ) == [
        (institution.pk, dt.date(2024, 1, 1), dt.date(2025, 6, 30)),
        (other.pk, dt.date(2025, 7, 1), None),
    ]


def test_the_database_refusing_rows_writes_nothing_and_says_so_in_one_line(
    tmp_path: Path, institution: Institution, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation is the first line; the database's one-enrolment-a-day rule is the last."""
    from cloud_management.imports.registry_kinds import EnrolmentKind

    monkeypatch.setattr(EnrolmentKind, "check_records", lambda self, records: None)
    patient = PatientFactory(home_institution=institution)
    rows = [
        enrolment_row(patient.resident_id, enrolled_on="2024-01-01"),
        enrolment_row(patient.resident_id, enrolled_on="2024-07-01"),
    ]

    result = import_file(tmp_path, "enrolments", ENROLMENT_COLUMNS, rows)

    assert (result.code, result.out, result.err) == (1, "", "")
    assert result.message.startswith("The database refused the import, nothing was written: ")
    assert "\n" not in result.message
    assert "enrolment_no_overlapping_days" in result.message
    assert not WHOLE_RESIDENT_ID.search(result.message)
    assert DiabetesEnrollment.objects.count() == 0


# -- all or nothing, --partial -----------------------------------------------------------------


def test_a_csv_with_one_bad_row_among_10000_writes_nothing_and_names_the_row_and_field(
    tmp_path: Path, institution: Institution
) -> None:
    rows = [patient_row(n) for n in range(10_000)]
    rows[5_000]["resident_id"] = bad_checksum(str(rows[5_000]["resident_id"]))

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, rows)

    assert (result.code, result.out) == (1, "")
    assert result.err_lines == ["row 5002: resident_id: checksum does not verify"]
    assert result.message == "1 of 10000 rows is bad; nothing was imported."
    assert Patient.objects.count() == 0


def test_partial_writes_the_good_rows_and_reports_the_bad_ones(
    tmp_path: Path, institution: Institution
) -> None:
    rows = [patient_row(n) for n in range(10)]
    rows[2]["sex"] = "?"
    rows[7]["home_institution_code"] = "NK404"

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, rows, "--partial")

    assert (result.code, result.out) == (1, "imported 8 patients\n")
    assert result.err_lines == [
        "row 4: sex: must be one of: M, F",
        "row 9: home_institution_code: no institution has this code",
    ]
    assert result.message == "2 bad rows were not imported."
    assert set(Patient.objects.values_list("resident_id", flat=True)) == {
        rows[n]["resident_id"] for n in range(10) if n not in {2, 7}
    }


def test_partial_with_no_bad_row_exits_zero(tmp_path: Path, institution: Institution) -> None:
    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, [patient_row(1)], "--partial")

    assert (result.code, result.out, result.err) == (0, "imported 1 patients\n", "")


# -- resident IDs are never shown whole --------------------------------------------------------


def test_no_output_line_shows_a_whole_resident_id(tmp_path: Path, institution: Institution) -> None:
    patient = PatientFactory(home_institution=institution)
    rows = [patient_row(n) for n in range(4)]
    rows[1]["sex"] = "F" if rows[1]["sex"] == "M" else "M"
    rows[2] = patient_row(0)
    rows[3]["resident_id"] = bad_checksum(str(rows[3]["resident_id"]))
    outputs = [
        import_file(tmp_path, "patients", PATIENT_COLUMNS, rows, "--partial"),
        import_file(
            tmp_path,
            "contracts",
            CONTRACT_COLUMNS,
            [contract_row(patient.resident_id), contract_row(str(patient_row(99)["resident_id"]))],
        ),
        # A file without a header: its first row, full of IDs, is not echoed.
        run("patients", str(_headerless(tmp_path, patient_row(5)))),
        # A file named after a resident.
        run("patients", str(tmp_path / f"{patient.resident_id}.csv")),
    ]

    text = "\n".join(f"{o.out}\n{o.err}\n{o.message}" for o in outputs)
    assert "row 3: sex: does not agree with the resident ID" in text
    assert f"{patient.resident_id[:6]}**********{patient.resident_id[-2:]}.csv" in text
    assert not WHOLE_RESIDENT_ID.search(text), text


def _headerless(tmp_path: Path, row: dict) -> Path:
    path = tmp_path / "headerless.csv"
    path.write_text(",".join(str(row[c]) for c in PATIENT_COLUMNS) + "\n", encoding="utf-8")
    return path


def test_lower_case_x_check_characters_are_stored_upper_case(
    tmp_path: Path, institution: Institution
) -> None:
    n = next(n for n in range(1000) if str(patient_row(n)["resident_id"]).endswith("X"))
    row = patient_row(n)
    row["resident_id"] = str(row["resident_id"]).lower()

    result = import_file(tmp_path, "patients", PATIENT_COLUMNS, [row])

    assert result.code == 0
    assert Patient.objects.get().resident_id == str(row["resident_id"]).upper()


def test_import_runs_in_the_default_write_path_for_the_database() -> None:
    from cloud_management.imports.service import _resolve_write_path

    expected = "fast" if connection.vendor == "postgresql" else "portable"
    assert _resolve_write_path("auto", connection.vendor) == expected
