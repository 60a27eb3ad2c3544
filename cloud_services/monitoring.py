"""cloud_services' figures on the operations-monitoring pages (cloud_management.monitoring),
registered in ``CloudServicesConfig.ready()``: counts only, one grouped query each."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from cloud_management.monitoring import register_metric
from cloud_services.models import Booking


def home_visits_on(day: dt.date) -> dict[int, int]:
    """Home-service bookings for ``day`` that still hold their place (active, completed or
    no-show), by institution."""
    rows = (
        Booking.objects.filter(slot__date=day)
        .exclude(status=Booking.Status.CANCELLED)
        .order_by()
        .values("slot__institution_id")
        .annotate(n=Count("pk"))
        .values_list("slot__institution_id", "n")
    )
    return dict(rows)


def bookings_awaiting_confirmation_on(day: dt.date) -> dict[int, int]:
    """Bookings still ``requested`` for ``day`` or later (the institution has not confirmed
    them yet), by institution."""
    rows = (
        Booking.objects.filter(slot__date__gte=day, status=Booking.Status.REQUESTED)
        .order_by()
        .values("slot__institution_id")
        .annotate(n=Count("pk"))
        .values_list("slot__institution_id", "n")
    )
    return dict(rows)


def register_metrics() -> None:
    register_metric("cloud_services.home_visits_today", _("Home visits today"), home_visits_on)
    register_metric(
        "cloud_services.bookings_awaiting_confirmation",
        _("Home-service bookings awaiting confirmation"),
        bookings_awaiting_confirmation_on,
    )
