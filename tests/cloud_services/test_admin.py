"""Staff screens: the day's bookings, the visit-step page, slot generation from templates,
and scoping (another institution's booking is 404)."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from cloud_services import services
from cloud_services.models import Booking, ServiceSlot
from tests.factories.cloud_services import BLOOD_DRAW, ServiceSlotFactory, SlotTemplateFactory

pytestmark = pytest.mark.django_db


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def booking(patient, slot):
    return services.book_home_service(
        user=patient.user,
        slot_id=slot.pk,
        item_code=BLOOD_DRAW,
        address="长江道1号",
        phone="13900000001",
    )


def test_the_bookings_list_opens_on_today(nurse):
    response = admin_client(nurse).get("/admin/cloud_services/booking/")
    today = timezone.localdate()
    assert response.status_code == 302
    assert f"slot__date__day={today.day}" in response["Location"]


def test_the_days_bookings_are_listed(nurse, booking, slot):
    day = slot.date
    response = admin_client(nurse).get(
        "/admin/cloud_services/booking/",
        {"slot__date__day": day.day, "slot__date__month": day.month, "slot__date__year": day.year},
    )
    assert response.status_code == 200
    assert booking.number in response.content.decode()


def test_staff_record_the_visit_step_by_step(nurse, second_nurse, booking):
    client = admin_client(nurse)
    url = f"/admin/cloud_services/booking/{booking.pk}/visit/"
    assert client.get(url).status_code == 200

    for data in (
        {"step": "assess_suitable"},
        {"step": "confirm"},
        {"step": "assign", "nurse": second_nurse.pk},
        {"step": "on_the_way"},
        {"step": "arrived"},
        {"step": "specimen_collected"},
        {"step": "complete"},
    ):
        response = client.post(url, data)
        assert response.status_code == 302, (data, response.context["form"].errors)

    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    assert booking.nurse == second_nurse
    assert booking.claim_line is not None


def test_a_step_out_of_order_is_shown_and_changes_nothing(nurse, booking):
    response = admin_client(nurse).post(
        f"/admin/cloud_services/booking/{booking.pk}/visit/", {"step": "arrived"}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REQUESTED


def test_another_institutions_booking_is_404(other_nurse, booking):
    client = admin_client(other_nurse)
    assert client.get(f"/admin/cloud_services/booking/{booking.pk}/visit/").status_code == 404
    assert client.get(f"/admin/cloud_services/booking/{booking.pk}/change/").status_code == 404


def test_the_confirm_action_confirms_assessed_bookings(nurse, booking):
    services.record_first_visit_assessment(user=nurse, booking=booking, is_suitable=True)
    day = booking.slot.date
    response = admin_client(nurse).post(
        f"/admin/cloud_services/booking/?slot__date__day={day.day}"
        f"&slot__date__month={day.month}&slot__date__year={day.year}",
        {"action": "confirm", "_selected_action": [booking.pk]},
    )
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_the_template_action_generates_two_weeks_of_slots(nurse, home_institution):
    template = SlotTemplateFactory(institution=home_institution, weekday=0)
    response = admin_client(nurse).post(
        "/admin/cloud_services/slottemplate/",
        {"action": "generate_two_weeks", "_selected_action": [template.pk]},
    )
    assert response.status_code == 302
    today = timezone.localdate()
    dates = sorted(ServiceSlot.objects.values_list("date", flat=True))
    assert len(dates) == 2
    assert all(d.weekday() == 0 for d in dates)
    assert today < dates[0] <= today + dt.timedelta(days=14)


def test_a_slot_shows_its_bookings(nurse, booking, slot):
    response = admin_client(nurse).get(f"/admin/cloud_services/serviceslot/{slot.pk}/change/")
    assert response.status_code == 200
    assert booking.number in response.content.decode()


def test_the_catalogue_is_read_only_for_staff(nurse):
    client = admin_client(nurse)
    assert client.get("/admin/cloud_services/serviceitem/").status_code == 200
    assert client.get("/admin/cloud_services/serviceitem/add/").status_code == 403


def test_slots_of_other_institutions_are_hidden(nurse, other_institution):
    other = ServiceSlotFactory(institution=other_institution)
    assert (
        admin_client(nurse).get(f"/admin/cloud_services/serviceslot/{other.pk}/change/").status_code
        == 404
    )


def test_a_slot_keeps_at_least_its_booked_places(nurse, booking, slot):
    response = admin_client(nurse).post(
        f"/admin/cloud_services/serviceslot/{slot.pk}/change/",
        {
            "institution": slot.institution_id,
            "date": slot.date.isoformat(),
            "start": "09:00",
            "end": "11:00",
            "capacity": 0,
            "items": [item.pk for item in slot.items.all()],
            "bookings-TOTAL_FORMS": 1,
            "bookings-INITIAL_FORMS": 1,
            "bookings-MIN_NUM_FORMS": 0,
            "bookings-MAX_NUM_FORMS": 1000,
            "bookings-0-id": booking.pk,
            "bookings-0-slot": slot.pk,
        },
    )
    assert response.status_code == 200
    assert "capacity" in response.context["adminform"].form.errors
    slot.refresh_from_db()
    assert slot.capacity == 5
