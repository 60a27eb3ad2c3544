"""The home-service patient pages under ``/services/``: register, my bookings, book in four
screens (service → institution → slot → address and phone, then confirm), a booking's status
with its result, and cancelling. No JavaScript: each choice is a link, each screen one form.

A patient sees only their own bookings; anyone else's booking is 404 (CONTRACTS §3).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from cloud_exams.selectors import patient_verified_results
from cloud_management.access import scope_of
from cloud_management.models import Institution, Patient
from cloud_management.services import create_patient_account
from cloud_services import selectors, services
from cloud_services.forms import BookingDetailsForm, RegisterForm
from cloud_services.models import Booking, ServiceItem, ServiceSlot


def _patient(request: HttpRequest) -> Patient:
    scope = scope_of(request.user)
    if scope.patient_id is None:
        raise Http404
    return Patient.objects.select_related("home_institution").get(pk=scope.patient_id)


def _item(code: str) -> ServiceItem:
    return get_object_or_404(ServiceItem, code=code, is_active=True)


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """A registered resident creates a login and is logged in."""
    if not settings.PATIENT_SELF_REGISTRATION:
        # Where the institutions create every login themselves, there is no such page.
        raise Http404
    if request.user.is_authenticated:
        return redirect("cloud_services:my_bookings")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        assert form.patient is not None  # noqa: S101 (set by a valid form)
        try:
            account = create_patient_account(
                patient=form.patient, password=form.cleaned_data["password"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            login(request, account, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Your login is ready. Your user name is your phone number.")
            )
            return redirect("cloud_services:my_bookings")
    return render(request, "cloud_services/register.html", {"form": form})


def my_bookings(request: HttpRequest) -> HttpResponse:
    """The patient's home-service bookings; visitors are invited to log in or register."""
    if not request.user.is_authenticated:
        return render(request, "cloud_services/start.html")
    patient = _patient(request)
    bookings = selectors.patient_bookings(patient_id=patient.pk)
    return render(request, "cloud_services/my_bookings.html", {"bookings": bookings})


@login_required
def choose_service(request: HttpRequest) -> HttpResponse:
    """Screen 1 of 4: which home service."""
    _patient(request)
    return render(
        request,
        "cloud_services/choose_service.html",
        {"items": selectors.active_items(), "step": 1},
    )


@login_required
def choose_institution(request: HttpRequest, item_code: str) -> HttpResponse:
    """Screen 2 of 4: which institution sends the nurse (the patient's own first)."""
    patient = _patient(request)
    item = _item(item_code)
    institutions = list(selectors.institutions_offering(item_code=item.code))
    institutions.sort(key=lambda i: i.pk != patient.home_institution_id)
    return render(
        request,
        "cloud_services/choose_institution.html",
        {"item": item, "institutions": institutions, "patient": patient, "step": 2},
    )


@login_required
def choose_slot(request: HttpRequest, item_code: str, institution_code: str) -> HttpResponse:
    """Screen 3 of 4: which day and time, with the places left."""
    patient = _patient(request)
    item = _item(item_code)
    institution = get_object_or_404(Institution, code=institution_code, is_active=True)
    slots = selectors.available_slots(
        institution_code=institution.code, item_code=item.code, only_open=True
    )[:40]
    return render(
        request,
        "cloud_services/choose_slot.html",
        {
            "item": item,
            "institution": institution,
            "slots": slots,
            "needs_assessment": services.needs_first_visit_assessment(
                patient=patient, institution_id=institution.pk, item=item
            ),
            "step": 3,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, item_code: str, slot_id: int) -> HttpResponse:
    """Screen 4 of 4: address and phone, then book."""
    patient = _patient(request)
    item = _item(item_code)
    slot = get_object_or_404(ServiceSlot.objects.select_related("institution"), pk=slot_id)
    form = BookingDetailsForm(
        request.POST or None, initial={"address": patient.address, "phone": patient.phone}
    )
    if request.method == "POST" and form.is_valid():
        try:
            booking = services.book_home_service(
                user=request.user,
                slot_id=slot.pk,
                item_code=item.code,
                address=form.cleaned_data["address"],
                phone=form.cleaned_data["phone"],
                notes=form.cleaned_data["notes"],
            )
        except services.BookingConflict as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("cloud_services:choose_slot", item.code, slot.institution.code)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except PermissionDenied as exc:
            raise Http404 from exc
        else:
            messages.success(
                request, _("Your booking has been sent. We will text you when it is confirmed.")
            )
            return redirect("cloud_services:booking_detail", booking.pk)
    return render(
        request,
        "cloud_services/confirm.html",
        {
            "item": item,
            "slot": slot,
            "form": form,
            "needs_assessment": services.needs_first_visit_assessment(
                patient=patient, institution_id=slot.institution_id, item=item
            ),
            "step": 4,
        },
    )


def _own_booking(request: HttpRequest, pk: int) -> Booking:
    patient = _patient(request)
    booking = selectors.patient_bookings(patient_id=patient.pk).filter(pk=pk).first()
    if booking is None:
        raise Http404
    return booking


@login_required
def booking_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A booking's status, its steps with times, and its verified results."""
    booking = _own_booking(request, pk)
    results = (
        patient_verified_results(patient_id=booking.patient_id).filter(
            order_item__order_id=booking.exam_order_id
        )
        if booking.exam_order_id
        else None
    )
    return render(
        request,
        "cloud_services/booking_detail.html",
        {"booking": booking, "events": selectors.events_of(booking), "results": results},
    )


@login_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then cancel (until the nurse is on the way)."""
    booking = _own_booking(request, pk)
    if request.method == "POST":
        try:
            services.cancel_booking(user=request.user, booking=booking)
        except services.BookingConflict:
            messages.error(
                request, _("This booking can no longer be cancelled: the nurse is on the way.")
            )
        else:
            messages.success(request, _("Your booking is cancelled."))
        return redirect("cloud_services:booking_detail", booking.pk)
    return render(request, "cloud_services/cancel.html", {"booking": booking})
