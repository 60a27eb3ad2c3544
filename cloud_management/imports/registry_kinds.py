"""The registry's import kinds (CONTRACTS §1): ``institutions``, ``patients``, ``contracts`` and
``enrolments``. Importing this module registers them (``CloudManagementConfig.ready()``).

Look-ups are set-based: each kind loads what it refers to for the whole file in
:meth:`~cloud_management.imports.registry.ImportKind.prepare`, never a query per row.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

from django.db import connection, models
from django.utils.translation import gettext

from cloud_management.identifiers import birth_date_of, normalize_resident_id, sex_of
from cloud_management.imports.registry import (
    ImportKind,
    Record,
    columns_of,
    register_import_kind,
)
from cloud_management.imports.rows import Row
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
)

# Mainland numbers: 13912345678, 022-23456789, +86 139 1234 5678.
_PHONE = re.compile(r"\+?[0-9][0-9 ()-]*")
# ICD-10 with the national clinical extension (GB/T 14396): E11, E11.9, E11.900x001.
_ICD10 = re.compile(r"[A-Z][0-9]{2}(?:\.[0-9A-Za-z]{1,7})?")
_NO_END = dt.date.max


def max_length(model: type[models.Model], name: str) -> int:
    field = model._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"{model.__name__}.{name} is not a CharField")
    return field.max_length


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    # SQLite allows 999 parameters a statement; PostgreSQL takes far more per round trip.
    size = 900 if connection.vendor == "sqlite" else 20_000
    for start in range(0, len(values), size):
        yield values[start : start + size]


def district_ids() -> dict[str, int]:
    return dict(District.objects.values_list("code", "id"))


def institution_ids() -> dict[str, int]:
    return dict(Institution.objects.values_list("code", "id"))


def patient_ids(rows: Iterable[Row], column: str = "resident_id") -> dict[str, int]:
    """Resident ID → patient id for the residents the rows name, in a few queries."""
    wanted = sorted({normalize_resident_id(row.cell(column)) for row in rows} - {""})
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found.update(Patient.objects.filter(resident_id__in=chunk).values_list("resident_id", "id"))
    return found


class _ResidentKind(ImportKind):
    """A kind whose rows name a registered resident and an institution by code."""

    patients: dict[str, int]
    institutions: dict[str, int]

    def prepare(self, rows: Sequence[Row]) -> None:
        self.patients = patient_ids(rows)
        self.institutions = institution_ids()
        self.unknown_resident = gettext("no resident is registered with this ID")
        self.unknown_institution = gettext("no institution has this code")

    def patient_id(self, row: Row) -> int | None:
        resident_id = row.resident_id()
        if resident_id is None:
            return None
        patient_id = self.patients.get(resident_id)
        if patient_id is None:
            row.error("resident_id", self.unknown_resident)
        return patient_id

    def institution_id(self, row: Row) -> int | None:
        return row.lookup("institution_code", self.institutions, reason=self.unknown_institution)


@register_import_kind
class InstitutionKind(ImportKind):
    name = "institutions"
    columns = columns_of("code", "name", "district_code", "kind", "chronic_care_centre")
    model = Institution
    fields = ("code", "name", "district_id", "kind", "is_chronic_care_centre")
    natural_key = ("code",)
    key_columns = ("code",)
    # A re-import does not reactivate an institution an operator has deactivated.
    insert_only: ClassVar[dict[str, Any]] = {"is_active": True}

    def prepare(self, rows: Sequence[Row]) -> None:
        self.districts = district_ids()
        self.unknown_district = gettext("no district has this code")
        self.kinds = Institution.Kind.values

    def parse_row(self, row: Row) -> dict[str, Any]:
        return {
            "code": row.code("code", max_length=max_length(Institution, "code")),
            "name": row.text("name", max_length=max_length(Institution, "name")),
            "district_id": row.lookup(
                "district_code", self.districts, reason=self.unknown_district
            ),
            "kind": row.choice("kind", self.kinds),
            "is_chronic_care_centre": row.boolean("chronic_care_centre"),
        }


@register_import_kind
class PatientKind(ImportKind):
    name = "patients"
    columns = columns_of(
        "resident_id",
        "name",
        "sex",
        "birth_date",
        "phone?",
        "district_code",
        "home_institution_code",
        "insurance_type",
        "insurance_number?",
        "address?",
    )
    model = Patient
    fields = (
        "resident_id",
        "name",
        "sex",
        "birth_date",
        "phone",
        "district_id",
        "home_institution_id",
        "insurance_type",
        "insurance_number",
        "address",
    )
    natural_key = ("resident_id",)
    key_columns = ("resident_id",)

    def prepare(self, rows: Sequence[Row]) -> None:
        self.districts = district_ids()
        self.institutions = institution_ids()
        self.sexes = Patient.Sex.values
        self.insurance_types = Patient.InsuranceType.values
        self.lengths = {
            name: max_length(Patient, name)
            for name in ("name", "phone", "insurance_number", "address")
        }
        self.reasons = {
            "district": gettext("no district has this code"),
            "institution": gettext("no institution has this code"),
            "disagrees": gettext("does not agree with the resident ID"),
            "phone": gettext("must hold only digits, spaces, +, -, ( and )"),
        }

    def parse_row(self, row: Row) -> dict[str, Any]:
        lengths, reasons = self.lengths, self.reasons
        resident_id = row.resident_id()
        sex = row.choice("sex", self.sexes)
        birth_date = row.date("birth_date")
        if resident_id is not None:
            # GB 11643: digits 7-14 are the birth date, the 17th digit's parity the sex.
            if birth_date is not None and birth_date != birth_date_of(resident_id):
                row.error("birth_date", reasons["disagrees"])
            if sex is not None and sex != sex_of(resident_id):
                row.error("sex", reasons["disagrees"])
        phone = row.text("phone", max_length=lengths["phone"], required=False)
        if phone and not _PHONE.fullmatch(phone):
            row.error("phone", reasons["phone"])
        return {
            "resident_id": resident_id,
            "name": row.text("name", max_length=lengths["name"]),
            "sex": sex,
            "birth_date": birth_date,
            "phone": phone,
            "district_id": row.lookup("district_code", self.districts, reason=reasons["district"]),
            "home_institution_id": row.lookup(
                "home_institution_code", self.institutions, reason=reasons["institution"]
            ),
            "insurance_type": row.choice("insurance_type", self.insurance_types),
            "insurance_number": row.text(
                "insurance_number", max_length=lengths["insurance_number"], required=False
            ),
            "address": row.text("address", max_length=lengths["address"], required=False),
        }


def _overlap(
    start: dt.date, end: dt.date | None, other_start: dt.date, other_end: dt.date | None
) -> bool:
    return start <= (other_end or _NO_END) and other_start <= (end or _NO_END)


class _OneAtATimeKind(_ResidentKind):
    """A kind of which a resident holds at most one on any day (contracts, enrolments): the
    natural key is the resident with ``start_field``; a row that shares a day with another
    row or with a recorded one that stays is a bad row, and the database holds the rule too
    (cloud_management migrations 0002 and 0004)."""

    start_field: ClassVar[str]
    end_field: ClassVar[str] = "ended_on"

    def prepare(self, rows: Sequence[Row]) -> None:
        super().prepare(rows)
        # The recorded rows of the file's residents: (start, end, id) by patient id.
        self.existing: dict[int, list[tuple[dt.date, dt.date | None, int]]] = defaultdict(list)
        for chunk in _chunks(sorted(set(self.patients.values()))):
            for pk, patient_id, start, end in self.model._default_manager.filter(
                patient_id__in=chunk
            ).values_list("id", "patient_id", self.start_field, self.end_field):
                self.existing[patient_id].append((start, end, pk))
        # The same rows by natural key, for the writers.
        self.recorded: dict[tuple[int, dt.date], tuple[dt.date | None, int]] = {
            (patient_id, start): (end, pk)
            for patient_id, periods in self.existing.items()
            for start, end, pk in periods
        }

    @abc.abstractmethod
    def overlaps_row(self, row_number: int) -> str:
        """The reason a row shares a day with the good row ``row_number``."""

    @abc.abstractmethod
    def overlaps_recorded(self, start: dt.date, end: dt.date | None) -> str:
        """The reason a row shares a day with the recorded one from ``start`` to ``end``."""

    def check_records(self, records: Sequence[Record]) -> None:
        by_patient: dict[int, list[Record]] = defaultdict(list)
        for record in records:
            by_patient[record.values["patient_id"]].append(record)
        for patient_id, own in by_patient.items():
            existing = self.existing.get(patient_id, [])
            if len(own) > 1 or existing:
                self._check_overlaps(own, existing)

    def _check_overlaps(
        self, own: list[Record], existing: list[tuple[dt.date, dt.date | None, int]]
    ) -> None:
        """Reject the first row (in file order) that shares a day with an earlier good row or
        with a recorded row that stays; repeat, since a rejected row that would have updated a
        recorded row leaves that row as it was."""
        start_field, end_field = self.start_field, self.end_field
        rejected: set[int] = set()
        while True:
            kept_starts = {r.values[start_field] for i, r in enumerate(own) if i not in rejected}
            staying = [(s, e) for s, e, _pk in existing if s not in kept_starts]
            accepted: list[Record] = []
            for i, record in enumerate(own):
                if i in rejected:
                    continue
                start, end = record.values[start_field], record.values[end_field]
                reason = None
                for other_start, other_end in staying:
                    if _overlap(start, end, other_start, other_end):
                        reason = self.overlaps_recorded(other_start, other_end)
                        break
                else:
                    for other in accepted:
                        if _overlap(start, end, other.values[start_field], other.values[end_field]):
                            reason = self.overlaps_row(other.row.number)
                            break
                if reason is not None:
                    record.row.error(start_field, reason)
                    rejected.add(i)
                    break
                accepted.append(record)
            else:
                return

    def write_batches(self, records: Sequence[Record]) -> list[Sequence[Record]]:
        """Updates that end a row earlier go first: then every row's days lie within its final
        days at each step, so the one-a-day constraint, checked row by row, holds throughout
        (the natural key fixes the start; only the end moves)."""
        recorded = self.recorded
        earlier: list[Record] = []
        rest: list[Record] = []
        for record in records:
            values = record.values
            found = recorded.get((values["patient_id"], values[self.start_field]))
            new_end = values[self.end_field] or _NO_END
            if found is not None and new_end < (found[0] or _NO_END):
                earlier.append(record)
            else:
                rest.append(record)
        return [batch for batch in (earlier, rest) if batch]

    def write_portable(self, records: Sequence[Record]) -> None:
        """Updates through ``bulk_update``, new rows through ``bulk_create``: SQLite runs the
        overlap trigger of an ``INSERT ... ON CONFLICT`` before it sees the conflict, so an
        upsert of a recorded row would collide with itself."""
        recorded = self.recorded
        model = self.model
        updates: list[models.Model] = []
        inserts: list[models.Model] = []
        for record in records:
            values = record.values
            found = recorded.get((values["patient_id"], values[self.start_field]))
            if found is None:
                inserts.append(model(**self.insert_only, **values))
            else:
                updates.append(model(id=found[1], **values))
        model._default_manager.bulk_update(updates, list(self.update_fields), batch_size=500)
        model._default_manager.bulk_create(inserts, batch_size=1_000)


@register_import_kind
class ContractKind(_OneAtATimeKind):
    """Family-doctor signings (家庭医生签约); the natural key is the resident with signed_on. A
    resident holds one contract at a time."""

    name = "contracts"
    columns = columns_of("resident_id", "institution_code", "signed_on", "ended_on?")
    model = FamilyDoctorContract
    fields = ("patient_id", "institution_id", "signed_on", "ended_on")
    natural_key = ("patient_id", "signed_on")
    key_columns = ("resident_id", "signed_on")
    start_field = "signed_on"

    def parse_row(self, row: Row) -> dict[str, Any]:
        signed_on = row.date("signed_on")
        ended_on = row.date("ended_on", required=False)
        row.ends_after("signed_on", signed_on, "ended_on", ended_on)
        return {
            "patient_id": self.patient_id(row),
            "institution_id": self.institution_id(row),
            "signed_on": signed_on,
            "ended_on": ended_on,
        }

    def overlaps_row(self, row_number: int) -> str:
        return gettext("overlaps the contract in row %(row)d") % {"row": row_number}

    def overlaps_recorded(self, start: dt.date, end: dt.date | None) -> str:
        if end is None:
            return gettext("overlaps the recorded contract from %(start)s with no end date") % {
                "start": start.isoformat()
            }
        return gettext("overlaps the recorded contract from %(start)s to %(end)s") % {
            "start": start.isoformat(),
            "end": end.isoformat(),
        }


@register_import_kind
class EnrolmentKind(_OneAtATimeKind):
    """Diabetes outpatient-special-disease enrolments (门特); the natural key is the resident
    with enrolled_on. A resident has at most one enrolment on any day: a row that would break
    this, against another row or an enrolment already recorded, is a bad row (the database
    holds the rule too, migration 0002)."""

    name = "enrolments"
    columns = columns_of(
        "resident_id",
        "institution_code",
        "diabetes_type",
        "diagnosis_code",
        "enrolled_on",
        "ended_on?",
        "baseline_fbg?",
        "baseline_hba1c?",
    )
    model = DiabetesEnrollment
    fields = (
        "patient_id",
        "institution_id",
        "diabetes_type",
        "diagnosis_code",
        "enrolled_on",
        "ended_on",
        "baseline_fbg",
        "baseline_hba1c",
    )
    natural_key = ("patient_id", "enrolled_on")
    key_columns = ("resident_id", "enrolled_on")
    insert_only: ClassVar[dict[str, Any]] = {"end_reason": ""}
    start_field = "enrolled_on"

    def prepare(self, rows: Sequence[Row]) -> None:
        super().prepare(rows)
        self.diabetes_types = DiabetesEnrollment.DiabetesType.values
        self.bad_diagnosis = gettext("must be an ICD-10 code such as E11.9")
        self.diagnosis_length = max_length(DiabetesEnrollment, "diagnosis_code")

    def parse_row(self, row: Row) -> dict[str, Any]:
        enrolled_on = row.date("enrolled_on")
        ended_on = row.date("ended_on", required=False)
        row.ends_after("enrolled_on", enrolled_on, "ended_on", ended_on)
        diagnosis_code = row.text("diagnosis_code", max_length=self.diagnosis_length)
        if diagnosis_code and not _ICD10.fullmatch(diagnosis_code):
            row.error("diagnosis_code", self.bad_diagnosis)
        return {
            "patient_id": self.patient_id(row),
            "institution_id": self.institution_id(row),
            "diabetes_type": row.choice("diabetes_type", self.diabetes_types),
            "diagnosis_code": diagnosis_code,
            "enrolled_on": enrolled_on,
            "ended_on": ended_on,
            "baseline_fbg": self._measure(row, "baseline_fbg"),
            "baseline_hba1c": self._measure(row, "baseline_hba1c"),
        }

    @staticmethod
    def _measure(row: Row, column: str) -> Any:
        field = DiabetesEnrollment._meta.get_field(column)
        if not isinstance(field, models.DecimalField):
            raise TypeError(f"DiabetesEnrollment.{column} is not a DecimalField")
        return row.decimal(
            column,
            max_digits=field.max_digits or 4,
            decimal_places=field.decimal_places or 0,
            required=False,
        )

    def overlaps_row(self, row_number: int) -> str:
        return gettext("overlaps the enrolment in row %(row)d") % {"row": row_number}

    def overlaps_recorded(self, start: dt.date, end: dt.date | None) -> str:
        if end is None:
            return gettext("overlaps the recorded enrolment from %(start)s with no end date") % {
                "start": start.isoformat()
            }
        return gettext("overlaps the recorded enrolment from %(start)s to %(end)s") % {
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
