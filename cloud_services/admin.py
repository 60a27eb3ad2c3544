"""Staff screens for home services: the catalogue, weekly slot templates (with an action that
generates the next two weeks' slots), slots with their bookings, and the day's bookings with
actions and a "record a visit step" page that call the services. Status fields are read-only:
every change goes through ``cloud_services.services``, as in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cloud_management.access import scope_of
from cloud_management.admin_scoping import ScopedModelAdmin
from cloud_services import selectors, services
from cloud_services.models import Booking, ServiceItem, ServiceSlot, SlotTemplate, VisitEvent
from cloud_services.notifications import display_name

GENERATE_DAYS = 14


@admin.register(ServiceItem)
class ServiceItemAdmin(admin.ModelAdmin):
    """The catalogue: every staff member reads it, platform operators change it."""

    list_display = (
        "code",
        "name",
        "category",
        "fee",
        "insurance_category",
        "duration_minutes",
        "performing_role",
        "is_active",
    )
    list_filter = ("category", "insurance_category", "is_active")
    search_fields = ("code", "name")
    filter_horizontal = ("exam_items",)

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


@admin.register(SlotTemplate)
class SlotTemplateAdmin(ScopedModelAdmin):
    """Weekly windows per institution; "generate slots" fills the next two weeks."""

    list_display = ("institution", "weekday", "start", "end", "capacity", "is_active")
    list_filter = ("weekday", "is_active")
    filter_horizontal = ("items",)
    actions = ["generate_two_weeks"]

    @admin.action(description=gettext_lazy("Generate slots for the next two weeks"))
    def generate_two_weeks(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        templates = [t for t in queryset if self.has_change_permission(request, t)]
        today = timezone.localdate()
        try:
            created = services.generate_slots(
                templates=templates,
                date_from=today + dt.timedelta(days=1),
                date_to=today + dt.timedelta(days=GENERATE_DAYS),
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
            return
        self.message_user(
            request,
            _("%(count)d new slots; existing slots were left as they were.")
            % {"count": len(created)},
            level=messages.SUCCESS,
        )


class BookingInline(admin.TabularInline):
    model = Booking
    fields = ("booking_link", "patient", "item", "status", "nurse", "phone", "address")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The parent row was found among the user's visible rows.
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("booking"))
    def booking_link(self, obj: Booking) -> str:
        if obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:cloud_services_booking_visit", args=[obj.pk]),
            obj.number,
        )


class ServiceSlotForm(forms.ModelForm):
    """A slot's window and places; fewer places than bookings already made is refused."""

    class Meta:
        model = ServiceSlot
        fields = ["institution", "date", "start", "end", "capacity", "items"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        capacity = cleaned.get("capacity")
        if capacity is not None and self.instance.pk and capacity < self.instance.booked:
            self.add_error(
                "capacity",
                _("%(booked)d places are already booked; the slot needs at least that many.")
                % {"booked": self.instance.booked},
            )
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start >= end:
            self.add_error("end", _("The window ends after it starts."))
        return cleaned


@admin.register(ServiceSlot)
class ServiceSlotAdmin(ScopedModelAdmin):
    """Slots per day with their bookings; ``booked`` is kept by the booking services."""

    form = ServiceSlotForm

    list_display = ("date", "start", "end", "institution", "capacity", "booked", "remaining")
    list_filter = ("date",)
    date_hierarchy = "date"
    readonly_fields = ("booked", "template")
    filter_horizontal = ("items",)
    inlines = [BookingInline]
    ordering = ("date", "start", "institution")

    @admin.display(description=gettext_lazy("places left"))
    def remaining(self, obj: ServiceSlot) -> int:
        return obj.remaining


class VisitEventInline(admin.TabularInline):
    model = VisitEvent
    fields = ("status", "at", "by", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The parent row was found among the user's visible rows.
        return scope_of(request.user).may_use_admin

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NurseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return display_name(obj)


class VisitStepForm(forms.Form):
    """One step of the visit, recorded by the institution's staff."""

    STEPS = [
        ("assess_suitable", gettext_lazy("First-visit assessment: suitable")),
        ("assess_unsuitable", gettext_lazy("First-visit assessment: not suitable (cancels)")),
        ("confirm", gettext_lazy("Confirm")),
        ("assign", gettext_lazy("Assign the nurse")),
        ("on_the_way", gettext_lazy("Nurse on the way")),
        ("arrived", gettext_lazy("Nurse arrived")),
        ("specimen_collected", gettext_lazy("Specimen collected")),
        ("complete", gettext_lazy("Completed")),
        ("no_show", gettext_lazy("No one at home")),
        ("cancel", gettext_lazy("Cancel the booking")),
    ]

    step = forms.ChoiceField(label=gettext_lazy("Step"), choices=STEPS)
    nurse = NurseChoiceField(
        label=gettext_lazy("Nurse"),
        queryset=Booking.objects.none(),
        required=False,
        help_text=gettext_lazy("Only for assigning: nurses of this institution."),
    )
    note = forms.CharField(label=gettext_lazy("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, booking: Booking, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        nurse_field = self.fields["nurse"]
        assert isinstance(nurse_field, NurseChoiceField)  # noqa: S101 (declared above)
        nurse_field.queryset = services.qualified_nurses(booking)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("step") == "assign" and not cleaned.get("nurse"):
            self.add_error("nurse", _("Choose the nurse to assign."))
        return cleaned


def run_step(*, user: Any, booking: Booking, step: str, nurse: Any = None, note: str = "") -> None:
    """Call the service behind one visit step."""
    if step in ("assess_suitable", "assess_unsuitable"):
        services.record_first_visit_assessment(
            user=user, booking=booking, is_suitable=step == "assess_suitable", note=note
        )
    elif step == "assign":
        services.assign_nurse(user=user, booking=booking, nurse=nurse)
    elif step == "no_show":
        services.record_no_show(user=user, booking=booking, note=note)
    elif step == "cancel":
        services.cancel_booking(user=user, booking=booking, reason=note)
    else:
        simple = {
            "confirm": services.confirm_booking,
            "on_the_way": services.start_visit,
            "arrived": services.record_arrival,
            "specimen_collected": services.record_specimen_collected,
            "complete": services.complete_visit,
        }
        simple[step](user=user, booking=booking)


@admin.register(Booking)
class BookingAdmin(ScopedModelAdmin):
    """The day's bookings per slot (today by default), with the visit's steps."""

    list_display = (
        "number_link",
        "slot_date",
        "slot_window",
        "institution",
        "item",
        "patient",
        "status",
        "nurse",
        "needs_assessment",
    )
    list_filter = ("status", "slot__date", "needs_assessment")
    date_hierarchy = "slot__date"
    search_fields = ("patient__name", "phone")
    list_select_related = ("slot", "slot__institution", "item", "patient", "nurse")
    ordering = ("slot__date", "slot__start", "slot__institution__code", "status", "id")
    readonly_fields = (
        "patient",
        "slot",
        "item",
        "address",
        "phone",
        "notes",
        "status",
        "fee",
        "needs_assessment",
        "nurse",
        "booked_by",
        "created_at",
        "exam_order",
        "specimen_barcode",
        "claim_line",
        "result_notified_at",
    )
    fields = readonly_fields
    inlines = [VisitEventInline]
    actions = ["confirm", "mark_on_the_way", "mark_arrived", "mark_completed"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/visit/",
                self.admin_site.admin_view(self.visit_view),
                name="cloud_services_booking_visit",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The day's work by default: today's bookings unless a date is chosen.
        if not any(key.startswith("slot__date") for key in request.GET) and "q" not in request.GET:
            today = timezone.localdate()
            query = request.GET.copy()
            query.update(
                {
                    "slot__date__day": str(today.day),
                    "slot__date__month": str(today.month),
                    "slot__date__year": str(today.year),
                }
            )
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return super().changelist_view(request, extra_context)

    @admin.display(description=gettext_lazy("booking"), ordering="id")
    def number_link(self, obj: Booking) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:cloud_services_booking_visit", args=[obj.pk]),
            obj.number,
        )

    @admin.display(description=gettext_lazy("date"), ordering="slot__date")
    def slot_date(self, obj: Booking) -> dt.date:
        return obj.slot.date

    @admin.display(description=gettext_lazy("time"), ordering="slot__start")
    def slot_window(self, obj: Booking) -> str:
        return f"{obj.slot.start:%H:%M}-{obj.slot.end:%H:%M}"

    @admin.display(description=gettext_lazy("institution"))
    def institution(self, obj: Booking) -> str:
        return obj.slot.institution.name

    def _run(self, request: HttpRequest, queryset: Any, step: str, done: str) -> None:
        count = 0
        for booking in queryset:
            try:
                run_step(user=request.user, booking=booking, step=step)
            except (ValidationError, PermissionDenied) as exc:
                reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{booking.number}: {reason}", level=messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, level=messages.SUCCESS)

    @admin.action(description=gettext_lazy("Confirm the chosen bookings"))
    def confirm(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, "confirm", _("%(count)d bookings confirmed."))

    @admin.action(description=gettext_lazy("Nurse on the way"))
    def mark_on_the_way(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, "on_the_way", _("%(count)d visits started."))

    @admin.action(description=gettext_lazy("Nurse arrived"))
    def mark_arrived(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, "arrived", _("%(count)d arrivals recorded."))

    @admin.action(description=gettext_lazy("Completed"))
    def mark_completed(self, request: HttpRequest, queryset: Any) -> None:
        self._run(request, queryset, "complete", _("%(count)d visits completed."))

    def visit_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One booking with its steps so far and a form for the next step."""
        booking = self.get_object(request, str(pk))
        assert booking is not None  # noqa: S101 (get_object answers 404 otherwise)
        form = VisitStepForm(request.POST or None, booking=booking)
        if request.method == "POST" and form.is_valid():
            try:
                run_step(
                    user=request.user,
                    booking=booking,
                    step=form.cleaned_data["step"],
                    nurse=form.cleaned_data.get("nurse"),
                    note=form.cleaned_data.get("note", ""),
                )
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                self.message_user(request, _("The step is recorded."), level=messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        booking = selectors.bookings_visible_to(request.user).get(pk=booking.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": booking,
            "title": _("Record a visit step"),
            "form": form,
            "events": selectors.events_of(booking),
        }
        return TemplateResponse(request, "admin/cloud_services/booking/visit.html", context)
