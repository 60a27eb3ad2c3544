"""django-filter FilterSets of the exams API (documented in /api/schema/). Codes are plain text
parameters, so a code from another scope gives an empty list, exactly like an unknown one."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from cloud_exams.models import CriticalValueAlert, ExamOrder, ExamResult


class ExamOrderFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id", label=_("resident (id)"))
    institution = django_filters.CharFilter(
        field_name="ordering_institution__code", label=_("ordering institution code")
    )
    source = django_filters.ChoiceFilter(choices=ExamOrder.Source.choices)
    ordered_from = django_filters.DateFilter(field_name="ordered_at__date", lookup_expr="gte")
    ordered_to = django_filters.DateFilter(field_name="ordered_at__date", lookup_expr="lte")

    class Meta:
        model = ExamOrder
        fields = ["patient", "institution", "source", "ordered_from", "ordered_to"]


class ExamResultFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id", label=_("resident (id)"))
    item = django_filters.CharFilter(field_name="item__code", label=_("exam item code"))
    order = django_filters.NumberFilter(field_name="order_item__order_id", label=_("order (id)"))
    flag = django_filters.ChoiceFilter(choices=ExamResult.Flag.choices)
    verified = django_filters.BooleanFilter(
        field_name="verified_at", lookup_expr="isnull", exclude=True, label=_("verified")
    )
    collected_from = django_filters.DateFilter(field_name="collected_on", lookup_expr="gte")
    collected_to = django_filters.DateFilter(field_name="collected_on", lookup_expr="lte")

    class Meta:
        model = ExamResult
        fields = ["patient", "item", "order", "flag", "verified", "collected_from", "collected_to"]


class CriticalValueAlertFilter(django_filters.FilterSet):
    is_open = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", label=_("open")
    )

    class Meta:
        model = CriticalValueAlert
        fields = ["is_open"]
