"""Serializers of the registry API. Thin: parsing and presentation; the services validate.

Related fields offer and accept only the rows the requesting user may see
(:func:`cloud_management.access.visible_to`), so another scope's objects never appear in the
browsable API's forms and are rejected like missing ones. Resident IDs are masked everywhere but
in a record's own detail, and there only for users who may see them whole.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cloud_management.access import may_see_full_resident_id, visible_to
from cloud_management.identifiers import mask_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)

# Set by the views: True on a record's own detail (retrieve, and the answer to a create or an
# update), where whole resident IDs may be shown to users entitled to them.
REVEAL_RESIDENT_ID = "reveal_resident_id"


def _request_user(field: serializers.Field[Any, Any, Any, Any]) -> Any:
    request = field.context.get("request")
    return getattr(request, "user", None)


def _scoped_choices(
    field: serializers.RelatedField[Any, Any, Any], model: type[models.Model]
) -> models.QuerySet[Any]:
    """The rows the user may see, plus the value the edited row already holds (a resident
    registered elsewhere but under contract here keeps their home institution)."""
    queryset = visible_to(_request_user(field), model._default_manager.all())
    instance = getattr(field.parent, "instance", None)
    current = getattr(instance, f"{field.source}_id", None) if field.source else None
    if isinstance(instance, models.Model) and current is not None:
        return model._default_manager.filter(Q(pk__in=queryset.values("pk")) | Q(pk=current))
    return queryset


class ScopedSlugRelatedField(serializers.SlugRelatedField[Any]):
    """A related field by code whose choices are the rows the requesting user may see."""

    def __init__(self, *, model: type[models.Model], **kwargs: Any) -> None:
        self.scoped_model = model
        # An empty queryset names the model for the schema; get_queryset gives the rows.
        kwargs.setdefault("queryset", model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> models.QuerySet[Any]:
        return _scoped_choices(self, self.scoped_model)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField[Any]):
    """A related field by id whose choices are the rows the requesting user may see."""

    def __init__(self, *, model: type[models.Model], **kwargs: Any) -> None:
        self.scoped_model = model
        kwargs.setdefault("queryset", model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> models.QuerySet[Any]:
        return _scoped_choices(self, self.scoped_model)


class StaffMemberField(serializers.PrimaryKeyRelatedField[Any]):
    """A user holding ``role`` at an institution the requesting user may see."""

    def __init__(self, *, role: str, **kwargs: Any) -> None:
        self.role = role
        kwargs.setdefault("queryset", get_user_model()._default_manager.none())
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_queryset(self) -> models.QuerySet[Any]:
        roles = visible_to(_request_user(self), StaffRole.objects.filter(role=self.role))
        return get_user_model()._default_manager.filter(pk__in=roles.values("user_id"))


class DistrictSerializer(serializers.ModelSerializer[District]):
    class Meta:
        model = District
        fields = ["id", "code", "name"]


class InstitutionSerializer(serializers.ModelSerializer[Institution]):
    district: serializers.SlugRelatedField[District] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = Institution
        fields = ["id", "code", "name", "district", "kind", "is_chronic_care_centre", "is_active"]


class PatientSerializer(serializers.ModelSerializer[Patient]):
    resident_id = serializers.CharField(
        max_length=18,
        help_text=_(
            "GB 11643 resident ID. Masked (120104**********3X) in lists, and in a record's "
            "detail for users who may not see it whole."
        ),
    )
    district = ScopedSlugRelatedField(
        model=District,
        slug_field="code",
        required=False,
        help_text=_("Six-digit district code; defaults to the home institution's district."),
    )
    home_institution = ScopedSlugRelatedField(
        model=Institution, slug_field="code", help_text=_("Institution code.")
    )
    has_login = serializers.SerializerMethodField(help_text=_("The resident has a patient login."))

    class Meta:
        model = Patient
        fields = [
            "id",
            "resident_id",
            "name",
            "sex",
            "birth_date",
            "phone",
            "address",
            "district",
            "home_institution",
            "insurance_type",
            "insurance_number",
            "has_login",
        ]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_has_login(self, obj: Patient) -> bool:
        return obj.user_id is not None

    def to_representation(self, instance: Patient) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        reveal = self.context.get(REVEAL_RESIDENT_ID, False) and may_see_full_resident_id(
            _request_user(self), instance
        )
        if not reveal:
            data["resident_id"] = mask_resident_id(instance.resident_id)
        return data


class _ResidentColumnsMixin(serializers.Serializer[Any]):
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    patient_resident_id = serializers.SerializerMethodField(
        help_text=_("The resident's ID, always masked here.")
    )

    @extend_schema_field(OpenApiTypes.STR)
    def get_patient_resident_id(self, obj: Any) -> str:
        return mask_resident_id(obj.patient.resident_id)


class ContractSerializer(_ResidentColumnsMixin, serializers.ModelSerializer[FamilyDoctorContract]):
    patient = ScopedPrimaryKeyRelatedField(model=Patient, help_text=_("Resident id."))
    institution = ScopedSlugRelatedField(
        model=Institution, slug_field="code", help_text=_("Institution code.")
    )

    class Meta:
        model = FamilyDoctorContract
        fields = [
            "id",
            "patient",
            "patient_name",
            "patient_resident_id",
            "institution",
            "signed_on",
            "ended_on",
        ]
        # The services check one contract per resident at a time.
        validators: list[Any] = []


class ContractEndSerializer(serializers.Serializer[Any]):
    ended_on = serializers.DateField(help_text=_("The last day the contract covers."))


class EnrolmentSerializer(_ResidentColumnsMixin, serializers.ModelSerializer[DiabetesEnrollment]):
    patient = ScopedPrimaryKeyRelatedField(model=Patient, help_text=_("Resident id."))
    institution = ScopedSlugRelatedField(
        model=Institution, slug_field="code", help_text=_("Responsible institution code.")
    )
    responsible_doctor = StaffMemberField(
        role=StaffRole.Role.DOCTOR, help_text=_("User id of a doctor of the institution.")
    )
    health_manager = StaffMemberField(
        role=StaffRole.Role.HEALTH_MANAGER,
        help_text=_("User id of a health manager of the institution."),
    )

    class Meta:
        model = DiabetesEnrollment
        fields = [
            "id",
            "patient",
            "patient_name",
            "patient_resident_id",
            "institution",
            "diabetes_type",
            "diagnosis_code",
            "enrolled_on",
            "ended_on",
            "end_reason",
            "responsible_doctor",
            "health_manager",
            "baseline_fbg",
            "baseline_hba1c",
        ]
        read_only_fields = ["end_reason"]
        # One enrolment per resident per day is checked by the service and the database.
        validators: list[Any] = []


class EnrolmentEndSerializer(serializers.Serializer[Any]):
    ended_on = serializers.DateField(help_text=_("The last day the enrolment covers."))
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EnrolmentTransferSerializer(serializers.Serializer[Any]):
    to_institution = ScopedSlugRelatedField(
        model=Institution, slug_field="code", help_text=_("Code of the receiving institution.")
    )
    transfer_on = serializers.DateField(
        help_text=_(
            "First day at the receiving institution; the current enrolment ends the day before."
        )
    )
    responsible_doctor = StaffMemberField(role=StaffRole.Role.DOCTOR)
    health_manager = StaffMemberField(role=StaffRole.Role.HEALTH_MANAGER)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
