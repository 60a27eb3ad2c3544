"""Staff screens of the cloud pharmacy: the formulary and its rule tables (operators change
them), prescriptions with their findings, the review audit, stock, dispensings and
replenishment orders.

Rows follow the user's scope (:class:`ScopedModelAdmin`): prescribers see what their institution
wrote, pharmacists what their institution dispenses. Every state change is an admin action that
calls a service, which checks the user's role at the institution concerned; no status field is
editable, so a blocked prescription cannot be dispensed from here either.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cloud_management.access import scope_of, visible_to
from cloud_management.admin_scoping import ScopedModelAdmin, institution_filter
from cloud_management.identifiers import normalize_resident_id
from cloud_management.models import Institution, Patient, StaffRole
from cloud_pharmacy import services
from cloud_pharmacy.forms import LineFormSet, PrescriptionForm
from cloud_pharmacy.models import (
    Contraindication,
    Dispensing,
    DispensingLine,
    Drug,
    Interaction,
    Prescription,
    PrescriptionEvent,
    PrescriptionLine,
    ReplenishmentLine,
    ReplenishmentOrder,
    ReviewDecision,
    ReviewFinding,
    ShipmentLine,
    StockBatch,
)


class JustificationActionForm(ActionForm):
    justification = forms.CharField(label=_("justification"), required=False, max_length=2000)


def _run(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    rows: Any,
    call: Any,
    done_message: str,
) -> None:
    """Call the service for each row; report successes and each refusal with its reason."""
    done = 0
    for row in rows:
        try:
            call(row)
        except (ValidationError, PermissionDenied) as exc:
            reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            modeladmin.message_user(request, f"{row}: {reason}", level=messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, level=messages.SUCCESS)


def _justification(request: HttpRequest) -> str:
    return str(request.POST.get("justification", ""))


class _ReadOnlyScopedAdmin(ScopedModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


# --- Formulary ---------------------------------------------------------------------------


class _OperatorWritesAdmin(admin.ModelAdmin):
    """Every staff member reads the formulary; platform operators change it."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return scope_of(request.user).may_use_admin

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return scope_of(request.user).is_operator

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).is_operator

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).is_operator


class ContraindicationInline(admin.TabularInline):
    model = Contraindication
    extra = 0
    fields = ("kind", "icd10_prefix", "lab_item_code", "comparator", "limit", "severity", "note")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).is_operator

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).is_operator

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).is_operator


@admin.register(Drug)
class DrugAdmin(_OperatorWritesAdmin):
    list_display = (
        "code",
        "generic_name",
        "brand_name",
        "atc_code",
        "strength",
        "strength_unit",
        "unit",
        "price",
        "insurance_category",
        "max_daily_dose",
        "is_controlled",
        "is_antimicrobial",
        "is_active",
    )
    list_filter = ("insurance_category", "form", "is_controlled", "is_antimicrobial", "is_active")
    search_fields = ("code", "generic_name", "brand_name", "atc_code")
    inlines = [ContraindicationInline]


@admin.register(Interaction)
class InteractionAdmin(_OperatorWritesAdmin):
    list_display = ("atc_a", "atc_b", "severity", "effect", "source")
    list_filter = ("severity",)
    search_fields = ("atc_a", "atc_b", "effect")


# --- Prescriptions -------------------------------------------------------------------------


class LineInline(admin.TabularInline):
    model = PrescriptionLine
    extra = 0
    can_delete = False
    fields = ("drug", "dose", "frequency", "route", "days", "quantity", "unit_price", "amount")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FindingInline(admin.TabularInline):
    model = ReviewFinding
    extra = 0
    can_delete = False
    fields = ("severity", "code", "rule", "reason", "is_overridden")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DecisionInline(admin.TabularInline):
    model = ReviewDecision
    extra = 0
    can_delete = False
    fields = ("decided_at", "action", "decided_by", "finding", "justification", "status_after")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = PrescriptionEvent
    extra = 0
    can_delete = False
    fields = ("at", "status", "institution", "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Prescription)
class PrescriptionAdmin(_ReadOnlyScopedAdmin):
    """Prescriptions: the review queue of the dispensing pharmacists and the prescribers' list."""

    list_display = (
        "id",
        "written_at",
        "patient",
        "institution",
        "dispensing_institution",
        "fulfilment",
        "status",
        "blocking_findings",
        "open_warnings",
        "total_amount",
    )
    list_filter = (
        "status",
        "fulfilment",
        "is_long",
        institution_filter("dispensing_institution_id", _("dispensing institution")),
    )
    list_select_related = ("patient", "institution", "dispensing_institution")
    search_fields = ("=id", "patient__name")
    fields = (
        "patient",
        "institution",
        "prescriber",
        "written_at",
        "diagnosis_codes",
        "is_pregnant",
        "is_long",
        "extended_reason",
        "fulfilment",
        "dispensing_institution",
        "delivery_address",
        "status",
        "blocking_findings",
        "open_warnings",
        "reviewed_at",
        "total_amount",
    )
    readonly_fields = fields
    inlines = [LineInline, FindingInline, DecisionInline, EventInline]
    action_form = JustificationActionForm
    actions = ["approve", "reject", "dispense", "confirm_delivery", "cancel"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- Writing: a doctor's form calling the same service as the API -------------------

    def get_urls(self) -> list[URLPattern]:
        write = path(
            "write/",
            self.admin_site.admin_view(self.write_view),
            name="cloud_pharmacy_prescription_write",
        )
        return [write, *super().get_urls()]

    def _prescribing_institutions(self, request: HttpRequest) -> models.QuerySet[Institution]:
        if scope_of(request.user).is_operator:
            return Institution.objects.filter(is_active=True).order_by("code")
        return Institution.objects.filter(
            is_active=True,
            staff_roles__user_id=request.user.pk or 0,
            staff_roles__role=StaffRole.Role.DOCTOR,
        ).order_by("code")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"may_prescribe": self._prescribing_institutions(request).exists()}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def write_view(self, request: HttpRequest) -> HttpResponse:
        institutions = self._prescribing_institutions(request)
        if not institutions.exists():
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form = PrescriptionForm(data, institutions=institutions)
        lines = LineFormSet(data, prefix="lines")
        service_errors: list[str] = []
        if data is not None and form.is_valid() and lines.is_valid():
            values = form.cleaned_data
            patient = (
                visible_to(request.user, Patient.objects.all())
                .filter(resident_id=normalize_resident_id(values["resident_id"]))
                .first()
            )
            dispensing = None
            if values["dispensing_institution"]:
                dispensing = Institution.objects.filter(
                    code=values["dispensing_institution"].strip(), is_active=True
                ).first()
            if patient is None:
                form.add_error("resident_id", gettext("No resident you may see has this ID."))
            elif values["dispensing_institution"] and dispensing is None:
                form.add_error("dispensing_institution", gettext("Unknown institution code."))
            else:
                try:
                    prescription = services.write_prescription(
                        user=request.user,
                        patient=patient,
                        institution=values["institution"],
                        diagnosis_codes=values["diagnosis_codes"].split(";"),
                        lines=[
                            services.LineInput(
                                drug=row["drug"],
                                dose=row["dose"],
                                frequency=row["frequency"],
                                route=row["route"],
                                days=row["days"],
                                quantity=row["quantity"],
                            )
                            for row in lines.cleaned_data
                            if row.get("drug") is not None
                        ],
                        fulfilment=values["fulfilment"],
                        dispensing_institution=dispensing,
                        delivery_address=values["delivery_address"],
                        is_long=values["is_long"],
                        extended_reason=values["extended_reason"],
                        is_pregnant=values["is_pregnant"],
                    )
                except ValidationError as exc:
                    service_errors = [
                        f"{field}: {message}" if field != "__all__" else message
                        for field, messages in exc.message_dict.items()
                        for message in messages
                    ]
                except PermissionDenied as exc:
                    service_errors = [str(exc)]
                else:
                    self.message_user(
                        request,
                        gettext("Prescription %(id)s written: %(status)s.")
                        % {"id": prescription.pk, "status": prescription.get_status_display()},
                        level=messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:cloud_pharmacy_prescription_change", args=[prescription.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Write a prescription"),
            "form": form,
            "lines": lines,
            "service_errors": service_errors,
        }
        return TemplateResponse(request, "admin/cloud_pharmacy/prescription/write.html", context)

    @admin.action(description=_("Approve the selected prescriptions"))
    def approve(self, request: HttpRequest, queryset: models.QuerySet[Prescription]) -> None:
        justification = _justification(request)
        _run(
            self,
            request,
            queryset,
            lambda rx: services.approve_prescription(
                user=request.user, prescription=rx, justification=justification
            ),
            gettext("%(count)s prescriptions approved."),
        )

    @admin.action(description=_("Reject the selected prescriptions (give the reason)"))
    def reject(self, request: HttpRequest, queryset: models.QuerySet[Prescription]) -> None:
        justification = _justification(request)
        _run(
            self,
            request,
            queryset,
            lambda rx: services.reject_prescription(
                user=request.user, prescription=rx, justification=justification
            ),
            gettext("%(count)s prescriptions rejected."),
        )

    @admin.action(description=_("Dispense the selected prescriptions"))
    def dispense(self, request: HttpRequest, queryset: models.QuerySet[Prescription]) -> None:
        _run(
            self,
            request,
            queryset,
            lambda rx: services.dispense_prescription(user=request.user, prescription=rx),
            gettext("%(count)s prescriptions dispensed."),
        )

    @admin.action(description=_("Record the delivery of the selected prescriptions"))
    def confirm_delivery(
        self, request: HttpRequest, queryset: models.QuerySet[Prescription]
    ) -> None:
        _run(
            self,
            request,
            queryset,
            lambda rx: services.confirm_delivery(user=request.user, prescription=rx),
            gettext("%(count)s deliveries recorded."),
        )

    @admin.action(description=_("Cancel the selected prescriptions"))
    def cancel(self, request: HttpRequest, queryset: models.QuerySet[Prescription]) -> None:
        _run(
            self,
            request,
            queryset,
            lambda rx: services.cancel_prescription(user=request.user, prescription=rx),
            gettext("%(count)s prescriptions cancelled."),
        )


@admin.register(ReviewFinding)
class ReviewFindingAdmin(_ReadOnlyScopedAdmin):
    list_display = ("prescription", "severity", "code", "rule", "reason", "is_overridden")
    list_filter = ("severity", "code", "is_overridden")
    list_select_related = ("prescription",)
    fields = ("prescription", "line", "rule", "code", "severity", "reason", "is_overridden")
    readonly_fields = fields
    action_form = JustificationActionForm
    actions = ["override"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Override the selected warnings (give the justification)"))
    def override(self, request: HttpRequest, queryset: models.QuerySet[ReviewFinding]) -> None:
        justification = _justification(request)
        _run(
            self,
            request,
            queryset,
            lambda finding: services.override_finding(
                user=request.user, finding=finding, justification=justification
            ),
            gettext("%(count)s warnings overridden."),
        )


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(_ReadOnlyScopedAdmin):
    """The review audit: read-only for everyone."""

    list_display = ("decided_at", "prescription", "action", "decided_by", "status_after")
    list_filter = ("action",)
    list_select_related = ("prescription", "decided_by")
    readonly_fields = (
        "prescription",
        "finding",
        "action",
        "decided_by",
        "justification",
        "status_before",
        "status_after",
        "decided_at",
    )
    fields = readonly_fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


# --- Stock and dispensing --------------------------------------------------------------------


class StockBatchForm(forms.ModelForm):
    class Meta:
        model = StockBatch
        fields = ["institution", "drug", "batch_number", "expires_on", "quantity"]


@admin.register(StockBatch)
class StockBatchAdmin(ScopedModelAdmin):
    """Stock by batch. Pharmacists receive a delivery by adding a batch (or more of one);
    quantities change otherwise only by dispensing and replenishment."""

    form = StockBatchForm
    list_display = ("drug", "institution", "batch_number", "expires_on", "quantity")
    list_filter = (institution_filter("institution_id"), "expires_on")
    list_select_related = ("drug", "institution")
    search_fields = ("batch_number", "drug__generic_name", "drug__code")

    def has_add_permission(self, request: HttpRequest) -> bool:
        scope = scope_of(request.user)
        return scope.is_operator or StaffRole.Role.PHARMACIST in scope.roles

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        # A saved batch changes only through dispensing and replenishment.
        return obj is None and self.has_add_permission(request)

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool
    ) -> Any:
        return services.receive_stock(
            user=request.user,
            institution=obj.institution,
            drug=obj.drug,
            batch_number=obj.batch_number,
            expires_on=obj.expires_on,
            quantity=obj.quantity,
        )


class DispensingLineInline(admin.TabularInline):
    model = DispensingLine
    extra = 0
    can_delete = False
    fields = ("line", "batch", "quantity")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Dispensing)
class DispensingAdmin(_ReadOnlyScopedAdmin):
    list_display = (
        "dispensed_at",
        "prescription",
        "institution",
        "total_amount",
        "fund_paid",
        "self_paid",
    )
    list_select_related = ("prescription", "institution")
    fields = (
        "prescription",
        "institution",
        "pharmacist",
        "dispensed_at",
        "total_amount",
        "fund_paid",
        "self_paid",
        "claim_line",
    )
    readonly_fields = fields
    inlines = [DispensingLineInline]


class ReplenishmentLineInline(admin.TabularInline):
    model = ReplenishmentLine
    extra = 0
    can_delete = False
    fields = ("drug", "quantity")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    can_delete = False
    fields = ("drug", "batch_number", "expires_on", "quantity")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReplenishmentOrder)
class ReplenishmentOrderAdmin(_ReadOnlyScopedAdmin):
    list_display = ("id", "institution", "supplier", "status", "requested_at", "received_at")
    list_filter = ("status",)
    list_select_related = ("institution", "supplier")
    fields = (
        "institution",
        "supplier",
        "status",
        "requested_by",
        "requested_at",
        "shipped_at",
        "received_at",
    )
    readonly_fields = fields
    inlines = [ReplenishmentLineInline, ShipmentLineInline]
    actions = ["ship", "receive"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Ship the selected orders (central pharmacy)"))
    def ship(self, request: HttpRequest, queryset: models.QuerySet[ReplenishmentOrder]) -> None:
        _run(
            self,
            request,
            queryset,
            lambda order: services.ship_replenishment(user=request.user, order=order),
            gettext("%(count)s orders shipped."),
        )

    @admin.action(description=_("Receive the selected orders into stock"))
    def receive(self, request: HttpRequest, queryset: models.QuerySet[ReplenishmentOrder]) -> None:
        _run(
            self,
            request,
            queryset,
            lambda order: services.receive_replenishment(user=request.user, order=order),
            gettext("%(count)s orders received."),
        )
