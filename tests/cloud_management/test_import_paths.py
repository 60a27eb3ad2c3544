"""The two write paths of ``import_records`` give the same database contents (DESIGN.md "Two
ways to run, one code path"): the PostgreSQL COPY path, its bulk-load variant, and the portable
ORM path."""

import csv
import datetime as dt
from pathlib import Path

import pytest
from django.db import connection, transaction

from cloud_management.imports import writers
from cloud_management.imports.service import import_records
from cloud_management.models import (
    DiabetesEnrollment,
    FamilyDoctorContract,
    Institution,
    Patient,
)
from tests.factories.csv_files import (
    CONTRACT_COLUMNS,
    ENROLMENT_COLUMNS,
    INSTITUTION_COLUMNS,
    PATIENT_COLUMNS,
    contract_row,
    enrolment_row,
    institution_row,
    patient_row,
    write_csv,
)

TABLES = [
    Institution._meta.db_table,
    Patient._meta.db_table,
    FamilyDoctorContract._meta.db_table,
    DiabetesEnrollment._meta.db_table,
]


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


def two_rounds(tmp_path: Path) -> list[tuple[str, Path]]:
    """A first load, then a second file of each kind that updates, adds and shortens."""
    people = [patient_row(n, institution_code="NK001" if n % 2 else "HP001") for n in range(30)]
    for n in range(0, 30, 4):
        people[n].update(phone="", address="")
    ids = [str(p["resident_id"]) for p in people]
    files: list[tuple[str, Path]] = []

    def add(kind: str, columns: list[str], rows: list[dict], name: str) -> None:
        files.append((kind, write_csv(tmp_path / f"{name}-{kind}.csv", columns, rows)))

    # Round 1.
    add(
        "institutions",
        INSTITUTION_COLUMNS,
        [institution_row("NK001"), institution_row("HP001", district_code="120101")],
        "1",
    )
    add("patients", PATIENT_COLUMNS, people, "1")
    add(
        "contracts",
        CONTRACT_COLUMNS,
        # One contract at a time: the five residents who move in round 2 have ended ones.
        [
            contract_row(i, ended_on="2025-12-31" if n % 3 or n < 5 else "")
            for n, i in enumerate(ids)
        ],
        "1",
    )
    add(
        "enrolments",
        ENROLMENT_COLUMNS,
        [
            enrolment_row(i, baseline_fbg="" if n % 5 else "9.9", baseline_hba1c="6")
            for n, i in enumerate(ids[:20])
        ],
        "1",
    )
    # Round 2: renames, moves, a new institution, new residents, shortened enrolments and the
    # enrolments that follow them.
    add(
        "institutions",
        INSTITUTION_COLUMNS,
        [
            institution_row("NK001", name="长江道社区卫生服务中心", chronic_care_centre="false"),
            institution_row("XQ001", district_code="120111", kind="township_centre"),
        ],
        "2",
    )
    add(
        "patients",
        PATIENT_COLUMNS,
        [
            *[
                {**p, "name": f"{p['name']}改", "home_institution_code": "XQ001"}
                for p in people[:10]
            ],
            *[patient_row(n, institution_code="XQ001") for n in range(30, 40)],
        ],
        "2",
    )
    add(
        "contracts",
        CONTRACT_COLUMNS,
        [
            *[contract_row(i, institution_code="XQ001", ended_on="2026-06-30") for i in ids[:5]],
            *[contract_row(i, signed_on="2026-07-01") for i in ids[:5]],
        ],
        "2",
    )
    add(
        "enrolments",
        ENROLMENT_COLUMNS,
        [
            *[enrolment_row(i, ended_on="2025-06-30", diabetes_type="T1") for i in ids[:8]],
            *[enrolment_row(i, enrolled_on="2025-07-01", diagnosis_code="E10.9") for i in ids[:8]],
        ],
        "2",
    )
    return files


def snapshot() -> dict[str, list[tuple]]:
    """Every imported table by natural keys, without ids."""
    return {
        "institutions": sorted(
            Institution.objects.values_list(
                "code", "name", "district__code", "kind", "is_chronic_care_centre", "is_active"
            )
        ),
        "patients": sorted(
            Patient.objects.values_list(
                "resident_id",
                "name",
                "sex",
                "birth_date",
                "phone",
                "district__code",
                "home_institution__code",
                "insurance_type",
                "insurance_number",
                "address",
                "user_id",
            )
        ),
        "contracts": sorted(
            FamilyDoctorContract.objects.values_list(
                "patient__resident_id", "institution__code", "signed_on", "ended_on"
            )
        ),
        "enrolments": sorted(
            DiabetesEnrollment.objects.values_list(
                "patient__resident_id",
                "institution__code",
                "diabetes_type",
                "diagnosis_code",
                "enrolled_on",
                "ended_on",
                "end_reason",
                "baseline_fbg",
                "baseline_hba1c",
                "responsible_doctor_id",
                "health_manager_id",
            ),
            key=repr,
        ),
    }


def load(files: list[tuple[str, Path]], write_path: str) -> dict[str, list[tuple]]:
    for kind, path in files:
        outcome = import_records(kind=kind, path=path, write_path=write_path)  # type: ignore[arg-type]
        assert (outcome.written, outcome.bad_rows, outcome.write_path) == (True, (), write_path)
    return snapshot()


def schema() -> list[tuple]:
    """The imported tables' indexes and constraints, as PostgreSQL defines them."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT tablename, indexname, indexdef FROM pg_indexes
               WHERE tablename = ANY(%s)
               UNION ALL
               SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
               FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s)
               ORDER BY 1, 2, 3""",
            [TABLES, TABLES],
        )
        return cursor.fetchall()


@pytest.mark.postgres
def test_the_copy_path_and_the_portable_path_give_identical_contents(
    tmp_path: Path, db: object
) -> None:
    files = two_rounds(tmp_path)
    with transaction.atomic():
        fast = load(files, "fast")
        transaction.set_rollback(True)
    assert Patient.objects.count() == 0

    portable = load(files, "portable")

    assert fast == portable
    assert [len(rows) for rows in fast.values()] == [3, 40, 35, 28]
    assert ("NK001", "长江道社区卫生服务中心", "120104", "community_centre", False, True) in fast[
        "institutions"
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_bulk_load_gives_the_same_contents_and_restores_every_index_and_constraint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk load (many new rows, in a transaction of the import's own) rebuilds the
    secondary indexes and constraints it dropped; the contents match the portable path."""
    files = two_rounds(tmp_path)
    schema_before = schema()
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
        schema_after = schema()
    finally:
        for model in (DiabetesEnrollment, FamilyDoctorContract, Patient, Institution):
            model.objects.all().delete()

    portable = load(files, "portable")

    assert bulk == portable
    assert schema_after == schema_before
    # Round 1 is all new rows. In round 2, 10 new patients and 8 new enrolments are more
    # than a quarter of their tables; 1 new institution is under the threshold of 2, and 5 new
    # contracts are less than a quarter of 30.
    patients, enrolments = TABLES[1], TABLES[3]
    assert bulk_tables == [*TABLES, patients, enrolments]


def drop_columns(files: list[tuple[str, Path]], prefix: str, absent: dict[str, set[str]]):
    """The files whose name starts with ``prefix``, rewritten without the ``absent`` columns
    of their kind."""
    rewritten = []
    for kind, path in files:
        if path.name.startswith(prefix) and absent.get(kind):
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                columns = [c for c in reader.fieldnames or () if c not in absent[kind]]
                rows = list(reader)
            path = write_csv(path.with_name(f"short-{path.name}"), columns, rows)
        rewritten.append((kind, path))
    return rewritten


@pytest.mark.postgres
def test_both_paths_keep_the_recorded_values_of_absent_optional_columns(
    tmp_path: Path, db: object
) -> None:
    files = drop_columns(
        two_rounds(tmp_path),
        "2-",
        {
            "patients": {"phone", "address"},
            "contracts": {"ended_on"},
            "enrolments": {"baseline_fbg", "baseline_hba1c"},
        },
    )
    with transaction.atomic():
        fast = load(files, "fast")
        transaction.set_rollback(True)

    portable = load(files, "portable")

    assert fast == portable
    assert [len(rows) for rows in fast.values()] == [3, 40, 35, 28]
    # Round 1 gave every fourth resident no phone; the others keep theirs through round 2.
    phones = [row[4] for row in fast["patients"]]
    assert phones.count("") == 8 + 10
    # Round 2's contracts for the first five residents keep round 1's end dates.
    assert sum(1 for row in fast["contracts"] if row[3] == dt.date(2025, 12, 31)) == 22


@pytest.mark.postgres
def test_inside_a_callers_transaction_no_bulk_load_happens(
    tmp_path: Path, db: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk load locks and rebuilds the table: never inside someone else's transaction."""
    files = two_rounds(tmp_path)
    monkeypatch.setattr(writers, "BULK_LOAD_MIN_ROWS", 1)
    monkeypatch.setattr(
        writers,
        "_bulk_load",
        lambda *args: pytest.fail("bulk load inside a caller's transaction"),
    )

    contents = load(files, "fast")

    assert [len(rows) for rows in contents.values()] == [3, 40, 35, 28]


def test_the_fast_path_is_refused_without_postgresql(tmp_path: Path, db: object) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL has the fast path")
    path = write_csv(tmp_path / "i.csv", INSTITUTION_COLUMNS, [institution_row()])

    with pytest.raises(ValueError, match=r"^The fast write path needs PostgreSQL\.$"):
        import_records(kind="institutions", path=path, write_path="fast")


def test_copy_text_escapes_what_copy_reads_specially() -> None:
    from cloud_management.imports.registry import Record
    from cloud_management.imports.registry_kinds import ContractKind
    from cloud_management.imports.rows import Row

    class Probe(ContractKind):
        fields = ("patient_id", "institution_id", "signed_on", "ended_on")

    values = [
        {"patient_id": 1, "institution_id": 2, "signed_on": dt.date(2025, 1, 1), "ended_on": None},
        {"patient_id": "a\tb\\c\nd\re", "institution_id": True, "signed_on": "x", "ended_on": "y"},
    ]
    records = [Record(Row(n, [], {}), v) for n, v in enumerate(values)]

    assert writers.copy_text(Probe(), records) == (
        "1\t2\t2025-01-01\t\\N\na\\tb\\\\c\\nd\\re\tt\tx\ty\n"
    )


def _exact_row_count(cursor: object, table: str) -> int:
    """The table's true size: PostgreSQL's estimate (pg_class.reltuples) keeps the size of an
    earlier test's rows after they are gone, which would make the bulk-load rule depend on the
    order the tests run in."""
    cursor.execute(f'SELECT count(*) FROM "{table}"')  # type: ignore[attr-defined]
    return cursor.fetchone()[0]  # type: ignore[attr-defined]
