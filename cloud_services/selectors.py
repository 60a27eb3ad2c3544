"""Reads of cloud_services used by the API, the admin, the patient pages and the demo: set-based
(no query per row), returning QuerySets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from cloud_management.access import visible_to
from cloud_management.models import Institution
from cloud_services.models import Booking, ServiceItem, ServiceSlot, VisitEvent


def active_items() -> QuerySet[ServiceItem]:
    """The bookable catalogue, in catalogue order."""
    return ServiceItem.objects.filter(is_active=True).prefetch_related("exam_items")


def available_slots(
    *,
    institution_code: str | None = None,
    item_code: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    only_open: bool = False,
) -> QuerySet[ServiceSlot]:
    """Slots from ``date_from`` (today by default) with their institution; ``only_open``
    keeps those with a place left."""
    slots = ServiceSlot.objects.select_related("institution").filter(
        date__gte=date_from or timezone.localdate()
    )
    if date_to is not None:
        slots = slots.filter(date__lte=date_to)
    if institution_code:
        slots = slots.filter(institution__code=institution_code)
    if item_code:
        slots = slots.filter(items__code=item_code, items__is_active=True)
    if only_open:
        slots = slots.filter(booked__lt=F("capacity"))
    return slots.order_by("date", "start", "institution__code", "pk")


def institutions_offering(*, item_code: str) -> QuerySet[Institution]:
    """Active institutions with an open slot for the service from today on."""
    slot_institutions = available_slots(item_code=item_code, only_open=True).values(
        "institution_id"
    )
    return (
        Institution.objects.filter(is_active=True, pk__in=slot_institutions)
        .select_related("district")
        .order_by("district__code", "code")
    )


def bookings_visible_to(user: Any) -> QuerySet[Booking]:
    """The bookings the user may see: their institution's, their district's, or their own."""
    return visible_to(
        user,
        Booking.objects.select_related("slot", "slot__institution", "item", "patient", "nurse"),
    )


def patient_bookings(*, patient_id: int) -> QuerySet[Booking]:
    """One patient's bookings, the coming ones first."""
    return (
        Booking.objects.filter(patient_id=patient_id)
        .select_related("slot", "slot__institution", "item", "nurse")
        .order_by("-slot__date", "-slot__start", "-id")
    )


def bookings_for_day(*, user: Any, day: dt.date) -> QuerySet[Booking]:
    """The day's bookings at the user's institutions, per slot."""
    return (
        bookings_visible_to(user)
        .filter(slot__date=day)
        .order_by("slot__institution__code", "slot__start", "status", "id")
    )


def events_of(booking: Booking) -> QuerySet[VisitEvent]:
    return VisitEvent.objects.filter(booking=booking).select_related("by").order_by("at", "id")
