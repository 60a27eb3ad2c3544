"""cloud_exams' figures on the operations-monitoring pages (cloud_management.monitoring),
registered in ``CloudExamsConfig.ready()``: counts only, one grouped query each."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from cloud_exams.models import CriticalValueAlert, ExamResult
from cloud_management.monitoring import register_metric


def results_verified_on(day: dt.date) -> dict[int, int]:
    """Results released on ``day`` (Asia/Shanghai), by performing institution."""
    rows = (
        ExamResult.objects.filter(verified_at__date=day)
        .order_by()
        .values("performing_institution_id")
        .annotate(n=Count("pk"))
        .values_list("performing_institution_id", "n")
    )
    return dict(rows)


def critical_values_open_on(day: dt.date) -> dict[int, int]:
    """Critical values raised by the end of ``day`` and not acknowledged by then, by ordering
    institution."""
    rows = (
        CriticalValueAlert.objects.filter(raised_at__date__lte=day)
        .filter(Q(acknowledged_at__isnull=True) | Q(acknowledged_at__date__gt=day))
        .order_by()
        .values("institution_id")
        .annotate(n=Count("pk"))
        .values_list("institution_id", "n")
    )
    return dict(rows)


def register_metrics() -> None:
    register_metric(
        "cloud_exams.results_verified_today", _("Exam results verified today"), results_verified_on
    )
    register_metric(
        "cloud_exams.critical_values_open",
        _("Critical values not yet acknowledged"),
        critical_values_open_on,
    )
