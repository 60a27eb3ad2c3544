"""Chronic care's figures on the operations-monitoring pages (cloud_management.monitoring),
registered in ``ChronicCareConfig.ready()``: one grouped query each, per institution where the
follow-up was given."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from chronic_care.models import FollowUp
from cloud_management.monitoring import register_metric

URGENT_WINDOW_DAYS = 7


def follow_ups_on(day: dt.date) -> dict[int, int]:
    """Follow-ups given on ``day``, by institution."""
    rows = (
        FollowUp.objects.filter(date=day)
        .order_by()
        .values("institution_id")
        .annotate(n=Count("pk"))
        .values_list("institution_id", "n")
    )
    return dict(rows)


def urgent_referrals_in_week(day: dt.date) -> dict[int, int]:
    """Follow-ups marked for urgent referral in the seven days up to ``day``, by institution."""
    rows = (
        FollowUp.objects.filter(
            needs_urgent_referral=True,
            date__gt=day - dt.timedelta(days=URGENT_WINDOW_DAYS),
            date__lte=day,
        )
        .order_by()
        .values("institution_id")
        .annotate(n=Count("pk"))
        .values_list("institution_id", "n")
    )
    return dict(rows)


def register_metrics() -> None:
    register_metric("chronic_care.follow_ups_today", _("Diabetes follow-ups today"), follow_ups_on)
    register_metric(
        "chronic_care.urgent_referrals_week",
        _("Urgent referrals in the past 7 days"),
        urgent_referrals_in_week,
    )
