"""Chronic-care staff screens: diabetes follow-ups, the health managers' worklists, and the
enrolment screen's transfer and end actions.

The enrolment admin of cloud_management is extended in place (registered again as a subclass)
rather than duplicated: enrolling stays its add form; transferring and ending with a BPHS reason
are pages of their own that call :mod:`chronic_care.services`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chronic_care import services
from chronic_care.forms import EndForm, FollowUpAdminForm, TransferForm, WorklistChoiceForm
from chronic_care.models import FollowUp
from chronic_care.worklists import WORKLIST_PAGE_SIZE, Worklist, worklists_for_institution
from cloud_management.access import institutions_editable_by, may_edit
from cloud_management.admin import DiabetesEnrollmentAdmin
from cloud_management.admin_scoping import (
    ScopedModelAdmin,
    district_filter,
    institution_filter,
)
from cloud_management.models import DiabetesEnrollment


@admin.register(FollowUp)
class FollowUpAdmin(ScopedModelAdmin):
    form = FollowUpAdminForm
    list_display = (
        "date",
        "patient",
        "institution",
        "mode",
        "fbg",
        "hba1c",
        "blood_pressure",
        "outcome",
        "needs_urgent_referral",
        "next_date",
    )
    list_select_related = ("patient", "institution")
    list_filter = (
        district_filter("institution__district_id"),
        institution_filter("institution_id"),
        "mode",
        "outcome",
        "needs_urgent_referral",
    )
    search_fields = ("patient__name",)
    autocomplete_fields = ("patient", "institution")
    ordering = ("-date", "-id")
    sortable_by = ()
    readonly_fields = ("needs_urgent_referral", "bmi_display")
    fieldsets = (
        (None, {"fields": ("patient", "institution", "date", "mode")}),
        (
            gettext_lazy("Findings"),
            {
                "fields": (
                    "symptom_choices",
                    "fbg",
                    "hba1c",
                    ("systolic", "diastolic"),
                    ("weight_kg", "height_cm", "bmi_display"),
                    "medication_adherence",
                )
            },
        ),
        (
            gettext_lazy("Assessment and plan"),
            {
                "fields": (
                    "outcome",
                    "needs_urgent_referral",
                    "next_date",
                    "is_referred",
                    "referral_to",
                    "referral_reason",
                )
            },
        ),
    )

    @admin.display(description=gettext_lazy("blood pressure"))
    def blood_pressure(self, obj: FollowUp) -> str:
        if obj.systolic is None:
            return "-"
        return f"{obj.systolic}/{obj.diastolic}"

    @admin.display(description=gettext_lazy("BMI (kg/m²)"))
    def bmi_display(self, obj: FollowUp) -> str:
        bmi = obj.bmi
        return "-" if bmi is None else str(bmi)

    def get_readonly_fields(self, request: HttpRequest, obj: FollowUp | None = None) -> Any:
        if obj is None:
            return list(self.readonly_fields)
        # The resident and the date are the follow-up's key.
        return [*self.readonly_fields, "patient", "date"]

    def save_with_service(
        self,
        request: HttpRequest,
        obj: FollowUp,
        form: forms.ModelForm[FollowUp],
        change: bool,
    ) -> FollowUp:
        data = form.cleaned_data
        values = {
            name: data[name]
            for name in services.CHANGEABLE_FIELDS
            if name in data and name != "symptoms"
        }
        values["symptoms"] = data.get("symptoms", [])
        if not change:
            return services.record_follow_up(
                user=request.user,
                patient=data["patient"],
                date=data["date"],
                **values,
            )
        return services.update_follow_up(
            user=request.user,
            follow_up=obj,
            **values,
        )

    # --- Worklists ----------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "worklists/",
                self.admin_site.admin_view(self.worklists_view),
                name="chronic_care_followup_worklists",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "worklists_url": reverse("admin:chronic_care_followup_worklists"),
        }
        return super().changelist_view(request, extra_context)

    def worklists_view(self, request: HttpRequest) -> HttpResponse:
        """The worklists of one of the user's institutions, inside the admin."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        institutions = institutions_editable_by(request.user).order_by("code")
        form = WorklistChoiceForm(request.GET or None, institutions=institutions)
        institution = None
        chosen = Worklist.OVERDUE
        if form.is_valid():
            institution = form.cleaned_data["institution"]
            chosen = Worklist(form.cleaned_data["worklist"] or Worklist.OVERDUE)
        if institution is None:
            institution = institutions.first()
            # The choice shows the institution whose lists are shown.
            form = WorklistChoiceForm(
                initial={"institution": institution}, institutions=institutions
            )
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": _("Worklists"),
            "opts": self.model._meta,
            "form": form,
            "institution": institution,
            "chosen": chosen,
        }
        if institution is not None:
            lists = worklists_for_institution(institution=institution, today=timezone.localdate())
            page = lists.page(chosen, request.GET.get("page"), WORKLIST_PAGE_SIZE)
            context["counts"] = lists.counts()
            context["entries"] = page.object_list
            context["page"] = page
            context["page_query"] = urlencode(
                {"institution": institution.pk, "worklist": chosen.value}
            )
            context["today"] = lists.today
        return TemplateResponse(request, "admin/chronic_care/worklists.html", context)


# --- Enrolments: transfer and end --------------------------------------------------------------


class CareEnrollmentAdmin(DiabetesEnrollmentAdmin):
    """The enrolment admin with the care programme's actions and the chronic-care-centre mark."""

    list_display: Any = (
        *DiabetesEnrollmentAdmin.list_display,
        "is_chronic_care_centre",
    )
    list_filter: ClassVar[Any] = (
        *DiabetesEnrollmentAdmin.list_filter,
        "institution__is_chronic_care_centre",
    )

    @admin.display(boolean=True, description=gettext_lazy("chronic-care centre"))
    def is_chronic_care_centre(self, obj: DiabetesEnrollment) -> bool:
        return obj.institution.is_chronic_care_centre

    def get_fields(self, request: HttpRequest, obj: DiabetesEnrollment | None = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields.append("care_actions")
        return fields

    def get_readonly_fields(
        self, request: HttpRequest, obj: DiabetesEnrollment | None = None
    ) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("care_actions")
        return readonly

    @admin.display(description=gettext_lazy("actions"))
    def care_actions(self, obj: DiabetesEnrollment) -> str:
        if obj.ended_on is not None and obj.ended_on < timezone.localdate():
            return _("The enrolment has ended.")
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:chronic_care_enrolment_transfer", args=[obj.pk]),
            _("Transfer to another institution"),
            reverse("admin:chronic_care_enrolment_end", args=[obj.pk]),
            _("End the enrolment"),
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/transfer/",
                self.admin_site.admin_view(self.transfer_view),
                name="chronic_care_enrolment_transfer",
            ),
            path(
                "<int:pk>/end/",
                self.admin_site.admin_view(self.end_view),
                name="chronic_care_enrolment_end",
            ),
            *super().get_urls(),
        ]

    def _editable_enrolment(self, request: HttpRequest, pk: int) -> DiabetesEnrollment:
        enrolment = self.get_queryset(request).filter(pk=pk).first()
        if enrolment is None:
            raise Http404(_("There is no such record."))
        if not may_edit(request.user, enrolment):
            raise PermissionDenied
        return enrolment

    def _render(
        self,
        request: HttpRequest,
        *,
        enrolment: DiabetesEnrollment,
        form: forms.Form,
        title: str,
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "original": enrolment,
            "form": form,
        }
        return render(request, "admin/chronic_care/enrolment_action.html", context)

    def _done(self, request: HttpRequest, enrolment: DiabetesEnrollment) -> HttpResponse:
        return HttpResponseRedirect(
            reverse("admin:cloud_management_diabetesenrollment_change", args=[enrolment.pk])
        )

    def transfer_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        enrolment = self._editable_enrolment(request, pk)
        institutions = institutions_editable_by(request.user).exclude(pk=enrolment.institution_id)
        form = TransferForm(request.POST or None, institutions=institutions.filter(is_active=True))
        if request.method == "POST" and form.is_valid():
            try:
                successor = services.transfer_enrolment(
                    user=request.user,
                    enrolment=enrolment,
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Transferred to %(institution)s from %(day)s.")
                    % {"institution": successor.institution.name, "day": successor.enrolled_on},
                )
                return self._done(request, successor)
        return self._render(
            request, enrolment=enrolment, form=form, title=_("Transfer the enrolment")
        )

    def end_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        enrolment = self._editable_enrolment(request, pk)
        form = EndForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                ended = services.end_enrolment(
                    user=request.user,
                    enrolment=enrolment,
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request, _("The enrolment ends on %(day)s.") % {"day": ended.ended_on}
                )
                return self._done(request, ended)
        return self._render(request, enrolment=enrolment, form=form, title=_("End the enrolment"))


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, messages_ in error.message_dict.items():
            form.add_error(name if name in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


admin.site.unregister(DiabetesEnrollment)
admin.site.register(DiabetesEnrollment, CareEnrollmentAdmin)
