"""django-filter FilterSets of the payments API (documented in /api/schema/).

Institutions and districts are filtered by code with plain text parameters, so a filter never
lists choices from outside the user's scope, and another scope's code gives an empty list, like
an unknown one (CONTRACTS §3).
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from payments.models import ClaimLine, SettlementLine, SettlementRun


class SettlementLineFilter(django_filters.FilterSet):
    institution = django_filters.CharFilter(
        field_name="institution__code", label=_("Institution code.")
    )
    district = django_filters.CharFilter(
        field_name="institution__district__code", label=_("Six-digit district code.")
    )

    class Meta:
        model = SettlementLine
        fields = ["institution", "district"]


class SettlementRunFilter(django_filters.FilterSet):
    scheme = django_filters.CharFilter(field_name="scheme__code", label=_("Scheme code."))
    period = django_filters.CharFilter(label=_("Period: YYYY, YYYY-MM or YYYY-Qn."))
    status = django_filters.ChoiceFilter(
        choices=SettlementRun.Status.choices, label=_("Run status.")
    )

    class Meta:
        model = SettlementRun
        fields = ["scheme", "period", "status"]


class ClaimLineFilter(django_filters.FilterSet):
    institution = django_filters.CharFilter(
        field_name="institution__code", label=_("Code of the institution that gave the service.")
    )
    service_date_from = django_filters.DateFilter(
        field_name="service_date", lookup_expr="gte", label=_("Service date on or after.")
    )
    service_date_to = django_filters.DateFilter(
        field_name="service_date", lookup_expr="lte", label=_("Service date on or before.")
    )
    category = django_filters.ChoiceFilter(
        choices=ClaimLine.Category.choices, label=_("Claim category.")
    )

    class Meta:
        model = ClaimLine
        fields = ["institution", "service_date_from", "service_date_to", "category"]
