"""cloud_pharmacy's figures on the operations-monitoring pages (cloud_management.monitoring),
registered in ``CloudPharmacyConfig.ready()``: counts only, one grouped query each."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from cloud_management.monitoring import register_metric
from cloud_pharmacy.models import Dispensing, Prescription


def prescriptions_dispensed_on(day: dt.date) -> dict[int, int]:
    """Prescriptions dispensed on ``day`` (Asia/Shanghai), by dispensing institution."""
    rows = (
        Dispensing.objects.filter(dispensed_at__date=day)
        .order_by()
        .values("institution_id")
        .annotate(n=Count("pk"))
        .values_list("institution_id", "n")
    )
    return dict(rows)


def prescriptions_awaiting_review_on(day: dt.date) -> dict[int, int]:
    """Prescriptions written by the end of ``day`` still awaiting a pharmacist (pending review
    or blocked), by dispensing institution: today's review queue when ``day`` is today."""
    rows = (
        Prescription.objects.filter(
            written_at__date__lte=day,
            status__in=[Prescription.Status.PENDING_REVIEW, Prescription.Status.BLOCKED],
        )
        .order_by()
        .values("dispensing_institution_id")
        .annotate(n=Count("pk"))
        .values_list("dispensing_institution_id", "n")
    )
    return dict(rows)


def register_metrics() -> None:
    register_metric(
        "cloud_pharmacy.dispensed_today",
        _("Prescriptions dispensed today"),
        prescriptions_dispensed_on,
    )
    register_metric(
        "cloud_pharmacy.awaiting_review",
        _("Prescriptions awaiting pharmacist review"),
        prescriptions_awaiting_review_on,
    )
