"""The staff admin for the shared registry (DESIGN.md "Who uses it"): in Chinese, scoped by the
user's StaffRoles, saving through :mod:`cloud_management.services`, and fast on 600,000
residents (bounded counts, indexed filters and orderings, autocomplete for foreign keys)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from cloud_management import services
from cloud_management.access import (
    institutions_editable_by,
    may_see_full_resident_id,
    scope_of,
    visible_to,
)
from cloud_management.admin_scoping import (
    ScopedModelAdmin,
    district_filter,
    institution_filter,
    institution_kind_filter,
    resident_search_q,
)
from cloud_management.identifiers import mask_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)

admin.site.site_header = _("HealthCommunity staff admin")
admin.site.site_title = _("HealthCommunity staff admin")
admin.site.index_title = _("Registry and records")

_AUTOCOMPLETE_URL_NAME = "autocomplete"


def _is_autocomplete(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and match.url_name == _AUTOCOMPLETE_URL_NAME


@admin.register(District)
class DistrictAdmin(ScopedModelAdmin):
    """The 16 districts are reference data: read-only for everyone but operators."""

    write_access = "operators"
    list_display = ("code", "name")
    search_fields = ("code", "name")
    ordering = ("code",)


@admin.register(Institution)
class InstitutionAdmin(ScopedModelAdmin):
    write_access = "operators"
    list_display = ("code", "name", "district", "kind", "is_chronic_care_centre", "is_active")
    list_select_related = ("district",)
    list_filter = (
        district_filter("district_id"),
        "kind",
        "is_chronic_care_centre",
        "is_active",
    )
    search_fields = ("code", "name")
    autocomplete_fields = ("district",)
    ordering = ("code",)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[Institution], search_term: str
    ) -> tuple[models.QuerySet[Institution], bool]:
        if _is_autocomplete(request):
            # Autocomplete serves forms that record something at the institution: offer only
            # the institutions the user may record at.
            queryset = queryset.filter(pk__in=institutions_editable_by(request.user).values("pk"))
        return super().get_search_results(request, queryset, search_term)


@admin.register(StaffRole)
class StaffRoleAdmin(ScopedModelAdmin):
    """Operators manage every role; an institution administrator sees their institution's staff."""

    write_access = "operators"
    list_display = ("user", "role", "institution", "district", "agency")
    list_select_related = ("user", "institution", "district")
    list_filter = ("role", institution_filter("institution_id"), "agency")
    search_fields = ("user__username",)
    autocomplete_fields = ("user", "institution", "district")
    ordering = ("user_id", "role")

    def _may_see_staff(self, request: HttpRequest) -> bool:
        scope = scope_of(request.user)
        return scope.is_operator or StaffRole.Role.INSTITUTION_ADMIN in scope.roles

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may_see_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self._may_see_staff(request)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[StaffRole]:
        queryset = super().get_queryset(request)
        if scope_of(request.user).is_operator:
            return queryset
        user = request.user
        if isinstance(user, AnonymousUser):
            return queryset.none()
        administered = StaffRole.objects.filter(
            user=user, role=StaffRole.Role.INSTITUTION_ADMIN
        ).values("institution_id")
        return queryset.filter(institution_id__in=administered)


class _ResidentSearchMixin:
    """Search a resident by name (beginning), phone (exact) or resident ID (exact)."""

    resident_prefix = ""
    search_help_text: Any = _("Name (its beginning), phone number or resident ID (exact).")

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[Any], search_term: str
    ) -> tuple[models.QuerySet[Any], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(resident_search_q(search_term, self.resident_prefix)), False


@admin.register(Patient)
class PatientAdmin(_ResidentSearchMixin, ScopedModelAdmin):
    list_display = (
        "name",
        "masked_id",
        "sex",
        "birth_date",
        "phone",
        "district",
        "home_institution",
        "insurance_type",
    )
    list_select_related = ("district", "home_institution")
    list_filter = (
        district_filter("district_id"),
        institution_filter("home_institution_id", _("home institution")),
        institution_kind_filter("home_institution__kind"),
        "sex",
        "insurance_type",
    )
    # Used by the search box only through get_search_results; each has an index.
    search_fields = ("name", "phone", "resident_id")
    autocomplete_fields = ("district", "home_institution")
    ordering = ("-id",)
    # Every offered ordering needs an index at 600,000 rows; the id order is the only one.
    sortable_by = ()
    readonly_fields = ("login",)
    _fields = (
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
    )

    @admin.display(description=_("resident ID"))
    def masked_id(self, obj: Patient) -> str:
        return mask_resident_id(obj.resident_id)

    @admin.display(description=_("patient login"))
    def login(self, obj: Patient) -> str:
        return obj.user.get_username() if obj.user_id and obj.user else "-"

    def _shows_full_id(self, request: HttpRequest, obj: Patient | None) -> bool:
        return obj is None or may_see_full_resident_id(request.user, obj)

    def get_fields(self, request: HttpRequest, obj: Patient | None = None) -> Any:
        fields = list(self._fields)
        if not self._shows_full_id(request, obj):
            fields[0] = "masked_id"
        if obj is not None:
            fields.append("login")
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Patient | None = None) -> list[str]:
        readonly = ["login"]
        if not self._shows_full_id(request, obj):
            readonly.append("masked_id")
        return readonly

    def save_with_service(
        self, request: HttpRequest, obj: Patient, form: forms.ModelForm[Patient], change: bool
    ) -> Patient:
        data = form.cleaned_data
        if not change:
            return services.register_patient(
                user=request.user, **{field: data[field] for field in self._fields}
            )
        changed = {field: data[field] for field in form.changed_data if field in self._fields}
        return services.update_patient(user=request.user, patient=obj, **changed)


@admin.register(FamilyDoctorContract)
class FamilyDoctorContractAdmin(_ResidentSearchMixin, ScopedModelAdmin):
    resident_prefix = "patient__"
    list_display = ("patient", "institution", "signed_on", "ended_on")
    list_select_related = ("patient", "institution")
    list_filter = (
        district_filter("institution__district_id"),
        institution_filter("institution_id"),
        institution_kind_filter("institution__kind"),
    )
    search_fields = ("patient__name",)
    autocomplete_fields = ("patient", "institution")
    ordering = ("-id",)
    sortable_by = ()

    def get_fields(self, request: HttpRequest, obj: FamilyDoctorContract | None = None) -> Any:
        return ["patient", "institution", "signed_on", "ended_on"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: FamilyDoctorContract | None = None
    ) -> list[str]:
        if obj is None:
            return []
        # A signed contract changes only by ending it.
        readonly = ["patient", "institution", "signed_on"]
        if obj.ended_on is not None:
            readonly.append("ended_on")
        return readonly

    def save_with_service(
        self,
        request: HttpRequest,
        obj: FamilyDoctorContract,
        form: forms.ModelForm[FamilyDoctorContract],
        change: bool,
    ) -> FamilyDoctorContract:
        data = form.cleaned_data
        if not change:
            return services.sign_contract(
                user=request.user,
                patient=data["patient"],
                institution=data["institution"],
                signed_on=data["signed_on"],
                ended_on=data["ended_on"],
            )
        if "ended_on" in form.changed_data and data["ended_on"] is not None:
            return services.end_contract(user=request.user, contract=obj, ended_on=data["ended_on"])
        return FamilyDoctorContract.objects.get(pk=obj.pk)


def _staff_with_role(request: HttpRequest, role: str) -> models.QuerySet[Any]:
    """Users holding ``role`` at an institution the acting user may see: a short list (an
    institution's doctors), not the user table."""
    roles = visible_to(request.user, StaffRole.objects.filter(role=role))
    return (
        get_user_model()
        ._default_manager.filter(pk__in=roles.values("user_id"))
        .order_by("username")
    )


@admin.register(DiabetesEnrollment)
class DiabetesEnrollmentAdmin(_ResidentSearchMixin, ScopedModelAdmin):
    resident_prefix = "patient__"
    list_display = (
        "patient",
        "institution",
        "diabetes_type",
        "diagnosis_code",
        "enrolled_on",
        "ended_on",
    )
    list_select_related = ("patient", "institution")
    list_filter = (
        district_filter("institution__district_id"),
        institution_filter("institution_id", _("responsible institution")),
        institution_kind_filter("institution__kind"),
        "diabetes_type",
    )
    search_fields = ("patient__name",)
    autocomplete_fields = ("patient", "institution")
    ordering = ("-id",)
    sortable_by = ()
    _add_fields = (
        "patient",
        "institution",
        "diabetes_type",
        "diagnosis_code",
        "enrolled_on",
        "ended_on",
        "responsible_doctor",
        "health_manager",
        "baseline_fbg",
        "baseline_hba1c",
    )

    def get_fields(self, request: HttpRequest, obj: DiabetesEnrollment | None = None) -> Any:
        if obj is None:
            return list(self._add_fields)
        return [*self._add_fields, "end_reason"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: DiabetesEnrollment | None = None
    ) -> list[str]:
        if obj is None:
            return []
        # An enrolment changes only by ending it (or by a transfer, through the API).
        editable = {"ended_on", "end_reason"} if obj.ended_on is None else set()
        return [field for field in self.get_fields(request, obj) if field not in editable]

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "responsible_doctor":
            kwargs["queryset"] = _staff_with_role(request, StaffRole.Role.DOCTOR)
        elif db_field.name == "health_manager":
            kwargs["queryset"] = _staff_with_role(request, StaffRole.Role.HEALTH_MANAGER)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_with_service(
        self,
        request: HttpRequest,
        obj: DiabetesEnrollment,
        form: forms.ModelForm[DiabetesEnrollment],
        change: bool,
    ) -> DiabetesEnrollment:
        data = form.cleaned_data
        if not change:
            return services.enrol_patient(
                user=request.user, **{field: data[field] for field in self._add_fields}
            )
        if "ended_on" not in form.changed_data or data["ended_on"] is None:
            if "end_reason" in form.changed_data:
                raise ValidationError(
                    {"ended_on": _("Enter the last day of the enrolment to record why it ends.")}
                )
            return DiabetesEnrollment.objects.get(pk=obj.pk)
        return services.end_enrolment(
            user=request.user,
            enrolment=obj,
            ended_on=data["ended_on"],
            reason=data.get("end_reason") or "",
        )
