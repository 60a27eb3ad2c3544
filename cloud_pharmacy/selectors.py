"""Reads of the cloud pharmacy for the API, the admin, the patient page and the supply screens.
Set-based: each function is one query (or a fixed few) whatever the number of rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet, Sum
from django.utils import timezone

from cloud_management.access import visible_to
from cloud_pharmacy.models import (
    DispensingLine,
    Drug,
    Prescription,
    PrescriptionEvent,
    ReviewFinding,
    StockBatch,
)


def prescriptions_visible_to(user: Any) -> QuerySet[Prescription]:
    return visible_to(
        user,
        Prescription.objects.select_related(
            "patient", "institution", "dispensing_institution", "prescriber"
        ),
    )


def patient_prescriptions(*, patient_id: int) -> QuerySet[Prescription]:
    """A resident's prescriptions with lines, findings and the circulation timeline."""
    return (
        Prescription.objects.filter(patient_id=patient_id)
        .select_related("institution", "dispensing_institution")
        .prefetch_related(
            "lines__drug",
            Prefetch("findings", queryset=ReviewFinding.objects.order_by("id")),
            Prefetch(
                "events",
                queryset=PrescriptionEvent.objects.select_related("institution").order_by(
                    "at", "id"
                ),
            ),
        )
        .order_by("-written_at", "-id")
    )


def stock_visible_to(user: Any) -> QuerySet[StockBatch]:
    return visible_to(user, StockBatch.objects.select_related("institution", "drug"))


def expiring_batches(
    *, institution_ids: list[int] | None = None, within_days: int = 90, on: dt.date | None = None
) -> QuerySet[StockBatch]:
    """Batches with stock that expire within ``within_days`` (already expired ones included),
    soonest first: the expiry alert list."""
    today = on or timezone.localdate()
    rows = StockBatch.objects.filter(
        quantity__gt=0, expires_on__lte=today + dt.timedelta(days=within_days)
    )
    if institution_ids is not None:
        rows = rows.filter(institution_id__in=institution_ids)
    return rows.select_related("institution", "drug").order_by("expires_on", "id")


@dataclass(frozen=True)
class ReorderSuggestion:
    drug_id: int
    drug: str
    consumed: int
    # Dispensed units a day, to 0.01 (a quantity of a drug, kept exact like every other figure).
    daily_use: Decimal
    on_hand: int
    suggested: int


def reorder_suggestions(
    *,
    institution_id: int,
    lookback_days: int = 90,
    cover_days: int = 30,
    on: dt.date | None = None,
) -> list[ReorderSuggestion]:
    """Drugs to reorder: the average daily use over ``lookback_days`` (dispensed units) times
    ``cover_days``, less the unexpired stock on hand. Two queries."""
    today = on or timezone.localdate()
    since = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=lookback_days), dt.time.min)
    )
    consumed = dict(
        DispensingLine.objects.filter(
            dispensing__institution_id=institution_id, dispensing__dispensed_at__gte=since
        )
        .values("batch__drug_id")
        .annotate(total=Sum("quantity"))
        .values_list("batch__drug_id", "total")
    )
    if not consumed:
        return []
    on_hand = dict(
        StockBatch.objects.filter(
            institution_id=institution_id, drug_id__in=list(consumed), expires_on__gt=today
        )
        .values("drug_id")
        .annotate(total=Sum("quantity"))
        .values_list("drug_id", "total")
    )
    names = {drug.pk: str(drug) for drug in Drug.objects.filter(pk__in=list(consumed))}
    suggestions = []
    for drug_id, total in sorted(consumed.items()):
        # ceil(total / lookback_days × cover_days) in integers: no float rounding up a unit.
        need = -(-total * cover_days // lookback_days)
        held = on_hand.get(drug_id) or 0
        if need > held:
            suggestions.append(
                ReorderSuggestion(
                    drug_id=drug_id,
                    drug=names[drug_id],
                    consumed=total,
                    daily_use=(Decimal(total) / lookback_days).quantize(
                        Decimal("0.01"), rounding=ROUND_HALF_UP
                    ),
                    on_hand=held,
                    suggested=need - held,
                )
            )
    return suggestions
