"""Staff screens of cloud_exams: the catalogue, orders and results, and five worklists (awaiting
collection, awaiting receipt, awaiting result, awaiting verification, critical values
unacknowledged), each a proxy-model changelist.

Rows follow the user's scope (:class:`ScopedModelAdmin`); results outside the performing lab
appear only once verified (:func:`cloud_exams.selectors.results_visible_to`). Every change goes
through a service, which checks the user's role at the institution concerned; the admin only
decides which screens to offer.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cloud_exams import selectors, services
from cloud_exams.models import (
    ExamItem,
    ExamOrder,
    ExamOrderItem,
    ExamResult,
    OpenCriticalValueAlert,
    OrderItemAwaitingResult,
    ReferenceRange,
    ResultAwaitingVerification,
    SpecimenAwaitingCollection,
    SpecimenAwaitingReceipt,
)
from cloud_management.access import scope_of
from cloud_management.admin_scoping import ScopedModelAdmin, institution_filter
from cloud_management.models import Institution, Patient, StaffRole


def _holds_role(request: HttpRequest, roles: frozenset[str]) -> bool:
    return bool(scope_of(request.user).roles & roles)


def _run_for_each(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    rows: Any,
    service: Any,
    done_message: str,
    **kwargs: Any,
) -> None:
    """Run ``service`` on each row; report how many succeeded and why others did not."""
    done = 0
    argument: str = getattr(modeladmin, "service_argument", "")
    for row in rows:
        try:
            service(user=request.user, **kwargs, **{argument: row})
        except (ValidationError, PermissionDenied) as exc:
            reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            modeladmin.message_user(request, f"{row}: {reason}", level=messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"count": done}, level=messages.SUCCESS)


class _WorklistAdmin(ScopedModelAdmin):
    """A worklist: read-only rows, changed only through its actions or its own form."""

    acting_roles: frozenset[str] = frozenset()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return _holds_role(request, self.acting_roles)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        if not _holds_role(request, self.acting_roles):
            return {}
        return actions


# --- Catalogue ---------------------------------------------------------------------------------


class ReferenceRangeInline(admin.TabularInline):
    model = ReferenceRange
    extra = 0
    fields = (
        "sex",
        "age_from_years",
        "age_to_years",
        "low",
        "high",
        "critical_low",
        "critical_high",
        "source",
    )

    def _is_operator(self, request: HttpRequest) -> bool:
        return scope_of(request.user).is_operator

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_operator(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_operator(request)


@admin.register(ExamItem)
class ExamItemAdmin(admin.ModelAdmin):
    """The catalogue: every staff member reads it, platform operators change it."""

    list_display = (
        "code",
        "name",
        "loinc_code",
        "specimen_type",
        "unit",
        "price",
        "insurance_category",
        "is_active",
    )
    list_filter = ("specimen_type", "insurance_category", "is_active")
    search_fields = ("code", "name", "loinc_code")
    inlines = [ReferenceRangeInline]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return scope_of(request.user).may_use_admin

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest) -> bool:
        return scope_of(request.user).is_operator

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).is_operator

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Orders ------------------------------------------------------------------------------------


class ExamOrderForm(forms.ModelForm):
    """An order as a clinician places it: the patient, the items, where it comes from."""

    items = forms.ModelMultipleChoiceField(
        label=_("exam items"),
        queryset=ExamItem.objects.filter(is_active=True, is_calculated=False).order_by("code"),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ExamOrder
        fields = (
            "patient",
            "ordering_institution",
            "performing_institution",
            "source",
            "source_ref",
            "clinical_note",
        )


class ExamOrderItemInline(admin.TabularInline):
    model = ExamOrderItem
    extra = 0
    fields = ("item", "specimen", "price")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return scope_of(request.user).may_use_admin


@admin.register(ExamOrder)
class ExamOrderAdmin(ScopedModelAdmin):
    """Orders of the user's institutions; clinicians place new ones here."""

    form = ExamOrderForm
    list_display = (
        "number",
        "patient",
        "ordering_institution",
        "performing_institution",
        "source",
        "ordered_at",
        "report_link",
    )
    list_filter = (institution_filter("ordering_institution_id"), "source")
    list_select_related = ("patient", "ordering_institution", "performing_institution")
    date_hierarchy = "ordered_at"
    inlines = [ExamOrderItemInline]
    raw_id_fields = ("patient",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _holds_role(request, services.ORDERING_ROLES)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        # An order is not edited once placed: its specimens and results follow it.
        return obj is None and self.has_add_permission(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return (*ExamOrderForm.Meta.fields, "ordered_by", "ordered_at")
        return ()

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        # The service creates the items from the form's ``items`` choice.
        return [] if obj is None else super().get_inlines(request, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return self.get_readonly_fields(request, obj)
        return super().get_fields(request, obj)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "ordering_institution":
            kwargs["queryset"] = Institution.objects.filter(
                pk__in=StaffRole.objects.filter(
                    user_id=int(request.user.pk or 0), role__in=sorted(services.ORDERING_ROLES)
                ).values("institution_id")
            )
        elif db_field.name == "performing_institution":
            kwargs["queryset"] = Institution.objects.filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool
    ) -> Any:
        data = form.cleaned_data
        return services.order_exams(
            ordered_by=request.user,
            patient=data["patient"],
            ordering_institution=data["ordering_institution"],
            performing_institution=data.get("performing_institution"),
            item_codes=[item.code for item in data["items"]],
            source=data["source"],
            source_ref=data.get("source_ref") or "",
            clinical_note=data.get("clinical_note") or "",
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The service created the items and specimens; nothing else to save."""

    @admin.display(description=_("report"))
    def report_link(self, obj: ExamOrder) -> str:
        return format_html(
            '<a href="{}" target="_blank">{}</a>',
            reverse("cloud_exams:order_report", args=[obj.pk]),
            gettext("Report"),
        )


@admin.register(ExamResult)
class ExamResultAdmin(ScopedModelAdmin):
    """All results the user may see, read-only."""

    list_display = (
        "collected_on",
        "patient",
        "item",
        "display_value",
        "unit",
        "flag",
        "origin",
        "verified_at",
    )
    list_filter = ("flag", "origin", institution_filter("ordering_institution_id"))
    list_select_related = ("patient", "item")
    readonly_fields = (
        "patient",
        "item",
        "order_item",
        "ordering_institution",
        "performing_institution",
        "collected_on",
        "value",
        "value_text",
        "unit",
        "flag",
        "reference_text",
        "origin",
        "entered_by",
        "entered_at",
        "verified_by",
        "verified_at",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return selectors.results_visible_to(request.user, ExamResult.objects.all())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    @admin.display(description=_("value"))
    def display_value(self, obj: ExamResult) -> str:
        return obj.display_value


# --- Worklists ---------------------------------------------------------------------------------


@admin.register(SpecimenAwaitingCollection)
class SpecimenAwaitingCollectionAdmin(_WorklistAdmin):
    acting_roles = services.COLLECTING_ROLES
    service_argument = "specimen"
    list_display = ("barcode", "patient", "specimen_type", "ordered_at", "label_link")
    list_select_related = ("order__patient",)
    list_filter = (institution_filter("order__ordering_institution_id"), "specimen_type")
    search_fields = ("barcode",)
    actions = ["collect"]
    fields = ("barcode", "specimen_type", "order")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return super().get_queryset(request).filter(collected_at__isnull=True).order_by("order_id")

    @admin.display(description=_("resident"))
    def patient(self, obj: SpecimenAwaitingCollection) -> Patient:
        return obj.order.patient

    @admin.display(description=_("ordered at"))
    def ordered_at(self, obj: SpecimenAwaitingCollection) -> Any:
        return obj.order.ordered_at

    @admin.display(description=_("label"))
    def label_link(self, obj: SpecimenAwaitingCollection) -> str:
        return format_html(
            '<a href="{}" target="_blank">{}</a>',
            reverse("cloud_exams:specimen_label", args=[obj.pk]),
            gettext("Print label"),
        )

    @admin.action(description=_("Mark the selected specimens collected now"))
    def collect(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        _run_for_each(
            self, request, queryset, services.collect_specimen, gettext("%(count)d collected.")
        )


@admin.register(SpecimenAwaitingReceipt)
class SpecimenAwaitingReceiptAdmin(_WorklistAdmin):
    acting_roles = frozenset({StaffRole.Role.LAB_TECHNICIAN})
    service_argument = "specimen"
    list_display = ("barcode", "specimen_type", "collected_at", "collected_by")
    list_filter = (institution_filter("order__performing_institution_id"), "specimen_type")
    search_fields = ("barcode",)
    actions = ["receive"]
    fields = ("barcode", "specimen_type", "order", "collected_at", "collected_by")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .filter(collected_at__isnull=False, received_at__isnull=True)
            .select_related("collected_by")
            .order_by("collected_at")
        )

    @admin.action(description=_("Mark the selected specimens received by the lab now"))
    def receive(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        _run_for_each(
            self, request, queryset, services.receive_specimen, gettext("%(count)d received.")
        )


class EnterResultForm(forms.ModelForm):
    value = forms.DecimalField(label=_("value"), max_digits=12, decimal_places=4, required=False)
    finding = forms.CharField(label=_("finding"), max_length=500, required=False)
    is_abnormal = forms.BooleanField(label=_("abnormal finding"), required=False)

    class Meta:
        model = OrderItemAwaitingResult
        fields: tuple[str, ...] = ()


@admin.register(OrderItemAwaitingResult)
class OrderItemAwaitingResultAdmin(_WorklistAdmin):
    """Open an item to enter its result."""

    acting_roles = frozenset({StaffRole.Role.LAB_TECHNICIAN})
    form = EnterResultForm
    list_display = ("order", "item", "specimen", "patient")
    list_select_related = ("order__patient", "item", "specimen")
    list_filter = (institution_filter("order__performing_institution_id"), "item")
    search_fields = ("specimen__barcode",)
    readonly_fields = ("order", "item", "specimen", "patient", "unit")
    fieldsets = (
        (None, {"fields": ("order", "patient", "item", "specimen", "unit")}),
        (_("Result"), {"fields": ("value", "finding", "is_abnormal")}),
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .filter(result__isnull=True, item__is_calculated=False)
            .filter(models.Q(specimen__isnull=True) | models.Q(specimen__received_at__isnull=False))
            .order_by("order_id", "id")
        )

    @admin.display(description=_("resident"))
    def patient(self, obj: OrderItemAwaitingResult) -> Patient:
        return obj.order.patient

    @admin.display(description=_("unit"))
    def unit(self, obj: OrderItemAwaitingResult) -> str:
        return obj.item.unit or "—"

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool
    ) -> Any:
        data = form.cleaned_data
        services.enter_result(
            user=request.user,
            order_item=obj,
            value=data.get("value"),
            finding=data.get("finding") or "",
            is_abnormal=bool(data.get("is_abnormal")),
        )
        return obj


@admin.register(ResultAwaitingVerification)
class ResultAwaitingVerificationAdmin(_WorklistAdmin):
    """Verify selected results; critical ones first. Only the lab sees this list."""

    acting_roles = frozenset({StaffRole.Role.LAB_TECHNICIAN})
    list_display = (
        "collected_on",
        "patient",
        "item",
        "display_value",
        "unit",
        "flag",
        "origin",
        "entered_by",
    )
    list_select_related = ("patient", "item", "entered_by")
    list_filter = ("flag", "origin")
    actions = ["verify"]
    fields = ExamResultAdmin.readonly_fields
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        rows = ResultAwaitingVerification.objects.filter(verified_at__isnull=True).exclude(
            origin=ExamResult.Origin.CALCULATED
        )
        critical_first = models.Case(
            models.When(flag__in=sorted(ExamResult.CRITICAL_FLAGS), then=0),
            default=1,
            output_field=models.IntegerField(),
        )
        return (
            selectors.results_visible_to(request.user, rows)
            .annotate(critical_first=critical_first)
            .order_by("critical_first", "entered_at", "id")
        )

    @admin.display(description=_("value"))
    def display_value(self, obj: ExamResult) -> str:
        return obj.display_value

    @admin.action(description=_("Verify the selected results"))
    def verify(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        try:
            count = services.verify_results(
                user=request.user, result_ids=list(queryset.values_list("pk", flat=True))
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
        except PermissionDenied as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        else:
            self.message_user(
                request, gettext("%(count)d verified.") % {"count": count}, messages.SUCCESS
            )


class AcknowledgeForm(forms.ModelForm):
    class Meta:
        model = OpenCriticalValueAlert
        fields = ("action_taken",)
        widgets = {"action_taken": forms.Textarea(attrs={"rows": 3})}


@admin.register(OpenCriticalValueAlert)
class OpenCriticalValueAlertAdmin(_WorklistAdmin):
    """Open an alert, say what was done, save: it leaves the list."""

    acting_roles = services.CLINICAL_ROLES
    form = AcknowledgeForm
    list_display = ("raised_at", "patient", "item", "value", "flag", "institution")
    list_select_related = ("result__patient", "result__item", "institution")
    list_filter = (institution_filter("institution_id"),)
    readonly_fields = ("result", "patient", "value", "flag", "raised_at", "institution")
    fields = (*readonly_fields, "action_taken")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return super().get_queryset(request).filter(acknowledged_at__isnull=True)

    @admin.display(description=_("resident"))
    def patient(self, obj: OpenCriticalValueAlert) -> Patient:
        return obj.result.patient

    @admin.display(description=_("exam item"))
    def item(self, obj: OpenCriticalValueAlert) -> ExamItem:
        return obj.result.item

    @admin.display(description=_("value"))
    def value(self, obj: OpenCriticalValueAlert) -> str:
        return f"{obj.result.display_value} {obj.result.unit}"

    @admin.display(description=_("flag"))
    def flag(self, obj: OpenCriticalValueAlert) -> str:
        return str(obj.result.get_flag_display())

    def save_with_service(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm[Any], change: bool
    ) -> Any:
        return services.acknowledge_critical_alert(
            user=request.user, alert=obj, action_taken=form.cleaned_data.get("action_taken") or ""
        )
