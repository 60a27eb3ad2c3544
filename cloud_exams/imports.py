"""The ``lab_results`` import kind (CONTRACTS §1): results from a lab system, registered with
``import_records`` in ``CloudExamsConfig.ready()``.

Columns: ``resident_id``, ``institution_code``, ``item_code``, ``collected_on``, ``value``,
``unit``. The institution is the one the result belongs to (it ordered and performed it). The
natural key is the resident, the item and the collection date: re-importing that row updates
it. The unit must be the catalogue unit of the item (no conversion is guessed). A numeric
item's value is a number; an examination's (``ECG``) is the finding's text.

Imported results arrive unverified, like entered ones, and are flagged from the reference
range for the patient's sex and age on the collection date. A result that has been verified is
final: a row that would change it is a bad row. Imported results are not charged here: the lab
system's institution bills them through the insurance system's ``claims`` file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from django.utils import timezone
from django.utils.translation import gettext

from cloud_exams import reference_ranges
from cloud_exams.models import ExamItem, ExamResult, ReferenceRange
from cloud_management.imports.registry import ImportKind, Record, columns_of
from cloud_management.imports.registry_kinds import institution_ids, max_length
from cloud_management.imports.rows import Row
from cloud_management.models import Patient

_CHUNK = 900


class LabResultKind(ImportKind):
    name = "lab_results"
    columns = columns_of(
        "resident_id", "institution_code", "item_code", "collected_on", "value", "unit"
    )
    model = ExamResult
    fields = (
        "entry_key",
        "patient_id",
        "item_id",
        "ordering_institution_id",
        "performing_institution_id",
        "collected_on",
        "value",
        "value_text",
        "unit",
        "flag",
        "reference_text",
        "origin",
        "entered_at",
    )
    natural_key = ("entry_key",)
    key_columns = ("resident_id", "item_code", "collected_on")
    insert_only: ClassVar[dict[str, Any]] = {}

    def prepare(self, rows: Sequence[Row]) -> None:
        wanted = sorted({row.cell("resident_id").upper() for row in rows} - {""})
        # resident ID → (patient id, sex, birth date)
        self.patients: dict[str, tuple[int, str, Any]] = {}
        for start in range(0, len(wanted), _CHUNK):
            for resident_id, pk, sex, birth_date in Patient.objects.filter(
                resident_id__in=wanted[start : start + _CHUNK]
            ).values_list("resident_id", "id", "sex", "birth_date"):
                self.patients[resident_id] = (pk, sex, birth_date)
        self.institutions = institution_ids()
        self.items = {item.code: item for item in ExamItem.objects.filter(is_active=True)}
        self.limits: dict[int, list[reference_ranges.Limits]] = defaultdict(list)
        for r in ReferenceRange.objects.all():
            self.limits[r.item_id].append(
                reference_ranges.Limits(
                    sex=r.sex,
                    age_from_years=r.age_from_years,
                    age_to_years=r.age_to_years,
                    low=r.low,
                    high=r.high,
                    critical_low=r.critical_low,
                    critical_high=r.critical_high,
                )
            )
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.text_length = max_length(ExamResult, "value_text")
        self.reasons = {
            "resident": gettext("no resident is registered with this ID"),
            "institution": gettext("no institution has this code"),
            "item": gettext("no active exam item has this code"),
            "future": gettext("must not be in the future"),
            "before_birth": gettext("must not be before the resident's birth date"),
        }

    def parse_row(self, row: Row) -> dict[str, Any]:
        reasons = self.reasons
        resident_id = row.resident_id()
        patient = None
        if resident_id is not None:
            patient = self.patients.get(resident_id)
            if patient is None:
                row.error("resident_id", reasons["resident"])
        institution_id = row.lookup(
            "institution_code", self.institutions, reason=reasons["institution"]
        )
        item: ExamItem | None = row.lookup("item_code", self.items, reason=reasons["item"])
        collected_on = row.date("collected_on")
        if collected_on is not None:
            if collected_on > self.today:
                row.error("collected_on", reasons["future"])
            elif patient is not None and collected_on < patient[2]:
                row.error("collected_on", reasons["before_birth"])
        unit = row.cell("unit")
        value: Decimal | None = None
        value_text = ""
        flag = ""
        reference = ""
        if item is not None:
            if unit != item.unit:
                row.error(
                    "unit",
                    gettext("must be “%(unit)s” for %(item)s")
                    % {"unit": item.unit or gettext("empty"), "item": item.code},
                )
            if item.result_type == ExamItem.ResultType.NUMERIC:
                value = row.decimal("value", max_digits=12, decimal_places=4)
            else:
                value_text = row.text("value", max_length=self.text_length)
        if (
            value is not None
            and item is not None
            and patient is not None
            and collected_on is not None
            and not row.has_error("collected_on")
        ):
            age = reference_ranges.age_in_years(patient[2], collected_on)
            applicable = reference_ranges.applicable_limits(
                self.limits.get(item.pk, []), sex=patient[1], age_years=age
            )
            flag = reference_ranges.flag_for(value, applicable)
            reference = applicable.describe() if applicable else ""
        item_code = item.code if item is not None else ""
        return {
            "entry_key": f"import:{resident_id}:{item_code}:{collected_on}",
            "patient_id": patient[0] if patient is not None else None,
            "item_id": item.pk if item is not None else None,
            "ordering_institution_id": institution_id,
            "performing_institution_id": institution_id,
            "collected_on": collected_on,
            "value": value,
            "value_text": value_text,
            "unit": unit,
            "flag": flag,
            "reference_text": reference,
            "origin": ExamResult.Origin.IMPORTED,
            "entered_at": self.now,
        }

    def check_records(self, records: Sequence[Record]) -> None:
        """A verified result is final: a re-import may repeat it but not change it."""
        keys = [record.values["entry_key"] for record in records]
        verified: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(keys), _CHUNK):
            for key, value, text, unit, institution_id in ExamResult.objects.filter(
                entry_key__in=keys[start : start + _CHUNK], verified_at__isnull=False
            ).values_list("entry_key", "value", "value_text", "unit", "performing_institution_id"):
                verified[key] = (value, text, unit, institution_id)
        if not verified:
            return
        message = gettext("this result has been verified and cannot be changed by an import")
        for record in records:
            found = verified.get(record.values["entry_key"])
            if found is None:
                continue
            values = record.values
            incoming = (
                values["value"],
                values["value_text"],
                values["unit"],
                values["performing_institution_id"],
            )
            if incoming != found:
                record.row.error("value", message)
