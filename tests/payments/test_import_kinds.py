"""``import_records schemes`` and ``import_records claims`` (CONTRACTS §1-2), on SQLite and on
PostgreSQL; on PostgreSQL the COPY path (and its bulk load) and the portable path give the same
rows."""

import datetime as dt
import io
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import translation

from cloud_management.identifiers import make_resident_id
from cloud_management.imports import writers
from cloud_management.imports.registry import get_import_kind, register_import_kind
from cloud_management.imports.service import import_records
from cloud_management.models import Institution, Patient
from payments import import_kinds
from payments.import_kinds import ClaimKind, SchemeKind, source_of_claim_id
from payments.models import ClaimLine, QualityTier, Scheme
from payments.services.claims import post_claim_line
from tests.factories.cloud_management import InstitutionFactory, PatientFactory, district
from tests.factories.csv_files import bad_checksum, write_csv

D = Decimal
SCHEME_COLUMNS = [
    "code",
    "name",
    "kind",
    "year",
    "annual_rate",
    "diagnosis_prefixes",
    "categories",
]
CLAIM_COLUMNS = [
    "claim_id",
    "resident_id",
    "institution_code",
    "service_date",
    "category",
    "diagnosis_code",
    "total_amount",
    "fund_paid",
]


@pytest.fixture(autouse=True)
def _english() -> object:
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


class Result:
    def __init__(self, code: int, out: str, err: str, message: str = "") -> None:
        self.code = code
        self.out = out
        self.err_lines = err.splitlines()
        self.message = message


def run(kind: str, path: Path, *flags: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_records", kind, str(path), *flags, stdout=out, stderr=err)
    except CommandError as exc:
        return Result(exc.returncode, out.getvalue(), err.getvalue(), str(exc))
    return Result(0, out.getvalue(), err.getvalue())


def scheme_row(code: str = "DM2025", **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "code": code,
        "name": "糖尿病门特按病种付费",
        "kind": "per_disease",
        "year": "2025",
        "annual_rate": "1200.00",
        "diagnosis_prefixes": "E10;E11",
        "categories": "outpatient;pharmacy",
    }
    row.update(overrides)
    return row


@pytest.fixture
def world(db: object) -> dict[str, object]:
    nk = InstitutionFactory(code="NK001", district=district("120104"))
    hp = InstitutionFactory(code="HP001", district=district("120101"))
    patients = [PatientFactory(home_institution=nk) for _ in range(3)]
    return {"nk": nk, "hp": hp, "patients": patients}


def claim_row(patient: Patient, claim_id: str = "YB0001", **overrides: object) -> dict:
    row: dict[str, object] = {
        "claim_id": claim_id,
        "resident_id": patient.resident_id,
        "institution_code": "NK001",
        "service_date": "2025-03-01",
        "category": "pharmacy",
        "diagnosis_code": "E11.9",
        "total_amount": "100.00",
        "fund_paid": "80.00",
    }
    row.update(overrides)
    return row


def claims_snapshot() -> list[tuple]:
    return sorted(
        ClaimLine.objects.values_list(
            "claim_id",
            "patient__resident_id",
            "institution__code",
            "service_date",
            "category",
            "diagnosis_code",
            "total_amount",
            "fund_paid",
            "source",
            "source_ref",
        )
    )


def schemes_snapshot() -> list[tuple]:
    schemes = sorted(
        Scheme.objects.values_list(
            "code", "name", "kind", "year", "annual_rate", "diagnosis_prefixes", "categories"
        )
    )
    tiers = sorted(QualityTier.objects.values_list("scheme__code", "min_score", "retention_ratio"))
    return [*schemes, *tiers]


# -- registration -----------------------------------------------------------------------------


def test_the_kinds_are_registered_once_and_registering_again_changes_nothing() -> None:
    assert get_import_kind("schemes") is SchemeKind
    assert get_import_kind("claims") is ClaimKind
    register_import_kind(SchemeKind)
    register_import_kind(ClaimKind)
    assert get_import_kind("claims") is ClaimKind


def test_the_columns_are_those_of_the_contract() -> None:
    assert [(c.name, c.required) for c in SchemeKind.columns] == [
        ("code", True),
        ("name", True),
        ("kind", True),
        ("year", True),
        ("annual_rate", True),
        ("diagnosis_prefixes", False),
        ("categories", True),
    ]
    assert [c.name for c in ClaimKind.columns] == CLAIM_COLUMNS
    assert all(c.required for c in ClaimKind.columns)


# -- schemes ----------------------------------------------------------------------------------


def test_a_new_scheme_gets_the_default_tiers_and_a_reimport_updates_it_keeping_its_tiers(
    tmp_path: Path, db: object
) -> None:
    path = write_csv(
        tmp_path / "schemes.csv",
        SCHEME_COLUMNS,
        [
            scheme_row(diagnosis_prefixes=" E10 ; E11;E10", categories="pharmacy;outpatient;"),
            scheme_row(
                "FD2025",
                name="家庭医生签约按人头付费",
                kind="per_capita",
                annual_rate="300",
                diagnosis_prefixes="",
                categories="outpatient",
            ),
        ],
    )

    first = run("schemes", path)

    assert (first.code, first.out, first.err_lines) == (0, "imported 2 schemes\n", [])
    assert schemes_snapshot() == [
        ("DM2025", "糖尿病门特按病种付费", "per_disease", 2025, D("1200.00"), "E10;E11",
         "pharmacy;outpatient"),
        ("FD2025", "家庭医生签约按人头付费", "per_capita", 2025, D("300.00"), "", "outpatient"),
        ("DM2025", D("60.00"), D("0.50")),
        ("DM2025", D("80.00"), D("0.80")),
        ("DM2025", D("90.00"), D("1.00")),
        ("FD2025", D("60.00"), D("0.50")),
        ("FD2025", D("80.00"), D("0.80")),
        ("FD2025", D("90.00"), D("1.00")),
    ]  # fmt: skip
    # An operator changes DM2025's tiers in the admin; the next file changes its rate.
    dm = Scheme.objects.get(code="DM2025")
    dm.tiers.all().delete()
    QualityTier.objects.create(scheme=dm, min_score=D("70"), retention_ratio=D("0.60"))
    write_csv(
        path,
        SCHEME_COLUMNS,
        [scheme_row(name="糖尿病门特", annual_rate="1300.50", categories="outpatient")],
    )

    again = run("schemes", path)

    assert (again.code, again.out) == (0, "imported 1 schemes\n")
    assert Scheme.objects.count() == 2
    assert schemes_snapshot()[0] == (
        "DM2025", "糖尿病门特", "per_disease", 2025, D("1300.50"), "E10;E11", "outpatient",
    )  # fmt: skip
    assert list(dm.tiers.values_list("min_score", "retention_ratio")) == [(D("70.00"), D("0.60"))]


def test_the_optional_prefix_column_may_be_left_out(tmp_path: Path, db: object) -> None:
    columns = [c for c in SCHEME_COLUMNS if c != "diagnosis_prefixes"]
    path = write_csv(tmp_path / "schemes.csv", columns, [scheme_row(kind="per_capita")])

    result = run("schemes", path)

    assert result.code == 0
    assert Scheme.objects.get().diagnosis_prefixes == ""


def test_every_bad_scheme_row_is_reported_and_nothing_is_written(
    tmp_path: Path, db: object
) -> None:
    path = write_csv(
        tmp_path / "schemes.csv",
        SCHEME_COLUMNS,
        [
            scheme_row("OK2025"),
            scheme_row("S 1", kind="per_head", year="1999"),
            scheme_row("S2", year="2025.0", annual_rate="-5", diagnosis_prefixes="e11;E11"),
            scheme_row("S3", annual_rate="12.345", categories="outpatient;dental"),
            scheme_row("S4", name="", categories=""),
            scheme_row("OK2025", annual_rate="1000000000000"),
        ],
    )

    result = run("schemes", path)

    assert result.code == 1
    assert result.out == ""
    assert result.err_lines == [
        "row 3: code: must be printable ASCII without spaces; kind: must be one of: "
        "per_disease, per_capita; year: must be at least 2000",
        "row 4: year: must be a whole number; annual_rate: must not be negative; "
        "diagnosis_prefixes: not an ICD-10 prefix: e11",
        "row 5: annual_rate: must have at most 2 decimal places; categories: must be "
        ";-separated categories out of: outpatient, inpatient, pharmacy, exam, home_service",
        "row 6: name: must not be empty; categories: must not be empty",
        "row 7: code: duplicates row 2 (same code); annual_rate: must be less than 10000000000",
    ]
    assert result.message == "5 of 6 rows are bad; nothing was imported."
    assert Scheme.objects.count() == 0
    assert QualityTier.objects.count() == 0


def test_partial_scheme_import_writes_the_good_rows_with_their_tiers(
    tmp_path: Path, db: object
) -> None:
    path = write_csv(
        tmp_path / "schemes.csv",
        SCHEME_COLUMNS,
        [scheme_row("A2025"), scheme_row("B2025", year="20x5")],
    )

    result = run("schemes", path, "--partial")

    assert (result.code, result.out) == (1, "imported 1 schemes\n")
    assert result.err_lines == ["row 3: year: must be a whole number"]
    assert list(Scheme.objects.values_list("code", flat=True)) == ["A2025"]
    assert QualityTier.objects.filter(scheme__code="A2025").count() == 3


# -- claims -----------------------------------------------------------------------------------


def test_claims_are_imported_and_a_reimport_updates_them_without_duplicating(
    tmp_path: Path, world: dict
) -> None:
    p1, p2, _p3 = world["patients"]
    rows = [
        claim_row(p1, "YB0001"),
        claim_row(
            p2,
            "YB0002",
            institution_code="HP001",
            service_date="2024-02-29",
            category="home_service",
            diagnosis_code="E11.900x001",
            total_amount="0",
            fund_paid="0",
        ),
        claim_row(p2, "YB0003", total_amount="35.5", fund_paid="35.50", diagnosis_code="I10"),
    ]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)

    first = run("claims", path)

    assert (first.code, first.out, first.err_lines) == (0, "imported 3 claims\n", [])
    assert claims_snapshot() == [
        ("YB0001", p1.resident_id, "NK001", dt.date(2025, 3, 1), "pharmacy", "E11.9",
         D("100.00"), D("80.00"), "insurance", "YB0001"),
        ("YB0002", p2.resident_id, "HP001", dt.date(2024, 2, 29), "home_service",
         "E11.900x001", D("0.00"), D("0.00"), "insurance", "YB0002"),
        ("YB0003", p2.resident_id, "NK001", dt.date(2025, 3, 1), "pharmacy", "I10",
         D("35.50"), D("35.50"), "insurance", "YB0003"),
    ]  # fmt: skip
    ids_before = dict(ClaimLine.objects.values_list("claim_id", "id"))
    # The insurance system corrects YB0001 and adds YB0004.
    rows[0] = claim_row(p1, "YB0001", total_amount="120.00", fund_paid="90.10", category="exam")
    rows.append(claim_row(p1, "YB0004"))
    write_csv(path, CLAIM_COLUMNS, rows)

    again = run("claims", path)

    assert (again.code, again.out) == (0, "imported 4 claims\n")
    assert ClaimLine.objects.count() == 4
    line = ClaimLine.objects.get(claim_id="YB0001")
    assert (line.id, line.category, line.total_amount, line.fund_paid) == (
        ids_before["YB0001"],
        "exam",
        D("120.00"),
        D("90.10"),
    )


def test_every_bad_claim_row_is_reported_by_row_and_field_and_nothing_is_written(
    tmp_path: Path, world: dict
) -> None:
    p1, p2, _p3 = world["patients"]
    unregistered = make_resident_id("120104", dt.date(1980, 1, 1), 7, "M")
    rows = [
        claim_row(p1, "YB0001"),
        claim_row(p1, "YB0002", fund_paid="100.01"),
        claim_row(p1, "YB0003", total_amount="-1", fund_paid="-0.5"),
        claim_row(p1, "YB0004", resident_id=bad_checksum(p1.resident_id)),
        claim_row(p1, "YB0005", resident_id=unregistered, institution_code="XX999"),
        claim_row(p1, "YB0006", service_date="2025-02-30", category="dental"),
        claim_row(p1, "YB0007", service_date="01/03/2025", diagnosis_code="diabetes"),
        claim_row(p1, "YB0001", fund_paid="1"),
        claim_row(p2, "", diagnosis_code="", total_amount="1e3", fund_paid=""),
        claim_row(p2, "YB0010", total_amount="10.001", fund_paid="10000000000"),
    ]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)

    result = run("claims", path)

    assert result.code == 1
    assert result.out == ""
    assert result.err_lines == [
        "row 3: fund_paid: must not be more than total_amount",
        "row 4: total_amount: must not be negative; fund_paid: must not be negative",
        "row 5: resident_id: checksum does not verify",
        "row 6: resident_id: no resident is registered with this ID; "
        "institution_code: no institution has this code",
        "row 7: service_date: is not a valid date; category: must be one of: outpatient, "
        "inpatient, pharmacy, exam, home_service",
        "row 8: service_date: must be a date as YYYY-MM-DD; "
        "diagnosis_code: must be an ICD-10 code such as E11.9",
        "row 9: claim_id: duplicates row 2 (same claim_id)",
        "row 10: claim_id: must not be empty; diagnosis_code: must not be empty; "
        "total_amount: must be a number such as 7.5; fund_paid: must not be empty",
        "row 11: total_amount: must have at most 2 decimal places; "
        "fund_paid: must be less than 10000000000",
    ]
    assert result.message == "9 of 10 rows are bad; nothing was imported."
    assert ClaimLine.objects.count() == 0


def test_partial_claims_import_writes_the_good_rows_and_still_fails(
    tmp_path: Path, world: dict
) -> None:
    p1, _p2, _p3 = world["patients"]
    rows = [
        claim_row(p1, "YB0001"),
        claim_row(p1, "YB0002", fund_paid="100.01"),
        claim_row(p1, "YB0003"),
    ]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)

    result = run("claims", path, "--partial")

    assert (result.code, result.out) == (1, "imported 2 claims\n")
    assert result.err_lines == ["row 3: fund_paid: must not be more than total_amount"]
    assert result.message == "1 bad row was not imported."
    assert sorted(ClaimLine.objects.values_list("claim_id", flat=True)) == ["YB0001", "YB0003"]


def test_a_cloud_claim_id_is_that_clouds_charge_and_keeps_its_origin(
    tmp_path: Path, world: dict
) -> None:
    p1, _p2, _p3 = world["patients"]
    nk = world["nk"]
    posted = post_claim_line(
        source="cloud_exams",
        source_ref="ORD-1",
        patient=p1,
        institution=nk,
        service_date=dt.date(2025, 3, 2),
        category="exam",
        diagnosis_code="E11.9",
        total_amount=D("50.00"),
        fund_paid=D("40.00"),
    )
    rows = [
        # The insurance system's file settles the exam at a different amount ...
        claim_row(p1, "cloud_exams:ORD-1", category="exam", total_amount="50", fund_paid="45"),
        # ... and names a pharmacy charge the cloud has not posted yet.
        claim_row(p1, "cloud_pharmacy:RX-9"),
    ]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)

    result = run("claims", path)

    assert result.code == 0
    posted.refresh_from_db()
    assert (posted.source, posted.source_ref, posted.fund_paid) == (
        "cloud_exams",
        "ORD-1",
        D("45.00"),
    )
    pending = ClaimLine.objects.get(claim_id="cloud_pharmacy:RX-9")
    assert (pending.source, pending.source_ref) == ("cloud_pharmacy", "RX-9")
    # The pharmacy posting it later finds the same line.
    again = post_claim_line(
        source="cloud_pharmacy",
        source_ref="RX-9",
        patient=p1,
        institution=nk,
        service_date=dt.date(2025, 3, 1),
        category="pharmacy",
        diagnosis_code="E11.9",
        total_amount=D("100.00"),
        fund_paid=D("70.00"),
    )
    assert again.pk == pending.pk
    assert ClaimLine.objects.count() == 2


def test_the_origin_of_a_claim_id() -> None:
    sources = frozenset(ClaimLine.Source.values)
    assert source_of_claim_id("YB0001", sources) == ("insurance", "YB0001")
    assert source_of_claim_id("cloud_services:B-3", sources) == ("cloud_services", "B-3")
    assert source_of_claim_id("insurance:YB1", sources) == ("insurance", "YB1")
    assert source_of_claim_id("HIS:42", sources) == ("insurance", "HIS:42")
    assert source_of_claim_id("cloud_exams:", sources) == ("insurance", "cloud_exams:")


def test_two_ids_of_one_charge_are_bad_rows_in_a_file_and_against_the_ledger(
    tmp_path: Path, world: dict
) -> None:
    p1, _p2, _p3 = world["patients"]
    post_claim_line(
        source="insurance",
        source_ref="YB0100",
        patient=p1,
        institution=world["nk"],
        service_date=dt.date(2025, 3, 2),
        category="exam",
        diagnosis_code="E11.9",
        total_amount=D("50.00"),
        fund_paid=D("40.00"),
    )
    rows = [
        claim_row(p1, "YB0001"),
        claim_row(p1, "insurance:YB0001"),
        claim_row(p1, "YB0100"),
        claim_row(p1, "insurance:YB0100"),  # the recorded line itself: an update
    ]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)

    result = run("claims", path)

    assert result.err_lines == [
        "row 3: claim_id: names the same charge as row 2",
        "row 4: claim_id: names the charge already recorded as claim insurance:YB0100",
    ]
    # Without the long forms in the file, the short form still clashes with the ledger.
    write_csv(path, CLAIM_COLUMNS, [claim_row(p1, "YB0100")])

    alone = run("claims", path)

    assert alone.err_lines == [
        "row 2: claim_id: names the charge already recorded as claim insurance:YB0100"
    ]
    assert ClaimLine.objects.count() == 1


def test_claims_import_writes_nothing_when_the_header_is_wrong(tmp_path: Path, world: dict) -> None:
    p1, _p2, _p3 = world["patients"]
    path = write_csv(
        tmp_path / "claims.csv", [*CLAIM_COLUMNS, "self_paid"], [claim_row(p1, self_paid="20")]
    )

    result = run("claims", path)

    assert result.code == 1
    assert "self_paid" in result.message
    assert ClaimLine.objects.count() == 0


# -- the two write paths ----------------------------------------------------------------------


def two_rounds(tmp_path: Path, patients: list[Patient]) -> list[tuple[str, Path]]:
    p1, p2, p3 = patients
    return [
        (
            "schemes",
            write_csv(
                tmp_path / "1-schemes.csv",
                SCHEME_COLUMNS,
                [scheme_row(), scheme_row("FD2025", kind="per_capita", diagnosis_prefixes="")],
            ),
        ),
        (
            "claims",
            write_csv(
                tmp_path / "1-claims.csv",
                CLAIM_COLUMNS,
                [
                    claim_row(p, f"YB{n:04d}", fund_paid=f"{n}.25", total_amount="99.99")
                    for n, p in enumerate([p1, p2, p3] * 4)
                ]
                + [claim_row(p1, "cloud_services:B-1", category="home_service")],
            ),
        ),
        (
            "schemes",
            write_csv(
                tmp_path / "2-schemes.csv",
                SCHEME_COLUMNS,
                [scheme_row(annual_rate="1250"), scheme_row("DM2026", year="2026")],
            ),
        ),
        (
            "claims",
            write_csv(
                tmp_path / "2-claims.csv",
                CLAIM_COLUMNS,
                [
                    claim_row(p2, f"YB{n:04d}", institution_code="HP001", fund_paid="1")
                    for n in range(6, 20)
                ],
            ),
        ),
    ]


def load(files: list[tuple[str, Path]], write_path: str) -> list[tuple]:
    for kind, path in files:
        outcome = import_records(kind=kind, path=path, write_path=write_path)  # type: ignore[arg-type]
        assert (outcome.written, outcome.bad_rows, outcome.write_path) == (True, (), write_path)
    return [*schemes_snapshot(), *claims_snapshot()]


@pytest.mark.postgres
def test_the_copy_path_and_the_portable_path_give_the_same_rows(
    tmp_path: Path, world: dict
) -> None:
    files = two_rounds(tmp_path, world["patients"])
    with transaction.atomic():
        fast = load(files, "fast")
        transaction.set_rollback(True)
    assert ClaimLine.objects.count() == 0

    portable = load(files, "portable")

    assert fast == portable
    # 3 schemes with 3 tiers each, 13 + 8 claim lines.
    assert len(fast) == 3 + 9 + 21


@pytest.mark.postgres
# serialized_rollback: the tables the migrations fill (districts, schedules, content types) are
# restored for the tests that follow.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bulk_load_gives_the_same_rows_and_restores_the_ledgers_constraints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nk = InstitutionFactory(code="NK001", district=district("120104"))
    InstitutionFactory(code="HP001", district=district("120101"))
    patients = [PatientFactory(home_institution=nk) for _ in range(3)]
    files = two_rounds(tmp_path, patients)

    def ledger_schema() -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s
                   UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid = %s::regclass ORDER BY 1, 2""",
                [ClaimLine._meta.db_table, ClaimLine._meta.db_table],
            )
            return cursor.fetchall()

    before = ledger_schema()
    monkeypatch.setattr(writers, "BULK_LOAD_MIN_ROWS", 2)
    monkeypatch.setattr(writers, "_estimated_rows", _exact_row_count)
    bulk_tables: list[str] = []
    deferred = writers._secondary_structures_deferred

    def spy(cursor: object, table: str, key_columns: list[str]) -> object:
        bulk_tables.append(table)
        return deferred(cursor, table, key_columns)

    monkeypatch.setattr(writers, "_secondary_structures_deferred", spy)
    try:
        bulk = load(files, "fast")
        after = ledger_schema()
    finally:
        ClaimLine.objects.all().delete()
        Scheme.objects.all().delete()

    portable = load(files, "portable")

    assert bulk == portable
    assert after == before
    assert ClaimLine._meta.db_table in bulk_tables
    ClaimLine.objects.all().delete()
    Scheme.objects.all().delete()
    Patient.objects.all().delete()
    Institution.objects.all().delete()


@pytest.mark.postgres
def test_a_clean_claims_file_is_loaded_in_one_statement_and_a_bad_one_row_by_row(
    tmp_path: Path, world: dict
) -> None:
    p1, p2, _p3 = world["patients"]
    path = write_csv(
        tmp_path / "claims.csv",
        CLAIM_COLUMNS,
        [claim_row(p1, "YB0001"), claim_row(p2, "cloud_exams:E-1", category="exam")],
    )

    clean = import_records(kind="claims", path=path, write_path="fast")

    assert (clean.imported, clean.bad_rows, list(clean.seconds)) == (2, (), ["load"])
    write_csv(
        path,
        CLAIM_COLUMNS,
        [claim_row(p1, "YB0001", fund_paid="50"), claim_row(p2, "YB0002", fund_paid="100.01")],
    )

    bad = import_records(kind="claims", path=path, write_path="fast")

    assert (bad.written, bad.error_lines()) == (
        False,
        ["row 3: fund_paid: must not be more than total_amount"],
    )
    assert "load" not in bad.seconds
    assert ClaimLine.objects.get(claim_id="YB0001").fund_paid == D("80.00")


@pytest.mark.postgres
def test_cells_the_database_reads_differently_give_the_same_rows_on_both_paths(
    tmp_path: Path, world: dict
) -> None:
    """Cells the row-by-row path normalises (blanks around a value, a lower-case check
    character, trailing zeros, a blank line) are either loaded in the database with the same
    result or sent the row-by-row way."""
    nk = world["nk"]
    # The first serial whose ID ends in the check character X.
    x_id = next(
        rid
        for serial in range(100)
        if (rid := make_resident_id("120104", dt.date(1950, 1, 3), serial, "M")).endswith("X")
    )
    x_patient = PatientFactory(home_institution=nk, resident_id=x_id)
    p1 = world["patients"][0]
    files = {
        "spaces": [claim_row(p1, " YB0001 ", total_amount=" 10.5", fund_paid="10.50 ")],
        "lower_x": [claim_row(x_patient, "YB0002", resident_id=x_patient.resident_id.lower())],
        "zeros": [claim_row(p1, "YB0003", total_amount="0012.300", fund_paid="012.30")],
        "quoted": [claim_row(p1, 'YB"4', diagnosis_code="E11.9")],
    }
    results = {}
    for write_path in ("fast", "portable"):
        with transaction.atomic():
            for name, rows in files.items():
                path = write_csv(tmp_path / f"{name}.csv", CLAIM_COLUMNS, rows)
                outcome = import_records(kind="claims", path=path, write_path=write_path)
                assert (outcome.written, outcome.bad_rows) == (True, ())
            blank = tmp_path / "blank.csv"
            blank.write_text(
                write_csv(tmp_path / "b.csv", CLAIM_COLUMNS, [claim_row(p1, "YB0005")])
                .read_text()
                .replace("\n", "\n\n", 1),
                encoding="utf-8",
            )
            outcome = import_records(kind="claims", path=blank, write_path=write_path)
            assert (outcome.written, outcome.imported) == (True, 1)
            results[write_path] = claims_snapshot()
            transaction.set_rollback(True)

    assert results["fast"] == results["portable"]
    assert [row[0] for row in results["fast"]] == ['YB"4', "YB0001", "YB0002", "YB0003", "YB0005"]
    assert results["fast"][3][6:8] == (D("12.30"), D("12.30"))


def _exact_row_count(cursor: object, table: str) -> int:
    """The table's true size: PostgreSQL's estimate (pg_class.reltuples) keeps the size of an
    earlier test's rows after they are gone, which would make the bulk-load rule depend on the
    order the tests run in."""
    cursor.execute(f'SELECT count(*) FROM "{table}"')  # type: ignore[attr-defined]
    return cursor.fetchone()[0]  # type: ignore[attr-defined]


@pytest.mark.postgres
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "new"])
def test_a_claim_id_twice_in_a_file_is_reported_the_same_way_on_both_paths(
    tmp_path: Path, world: dict, recorded: bool
) -> None:
    """The load writes lines already in the ledger by ``UPDATE ... FROM``, which would take one
    of two lines with the same ID silently: such a file must go the row-by-row way."""
    p1, p2, _p3 = world["patients"]
    if recorded:
        first = write_csv(tmp_path / "first.csv", CLAIM_COLUMNS, [claim_row(p1, "YB0001")])
        assert import_records(kind="claims", path=first, write_path="fast").written
    before = claims_snapshot()
    path = write_csv(
        tmp_path / "claims.csv",
        CLAIM_COLUMNS,
        [claim_row(p1, "YB0001", fund_paid="10"), claim_row(p2, "YB0001", fund_paid="20")],
    )
    outcomes = {
        write_path: import_records(kind="claims", path=path, write_path=write_path)
        for write_path in ("fast", "portable")
    }

    fast, portable = outcomes["fast"], outcomes["portable"]
    assert (fast.written, "load" in fast.seconds) == (False, False)
    assert fast.error_lines() == portable.error_lines() != []
    assert claims_snapshot() == before


# -- the load checked in Python (PostgreSQL) ----------------------------------------------------


@pytest.mark.postgres
def test_cells_the_python_checks_take_give_the_same_rows_as_the_row_by_row_path(
    tmp_path: Path, world: dict
) -> None:
    """Files the load checks in Python and writes in one go (no row-by-row fallback), with
    the values the row-by-row path writes: another column order, quoted cells, CRLF line
    ends, a backslash, digits that are not ASCII, amounts with zeros that do not count."""
    p1, p2, _p3 = world["patients"]
    reordered = list(reversed(CLAIM_COLUMNS))
    files = {
        "reordered": (reordered, [claim_row(p1, "YB0001"), claim_row(p2, "YB0002")]),
        "quoted": (CLAIM_COLUMNS, [claim_row(p1, "YB,3", diagnosis_code="I10")]),
        "backslash": (CLAIM_COLUMNS, [claim_row(p1, "YB\\4"), claim_row(p2, "cloud_exams:\\5")]),
        "digits": (
            CLAIM_COLUMNS,
            [claim_row(p1, "YB0006", total_amount="１２０", fund_paid="9.5")],
        ),
        "zeros": (CLAIM_COLUMNS, [claim_row(p2, "YB0007", total_amount="007.10", fund_paid="0")]),
    }
    results = {}
    for write_path in ("fast", "portable"):
        with transaction.atomic():
            for name, (columns, rows) in files.items():
                path = write_csv(tmp_path / f"{name}.csv", columns, rows)
                outcome = import_records(kind="claims", path=path, write_path=write_path)
                assert (outcome.written, outcome.bad_rows) == (True, ())
                if write_path == "fast":
                    assert list(outcome.seconds) == ["load"], name
            crlf = tmp_path / "crlf.csv"
            crlf.write_bytes(
                write_csv(tmp_path / "c.csv", CLAIM_COLUMNS, [claim_row(p1, "YB0008")])
                .read_bytes()
                .replace(b"\n", b"\r\n")
            )
            outcome = import_records(kind="claims", path=crlf, write_path=write_path)
            assert (outcome.written, outcome.imported) == (True, 1)
            results[write_path] = claims_snapshot()
            transaction.set_rollback(True)

    assert results["fast"] == results["portable"]
    by_id = {row[0]: row for row in results["fast"]}
    assert by_id["YB\\4"][8:] == ("insurance", "YB\\4")
    assert by_id["cloud_exams:\\5"][8:] == ("cloud_exams", "\\5")
    assert by_id["YB0006"][6:8] == (D("120.00"), D("9.50"))
    assert by_id["YB0007"][6:8] == (D("7.10"), D("0.00"))


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"fund_paid": "100.01"}, "row 4: fund_paid: must not be more than total_amount"),
        ({"total_amount": "1.005"}, "row 4: total_amount: must have at most 2 decimal places"),
        ({"service_date": "2025-02-29"}, "row 4: service_date: is not a valid date"),
        ({"institution_code": "XX999"}, "row 4: institution_code: no institution has this code"),
        ({"claim_id": "YB0001"}, "row 4: claim_id: duplicates row 2 (same claim_id)"),
        ({"claim_id": "insurance:YB0001"}, "row 4: claim_id: names the same charge as row 2"),
        ({"total_amount": "1\n2"}, "row 4: total_amount: must be a number such as 7.5"),
    ],
    ids=["over_total", "places", "date", "institution", "repeated", "same_charge", "break"],
)
def test_a_bad_row_after_good_blocks_is_reported_and_nothing_is_written(
    tmp_path: Path, world: dict, monkeypatch: pytest.MonkeyPatch, overrides: dict, expected: str
) -> None:
    """The load checks and COPYs a block of rows at a time; a bad row in a later block (or
    one the database refuses) still leaves nothing written and gets its row-by-row line."""
    monkeypatch.setattr(import_kinds, "_BLOCK_ROWS", 1)
    p1, p2, _p3 = world["patients"]
    last = {**claim_row(p1, "YB0003"), **overrides}
    rows = [claim_row(p1, "YB0001"), claim_row(p2, "YB0002"), last]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)

    outcome = import_records(kind="claims", path=path, write_path="fast")

    assert (outcome.written, outcome.error_lines()) == (False, [expected])
    assert ClaimLine.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bulk_load_copies_new_lines_and_updates_recorded_ones_as_the_row_by_row_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bulk load COPYs new lines straight into the ledger; a file whose first block is new
    but a later line is recorded is refused by the unique claim ID's rebuild and written the
    staged way; bad rows and two IDs of one charge go the row-by-row way. Every time the
    ledger keeps its indexes and constraints, and the rows are those of the portable path."""
    nk = InstitutionFactory(code="NK001", district=district("120104"))
    InstitutionFactory(code="HP001", district=district("120101"))
    p1, p2, p3 = [PatientFactory(home_institution=nk) for _ in range(3)]
    monkeypatch.setattr(writers, "BULK_LOAD_MIN_ROWS", 2)
    monkeypatch.setattr(writers, "_estimated_rows", _exact_row_count)
    monkeypatch.setattr(import_kinds, "_BLOCK_ROWS", 1)
    monkeypatch.setattr(import_kinds, "_COPY_LINES", 2)
    caplog.set_level(logging.DEBUG, logger="payments.import_kinds")
    new = write_csv(
        tmp_path / "new.csv",
        CLAIM_COLUMNS,
        [claim_row(p, f"YB{n:04d}", fund_paid=f"{n}.5") for n, p in enumerate([p1, p2, p3] * 2)],
    )
    # Twice the ledger's size; its last line is recorded, the rest is new.
    later_recorded = write_csv(
        tmp_path / "later.csv",
        CLAIM_COLUMNS,
        [claim_row(p2, f"YB{n:04d}", category="exam") for n in [*range(10, 21), 5]],
    )
    bad = write_csv(
        tmp_path / "bad.csv",
        CLAIM_COLUMNS,
        [claim_row(p1, f"YB{n:04d}") for n in range(30, 50)]
        + [claim_row(p1, "YB0050", fund_paid="100.01"), claim_row(p1, "insurance:YB0030")],
    )

    def ledger_schema() -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s
                   UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid = %s::regclass ORDER BY 1, 2""",
                [ClaimLine._meta.db_table, ClaimLine._meta.db_table],
            )
            return cursor.fetchall()

    def phases() -> str:
        return " ".join(r.getMessage() for r in caplog.records if "claims load" in r.msg)

    schema = ledger_schema()
    try:
        first = import_records(kind="claims", path=new, write_path="fast")
        assert (first.imported, list(first.seconds)) == (6, ["load"])
        assert "'copy'" in phases()
        caplog.clear()
        second = import_records(kind="claims", path=later_recorded, write_path="fast")
        assert (second.imported, list(second.seconds)) == (12, ["load"])
        assert "'claim ID recorded'" in phases()
        third = import_records(kind="claims", path=bad, write_path="fast")
        assert (third.written, third.error_lines()) == (
            False,
            [
                "row 22: fund_paid: must not be more than total_amount",
                "row 23: claim_id: names the same charge as row 2",
            ],
        )
        assert ledger_schema() == schema
        bulk = claims_snapshot()
    finally:
        ClaimLine.objects.all().delete()

    for path in (new, later_recorded):
        assert import_records(kind="claims", path=path, write_path="portable").written
    assert bulk == claims_snapshot()
    assert len(bulk) == 17
    ClaimLine.objects.all().delete()
    Patient.objects.all().delete()
    Institution.objects.all().delete()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "amount",
    ["-1", "+5", "1e2", ".5", "5.", " 5", "5 ", "1,000.00", "0.001", "99999999.99", "1" * 11, "٣"],
)
def test_odd_amounts_are_judged_alike_on_both_paths(
    tmp_path: Path, world: dict, amount: str
) -> None:
    """Money: whatever the load's own checks accept or refuse, the row-by-row path does the
    same, with the same values or the same error line."""
    p1, p2, _p3 = world["patients"]
    rows = [
        claim_row(p1, "YB0001"),
        claim_row(p2, "YB0002", total_amount=amount, fund_paid="0"),
    ]
    path = write_csv(tmp_path / "claims.csv", CLAIM_COLUMNS, rows)
    seen = {}
    for write_path in ("fast", "portable"):
        with transaction.atomic():
            outcome = import_records(kind="claims", path=path, write_path=write_path)
            seen[write_path] = (outcome.written, outcome.error_lines(), claims_snapshot())
            transaction.set_rollback(True)

    assert seen["fast"] == seen["portable"]
