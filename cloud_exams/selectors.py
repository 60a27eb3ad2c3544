"""Reads of cloud_exams for the API, the admin, the pages and the apps above (chronic_care).

Every read that reaches people outside the lab starts from verified results; unverified ones
are read only through :func:`results_visible_to` by the lab technicians of the performing
institution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import F, Q, QuerySet
from django.db.models.functions import TruncDate

from cloud_exams.models import (
    CriticalValueAlert,
    ExamItem,
    ExamOrder,
    ExamOrderItem,
    ExamResult,
    Specimen,
)
from cloud_management.access import scope_of, visible_to
from cloud_management.models import StaffRole

ResultT = TypeVar("ResultT", bound=ExamResult)

# The keys of each row verified_results() returns, in this order.
VERIFIED_RESULT_FIELDS = (
    "result_id",
    "patient_id",
    "item_code",
    "value",
    "value_text",
    "unit",
    "flag",
    "collected_on",
    "verified_on",
    "ordering_institution_id",
    "performing_institution_id",
)


def verified_results(
    *,
    patient_ids: Iterable[int] | QuerySet[Any] | None = None,
    item_codes: Iterable[str] | None = None,
    collected_from: dt.date | None = None,
    collected_to: dt.date | None = None,
    institution_ids: Iterable[int] | QuerySet[Any] | None = None,
) -> QuerySet[ExamResult, dict[str, Any]]:
    """Verified lab values, one dict per result, for other apps (chronic_care) to read.

    Stable signature (ISSUE 4); every argument is keyword-only and optional:

    - ``patient_ids``: patient ids, or a queryset of them (``.values("patient_id")``), which
      becomes a subquery, so a whole institution's residents cost no extra round trip;
    - ``item_codes``: catalogue codes such as ``"FBG"`` or ``"HBA1C"``;
    - ``collected_from`` / ``collected_to``: collection dates, both included;
    - ``institution_ids``: results ordered by these institutions.

    Each row holds :data:`VERIFIED_RESULT_FIELDS`: ``result_id``, ``patient_id``,
    ``item_code``, ``value`` (``Decimal``, ``None`` for a text finding such as an ECG),
    ``value_text`` (the finding, ``""`` for numbers), ``unit``, ``flag`` (``""`` no range,
    ``N``, ``L``, ``H``, ``LL``, ``HH``, ``A``), ``collected_on`` and ``verified_on`` (dates,
    Asia/Shanghai), ``ordering_institution_id``, ``performing_institution_id``.

    Set-based: one query however many patients, ordered by patient, collection date and id.
    Unverified results are never returned. Values are in the catalogue unit of the item
    (``FBG`` mmol/L, ``HBA1C`` %). The queryset is a plain ``values()`` queryset, so callers
    may filter it further, ``union`` it with their own rows of the same shape, or aggregate.
    No access check happens here: callers scope by the institutions or patients they pass.
    """
    rows = ExamResult.objects.filter(verified_at__isnull=False)
    if patient_ids is not None:
        rows = rows.filter(patient_id__in=patient_ids)
    if item_codes is not None:
        rows = rows.filter(item__code__in=list(item_codes))
    if collected_from is not None:
        rows = rows.filter(collected_on__gte=collected_from)
    if collected_to is not None:
        rows = rows.filter(collected_on__lte=collected_to)
    if institution_ids is not None:
        rows = rows.filter(ordering_institution_id__in=institution_ids)
    return (
        rows.order_by("patient_id", "collected_on", "id")
        .annotate(
            result_id=F("id"),
            item_code=F("item__code"),
            verified_on=TruncDate("verified_at"),
        )
        .values(*VERIFIED_RESULT_FIELDS)
    )


# --- Scoped reads -----------------------------------------------------------------------------


def lab_institution_ids(user: Any) -> frozenset[int]:
    """Institutions where the user is a lab technician: the labs whose unverified results they
    may read, enter and verify."""
    if not scope_of(user).is_staff_member:
        return frozenset()
    return frozenset(
        StaffRole.objects.filter(
            user=user, role=StaffRole.Role.LAB_TECHNICIAN, institution__isnull=False
        ).values_list("institution_id", flat=True)
    )


def results_visible_to(user: Any, queryset: QuerySet[ResultT] | None = None) -> QuerySet[ResultT]:
    """Results the user may see: verified ones within their scope (cloud_management.access),
    and, for lab technicians, every result of the labs they work in. ``queryset`` narrows
    the rows (a worklist's proxy model, say); by default every result."""
    rows: QuerySet[Any] = ExamResult.objects.all() if queryset is None else queryset
    verified = visible_to(user, rows.filter(verified_at__isnull=False))
    labs = lab_institution_ids(user)
    if not labs:
        return verified
    return rows.filter(
        Q(pk__in=verified.values("pk")) | Q(performing_institution_id__in=sorted(labs))
    )


def orders_visible_to(user: Any) -> QuerySet[ExamOrder]:
    return visible_to(user, ExamOrder.objects.all())


def order_items_visible_to(user: Any) -> QuerySet[ExamOrderItem]:
    return visible_to(user, ExamOrderItem.objects.all())


def specimens_visible_to(user: Any) -> QuerySet[Specimen]:
    return visible_to(user, Specimen.objects.all())


def alerts_visible_to(user: Any) -> QuerySet[CriticalValueAlert]:
    return visible_to(user, CriticalValueAlert.objects.all())


def active_items() -> QuerySet[ExamItem]:
    """The catalogue as staff order from it."""
    return ExamItem.objects.filter(is_active=True).prefetch_related("ranges")


def patient_verified_results(*, patient_id: int) -> QuerySet[ExamResult]:
    """A patient's own verified results for their page, newest first."""
    return (
        ExamResult.objects.filter(patient_id=patient_id, verified_at__isnull=False)
        .select_related("item", "performing_institution")
        .order_by("-collected_on", "item__code", "-id")
    )


@dataclass(frozen=True)
class ReportLine:
    """An ordered item and its result, when the reader may see one."""

    item: ExamItem
    result: ExamResult | None


def report_lines(*, user: Any, order: ExamOrder) -> list[ReportLine]:
    """The order's items in order, each with the result the user may see (two queries)."""
    items = list(ExamOrderItem.objects.filter(order=order).select_related("item").order_by("id"))
    visible: dict[int | None, ExamResult] = {}
    rows = results_visible_to(user, ExamResult.objects.all())
    for result in rows.filter(order_item__order=order).select_related("item"):
        visible[result.order_item_id] = result
    return [ReportLine(item=line.item, result=visible.get(line.pk)) for line in items]
