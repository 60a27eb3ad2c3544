"""The ``followups`` import kind (CONTRACTS §1), registered in ``ChronicCareConfig.ready()``.

A re-imported row (same resident, same date) updates the follow-up the file describes and leaves
what the file does not carry (symptoms, adherence, next date, referral) as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.translation import gettext

from chronic_care.models import (
    DIASTOLIC_RANGE,
    FBG_RANGE,
    HBA1C_RANGE,
    SYSTOLIC_RANGE,
    WEIGHT_RANGE,
    FollowUp,
)
from chronic_care.snapshots import invalidate_follow_ups
from cloud_management.imports.registry import ImportKind, Record, columns_of
from cloud_management.imports.registry_kinds import institution_ids, patient_ids
from cloud_management.imports.rows import Row


class FollowUpKind(ImportKind):
    """Diabetes follow-ups; the natural key is the resident with the date."""

    name = "followups"
    columns = columns_of(
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
    )
    model = FollowUp
    fields = (
        "patient_id",
        "institution_id",
        "date",
        "mode",
        "fbg",
        "hba1c",
        "systolic",
        "diastolic",
        "weight_kg",
        "outcome",
    )
    natural_key = ("patient_id", "date")
    key_columns = ("resident_id", "date")
    insert_only: ClassVar[dict[str, Any]] = {
        "symptoms": "",
        "medication_adherence": "",
        "is_referred": False,
        "referral_to": "",
        "referral_reason": "",
    }

    def prepare(self, rows: Sequence[Row]) -> None:
        self.patients = patient_ids(rows)
        self.institutions = institution_ids()
        self.modes = FollowUp.Mode.values
        self.outcomes = FollowUp.Outcome.values
        self.today = timezone.localdate()
        self.reasons = {
            "resident": gettext("no resident is registered with this ID"),
            "institution": gettext("no institution has this code"),
            "future": gettext("must not be in the future"),
            "pair": gettext("systolic and diastolic are recorded together"),
            "order": gettext("must be below systolic"),
        }

    def parse_row(self, row: Row) -> dict[str, Any]:
        resident_id = row.resident_id()
        patient_id = None
        if resident_id is not None:
            patient_id = self.patients.get(resident_id)
            if patient_id is None:
                row.error("resident_id", self.reasons["resident"])
        date = row.date("date")
        if date is not None and date > self.today:
            row.error("date", self.reasons["future"])
        systolic = self._whole(row, "systolic", SYSTOLIC_RANGE)
        diastolic = self._whole(row, "diastolic", DIASTOLIC_RANGE)
        if not row.has_error("systolic", "diastolic"):
            if (systolic is None) != (diastolic is None):
                row.error("diastolic" if diastolic is None else "systolic", self.reasons["pair"])
            elif systolic is not None and diastolic is not None and diastolic >= systolic:
                row.error("diastolic", self.reasons["order"])
        return {
            "patient_id": patient_id,
            "institution_id": row.lookup(
                "institution_code", self.institutions, reason=self.reasons["institution"]
            ),
            "date": date,
            "mode": row.choice("mode", self.modes),
            "fbg": self._measure(row, "fbg", FBG_RANGE),
            "hba1c": self._measure(row, "hba1c", HBA1C_RANGE),
            "systolic": systolic,
            "diastolic": diastolic,
            "weight_kg": self._measure(row, "weight_kg", WEIGHT_RANGE),
            "outcome": row.choice("outcome", self.outcomes),
        }

    def write_portable(self, records: Sequence[Record]) -> None:
        super().write_portable(records)
        self._invalidate(records)

    def write_fast(self, records: Sequence[Record], connection: BaseDatabaseWrapper) -> None:
        super().write_fast(records, connection)
        self._invalidate(records)

    @staticmethod
    def _invalidate(records: Sequence[Record]) -> None:
        # The stored quality figures the written follow-ups change (chronic_care.snapshots).
        invalidate_follow_ups(
            (record.values["patient_id"], record.values["date"]) for record in records
        )

    @staticmethod
    def _measure(row: Row, column: str, bounds: tuple[Decimal, Decimal]) -> Decimal | None:
        value = row.decimal(column, max_digits=4, decimal_places=1, required=False)
        if value is not None and not bounds[0] <= value <= bounds[1]:
            row.error(
                column,
                gettext("must be from %(low)s to %(high)s") % {"low": bounds[0], "high": bounds[1]},
            )
            return None
        return value

    @staticmethod
    def _whole(row: Row, column: str, bounds: tuple[int, int]) -> int | None:
        return row.integer(column, minimum=bounds[0], maximum=bounds[1], required=False)
