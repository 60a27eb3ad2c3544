"""Writing generated residents: a portable ORM path and a PostgreSQL COPY path.

Both take the same rows (``healthcommunity.demo.generate``) and the same references, and on an
empty registry write the same data; the COPY path only exists because it is much faster.

- :func:`write_with_orm` (any database) is idempotent: residents whose ``resident_id`` already
  exists are skipped together with their histories, so a re-run never duplicates.
- :func:`write_with_copy` (PostgreSQL) streams rows through ``COPY ... FROM STDIN`` with patient
  ids reserved from the table's sequence. It expects residents that do not exist yet (the
  tianjin scale refuses a registry that already has residents).
"""

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

from django.db import connection, models

from cloud_management.models import DiabetesEnrollment, FamilyDoctorContract, Patient
from healthcommunity.demo.generate import EnrolmentRow, ResidentRow

T = TypeVar("T")
# Below SQLite's default limit on query parameters (999).
_LOOKUP_BATCH = 900


@dataclass
class References:
    """Database ids of the things rows refer to by code."""

    districts: dict[str, int]
    institutions: dict[str, int]
    doctors: dict[str, list[int]] = field(default_factory=dict)
    managers: dict[str, list[int]] = field(default_factory=dict)

    def doctor(self, row: EnrolmentRow) -> int | None:
        return _pick(self.doctors.get(row.institution), row.doctor_pick)

    def manager(self, row: EnrolmentRow) -> int | None:
        return _pick(self.managers.get(row.institution), row.manager_pick)


@dataclass
class WriteCounts:
    residents: int = 0
    contracts: int = 0
    enrolments: int = 0

    def add(self, other: "WriteCounts") -> None:
        self.residents += other.residents
        self.contracts += other.contracts
        self.enrolments += other.enrolments


def _pick(ids: list[int] | None, pick: int) -> int | None:
    return ids[pick % len(ids)] if ids else None


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# --- portable path ----------------------------------------------------------------------


def write_with_orm(rows: Sequence[ResidentRow], refs: References) -> WriteCounts:
    """Insert the residents that do not exist yet, with their contracts and enrolments."""
    existing: set[str] = set()
    for batch in batched((row.resident_id for row in rows), _LOOKUP_BATCH):
        existing.update(
            Patient.objects.filter(resident_id__in=batch).values_list("resident_id", flat=True)
        )
    new_rows = [row for row in rows if row.resident_id not in existing]
    patients = [
        Patient(
            resident_id=row.resident_id,
            name=row.name,
            sex=row.sex,
            birth_date=row.birth_date,
            phone=row.phone,
            address=row.address,
            district_id=refs.districts[row.district_code],
            home_institution_id=refs.institutions[row.home_institution],
            insurance_type=row.insurance_type,
            insurance_number=row.insurance_number,
        )
        for row in new_rows
    ]
    Patient.objects.bulk_create(patients, batch_size=2000)
    if connection.features.can_return_rows_from_bulk_insert:
        patient_ids = {patient.resident_id: patient.pk for patient in patients}
    else:  # pragma: no cover - every supported database returns the ids
        patient_ids = {}
        for batch in batched((row.resident_id for row in new_rows), _LOOKUP_BATCH):
            patient_ids.update(
                Patient.objects.filter(resident_id__in=batch).values_list("resident_id", "pk")
            )

    contracts = [
        FamilyDoctorContract(
            patient_id=patient_ids[row.resident_id],
            institution_id=refs.institutions[contract.institution],
            signed_on=contract.signed_on,
            ended_on=contract.ended_on,
        )
        for row in new_rows
        for contract in row.contracts
    ]
    FamilyDoctorContract.objects.bulk_create(contracts, batch_size=2000)
    enrolments = [
        DiabetesEnrollment(
            patient_id=patient_ids[row.resident_id],
            institution_id=refs.institutions[enrolment.institution],
            responsible_doctor_id=refs.doctor(enrolment),
            health_manager_id=refs.manager(enrolment),
            diabetes_type=enrolment.diabetes_type,
            diagnosis_code=enrolment.diagnosis_code,
            enrolled_on=enrolment.enrolled_on,
            ended_on=enrolment.ended_on,
            end_reason=enrolment.end_reason,
            baseline_fbg=enrolment.baseline_fbg,
            baseline_hba1c=enrolment.baseline_hba1c,
        )
        for row in new_rows
        for enrolment in row.enrolments
    ]
    DiabetesEnrollment.objects.bulk_create(enrolments, batch_size=2000)
    return WriteCounts(len(patients), len(contracts), len(enrolments))


# --- PostgreSQL COPY path ---------------------------------------------------------------

_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: object) -> str:
    """A value in COPY's text format."""
    if value is None:
        return _NULL
    return str(value).translate(_ESCAPES)


def _columns(model: type[models.Model], names: Sequence[str]) -> str:
    columns = {field.name: str(field.column) for field in model._meta.concrete_fields}
    return ", ".join(connection.ops.quote_name(columns[name]) for name in names)


def _copy(model: type[models.Model], names: Sequence[str], buffer: io.StringIO) -> None:
    buffer.seek(0)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({_columns(model, names)}) FROM STDIN", buffer)


def reserve_patient_ids(count: int) -> int:
    """The first of ``count`` consecutive patient ids taken from the table's sequence."""
    table = Patient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [sequence])
        (first,) = cursor.fetchone()
        if count > 1:
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return int(first)


_PATIENT_FIELDS = (
    "id", "resident_id", "name", "sex", "birth_date", "phone", "address", "district",
    "home_institution", "insurance_type", "insurance_number",
)  # fmt: skip
_CONTRACT_FIELDS = ("patient", "institution", "signed_on", "ended_on")
_ENROLMENT_FIELDS = (
    "patient", "institution", "responsible_doctor", "health_manager", "diabetes_type",
    "diagnosis_code", "enrolled_on", "ended_on", "end_reason", "baseline_fbg", "baseline_hba1c",
)  # fmt: skip


def write_with_copy(rows: Sequence[ResidentRow], refs: References) -> WriteCounts:
    """COPY the residents, their contracts and their enrolments (PostgreSQL only)."""
    first_id = reserve_patient_ids(len(rows))
    patients, contracts, enrolments = io.StringIO(), io.StringIO(), io.StringIO()
    counts = WriteCounts(residents=len(rows))
    institutions, districts = refs.institutions, refs.districts
    for offset, row in enumerate(rows):
        patient_id = str(first_id + offset)
        values = (
            patient_id, row.resident_id, _text(row.name), row.sex, row.birth_date.isoformat(),
            row.phone, _text(row.address), str(districts[row.district_code]),
            str(institutions[row.home_institution]), row.insurance_type, row.insurance_number,
        )  # fmt: skip
        patients.write("\t".join(values) + "\n")
        for contract in row.contracts:
            contracts.write(
                f"{patient_id}\t{institutions[contract.institution]}\t"
                f"{contract.signed_on.isoformat()}\t{_text(contract.ended_on)}\n"
            )
            counts.contracts += 1
        for enrolment in row.enrolments:
            enrolment_values = (
                patient_id, str(institutions[enrolment.institution]),
                _text(refs.doctor(enrolment)), _text(refs.manager(enrolment)),
                enrolment.diabetes_type, enrolment.diagnosis_code,
                enrolment.enrolled_on.isoformat(), _text(enrolment.ended_on),
                _text(enrolment.end_reason), _text(enrolment.baseline_fbg),
                _text(enrolment.baseline_hba1c),
            )  # fmt: skip
            enrolments.write("\t".join(enrolment_values) + "\n")
            counts.enrolments += 1
    _copy(Patient, _PATIENT_FIELDS, patients)
    _copy(FamilyDoctorContract, _CONTRACT_FIELDS, contracts)
    _copy(DiabetesEnrollment, _ENROLMENT_FIELDS, enrolments)
    return counts


@contextmanager
def indexes_deferred(models_: Sequence[type[models.Model]]) -> Iterator[int]:
    """Load into empty tables the way PostgreSQL recommends ("Populating a Database": remove
    indexes and foreign keys, load, recreate them): the tables' secondary indexes and their
    unique, exclusion and foreign-key constraints are dropped, and recreated afterwards, each
    built or validated in one pass instead of row by row. Primary keys and check constraints
    stay. Must run inside a transaction, so a failure restores everything; yields the number of
    indexes and constraints deferred.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("indexes_deferred() needs a transaction to undo a failed load.")
    tables = [model._meta.db_table for model in models_]
    with connection.cursor() as cursor:
        # ALTER TABLE refuses tables with pending deferred checks: run those checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
            FROM pg_constraint
            WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u', 'x')
            ORDER BY contype = 'f' DESC, conname
            """,
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)
            FROM pg_index
            WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary
              AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0)
            ORDER BY 1
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        quote = connection.ops.quote_name
        # Foreign keys first (they may lean on the unique indexes), then the rest.
        for table, name, _definition, _kind in constraints:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield len(constraints) + len(indexes)
    with connection.cursor() as cursor:
        for _name, definition in indexes:
            cursor.execute(definition)
        # Unique and exclusion constraints before the foreign keys that may rely on them.
        for table, name, definition, _kind in reversed(constraints):
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
        # Back to Django's default: foreign keys are checked at commit.
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def analyze_registry() -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL)."""
    with connection.cursor() as cursor:
        for model in (Patient, FamilyDoctorContract, DiabetesEnrollment):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
