"""django-filter FilterSets of the home-services API (documented in /api/schema/)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from cloud_services.models import Booking, ServiceItem, ServiceSlot


class ServiceItemFilter(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=ServiceItem.Category.choices)

    class Meta:
        model = ServiceItem
        fields = ["category"]


class ServiceSlotFilter(django_filters.FilterSet):
    institution = django_filters.CharFilter(
        field_name="institution__code", label=_("institution code")
    )
    item = django_filters.CharFilter(field_name="items__code", label=_("home service code"))
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = ServiceSlot
        fields = ["institution", "item", "date_from", "date_to"]


class BookingFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Booking.Status.choices)
    institution = django_filters.CharFilter(
        field_name="slot__institution__code", label=_("institution code")
    )
    date_from = django_filters.DateFilter(field_name="slot__date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="slot__date", lookup_expr="lte")

    class Meta:
        model = Booking
        fields = ["status", "institution", "date_from", "date_to"]
