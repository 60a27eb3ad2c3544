"""Read queries of chronic care: measurements from follow-ups and verified lab results read as one
table, and the follow-ups a user may see.

:func:`measurements` is the single place that knows where a fasting glucose or an HbA1c value
comes from: a follow-up's ``fbg``/``hba1c`` or a verified ``FBG``/``HBA1C`` lab result
(cloud_exams). The worklists, the indicators and the patient's latest values all read it, so the
latest glucose is one query whatever its source.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db import models
from django.db.models import F, Q, QuerySet, Value

from chronic_care.models import FollowUp
from cloud_exams.selectors import verified_results
from cloud_management.access import visible_to


class Kind(StrEnum):
    """What a measurement measures; the values are the lab catalogue's item codes."""

    FBG = "FBG"
    HBA1C = "HBA1C"


class Source(StrEnum):
    FOLLOW_UP = "follow_up"
    LAB = "lab"


# Follow-up column of each kind.
_FOLLOW_UP_COLUMNS = {Kind.FBG: "fbg", Kind.HBA1C: "hba1c"}
# Wide enough for a lab value (cloud_exams stores 12 digits, 4 places), so no converter
# rounds a lab value to a follow-up's one place.
_READING = models.DecimalField(max_digits=12, decimal_places=4)
# The columns of a measurement row, in this order on every side of the union.
COLUMNS = ("subject", "measured_on", "kind", "reading", "source")


@dataclass(frozen=True)
class Measurement:
    patient_id: int
    measured_on: dt.date
    kind: Kind
    value: Decimal
    source: Source


def _filtered(
    queryset: QuerySet[Any],
    *,
    patient_field: str,
    date_field: str,
    patients: Iterable[int] | QuerySet[Any] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> QuerySet[Any]:
    if patients is not None:
        ids = patients if isinstance(patients, QuerySet) else sorted(set(patients))
        queryset = queryset.filter(**{f"{patient_field}__in": ids})
    if date_from is not None:
        queryset = queryset.filter(**{f"{date_field}__gte": date_from})
    if date_to is not None:
        queryset = queryset.filter(**{f"{date_field}__lte": date_to})
    return queryset


def _follow_up_side(kind: Kind, **filters: Any) -> QuerySet[Any]:
    column = _FOLLOW_UP_COLUMNS[kind]
    queryset = _filtered(
        FollowUp.objects.filter(**{f"{column}__isnull": False}),
        patient_field="patient_id",
        date_field="date",
        **filters,
    )
    return (
        queryset.order_by()
        .annotate(
            subject=F("patient_id"),
            measured_on=F("date"),
            kind=Value(kind.value, output_field=models.CharField()),
            reading=models.ExpressionWrapper(F(column), output_field=_READING),
            source=Value(Source.FOLLOW_UP.value, output_field=models.CharField()),
        )
        .values(*COLUMNS)
    )


def _lab_side(
    kinds: Iterable[Kind],
    *,
    patients: Iterable[int] | QuerySet[Any] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> QuerySet[Any]:
    """Verified lab results of ``kinds`` (cloud_exams decides what is verified)."""
    ids = patients if patients is None or isinstance(patients, QuerySet) else sorted(set(patients))
    return (
        verified_results(
            patient_ids=ids,
            item_codes=[kind.value for kind in kinds],
            collected_from=date_from,
            collected_to=date_to,
        )
        .filter(value__isnull=False)
        .order_by()
        .annotate(
            subject=F("patient_id"),
            measured_on=F("collected_on"),
            kind=F("item__code"),
            reading=models.ExpressionWrapper(F("value"), output_field=_READING),
            source=Value(Source.LAB.value, output_field=models.CharField()),
        )
        .values(*COLUMNS)
    )


def measurements(
    *,
    kinds: Iterable[Kind] = (Kind.FBG, Kind.HBA1C),
    patients: Iterable[int] | QuerySet[Any] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Any]:
    """Measurements of ``kinds`` as one queryset of dicts with :data:`COLUMNS` (``subject`` is
    the patient's id): follow-up values and verified lab results together. ``patients`` is a
    collection of ids or a queryset of ids; the dates bound ``measured_on``, both included."""
    wanted = list(dict.fromkeys(Kind(kind) for kind in kinds))
    filters: dict[str, Any] = {"patients": patients, "date_from": date_from, "date_to": date_to}
    sides = [_follow_up_side(kind, **filters) for kind in wanted]
    sides.append(_lab_side(wanted, **filters))
    first, *rest = sides
    return first.union(*rest, all=True)


def _as_measurement(row: dict[str, Any]) -> Measurement:
    return Measurement(
        patient_id=row["subject"],
        measured_on=row["measured_on"],
        kind=Kind(row["kind"]),
        value=Decimal(row["reading"]).normalize().quantize(Decimal("0.01")).normalize(),
        source=Source(row["source"]),
    )


def latest_measurement(
    *, patient_id: int, kind: Kind, on_or_before: dt.date | None = None
) -> Measurement | None:
    """The patient's latest value of ``kind`` from any source, in one query: the latest date
    wins, and on one date the highest value (CONTRACTS §5)."""
    rows = measurements(kinds=[kind], patients=[patient_id], date_to=on_or_before).order_by(
        "-measured_on", "-reading"
    )[:1]
    found = list(rows)
    return _as_measurement(found[0]) if found else None


def patient_measurements(
    *, patient_id: int, kinds: Iterable[Kind] = (Kind.FBG, Kind.HBA1C)
) -> list[Measurement]:
    """A patient's measurements, newest first."""
    rows = measurements(kinds=kinds, patients=[patient_id]).order_by("-measured_on", "kind")
    return [_as_measurement(row) for row in rows]


def follow_ups_visible_to(user: Any) -> QuerySet[FollowUp]:
    """The follow-ups the user may see (cloud_management.access)."""
    return visible_to(user, FollowUp.objects.select_related("patient", "institution"))


def follow_ups_of_patient(*, patient_id: int) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(patient_id=patient_id).select_related("institution")


def has_face_to_face_fbg() -> Q:
    """A follow-up that counts for SMR (CONTRACTS §5): face to face, with a fasting glucose."""
    return Q(mode__in=FollowUp.FACE_TO_FACE_MODES, fbg__isnull=False)
