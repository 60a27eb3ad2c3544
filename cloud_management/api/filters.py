"""django-filter FilterSets of the registry API (documented in /api/schema/).

Districts and institutions are filtered by code with plain text parameters, so a filter never
lists choices from outside the user's scope, and a code from another scope gives an empty list,
exactly like an unknown one (CONTRACTS §3).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cloud_management.identifiers import normalize_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
)


def _active_on(start_field: str) -> Any:
    def method(queryset: models.QuerySet[Any], name: str, value: dt.date) -> models.QuerySet[Any]:
        if value is None:
            return queryset
        return queryset.filter(
            Q(**{f"{start_field}__lte": value})
            & (Q(ended_on__isnull=True) | Q(ended_on__gte=value))
        )

    return method


class DistrictFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(label=_("Six-digit district code."))

    class Meta:
        model = District
        fields = ["code"]


class InstitutionFilter(django_filters.FilterSet):
    code = django_filters.CharFilter(label=_("Institution code."))
    district = django_filters.CharFilter(field_name="district__code", label=_("District code."))
    kind = django_filters.ChoiceFilter(
        choices=Institution.Kind.choices, label=_("Institution kind.")
    )
    is_chronic_care_centre = django_filters.BooleanFilter(label=_("Is a chronic-care centre."))
    is_active = django_filters.BooleanFilter(label=_("Is active."))

    class Meta:
        model = Institution
        fields = ["code", "district", "kind", "is_chronic_care_centre", "is_active"]


class PatientFilter(django_filters.FilterSet):
    district = django_filters.CharFilter(field_name="district__code", label=_("District code."))
    institution = django_filters.CharFilter(
        field_name="home_institution__code", label=_("Home institution code.")
    )
    institution_kind = django_filters.ChoiceFilter(
        field_name="home_institution__kind",
        choices=Institution.Kind.choices,
        label=_("Home institution kind."),
    )
    name = django_filters.CharFilter(lookup_expr="startswith", label=_("Beginning of the name."))
    phone = django_filters.CharFilter(label=_("Phone number (exact)."))
    resident_id = django_filters.CharFilter(
        method="filter_resident_id", label=_("Resident ID (exact).")
    )
    sex = django_filters.ChoiceFilter(choices=Patient.Sex.choices, label=_("Sex."))
    insurance_type = django_filters.ChoiceFilter(
        choices=Patient.InsuranceType.choices, label=_("Insurance type.")
    )

    class Meta:
        model = Patient
        fields = [
            "district",
            "institution",
            "institution_kind",
            "name",
            "phone",
            "resident_id",
            "sex",
            "insurance_type",
        ]

    def filter_resident_id(
        self, queryset: models.QuerySet[Patient], name: str, value: str
    ) -> models.QuerySet[Patient]:
        return queryset.filter(resident_id=normalize_resident_id(value))


class ContractFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id", label=_("Resident id."))
    institution = django_filters.CharFilter(
        field_name="institution__code", label=_("Institution code.")
    )
    district = django_filters.CharFilter(
        field_name="institution__district__code", label=_("District code of the institution.")
    )
    active_on = django_filters.DateFilter(
        method=_active_on("signed_on"), label=_("Contracts running on this day (YYYY-MM-DD).")
    )

    class Meta:
        model = FamilyDoctorContract
        fields = ["patient", "institution", "district", "active_on"]


class EnrolmentFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id", label=_("Resident id."))
    institution = django_filters.CharFilter(
        field_name="institution__code", label=_("Responsible institution code.")
    )
    district = django_filters.CharFilter(
        field_name="institution__district__code", label=_("District code of the institution.")
    )
    diabetes_type = django_filters.ChoiceFilter(
        choices=DiabetesEnrollment.DiabetesType.choices, label=_("Diabetes type.")
    )
    active_on = django_filters.DateFilter(
        method=_active_on("enrolled_on"), label=_("Enrolments running on this day (YYYY-MM-DD).")
    )

    class Meta:
        model = DiabetesEnrollment
        fields = ["patient", "institution", "district", "diabetes_type", "active_on"]
