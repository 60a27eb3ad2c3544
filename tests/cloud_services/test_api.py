"""The home-services API (CONTRACTS §3): catalogue, slots, booking, cancelling, scoping, 409s."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cloud_services.models import Booking, ServiceSlot
from tests.factories.cloud_management import PatientFactory, UserFactory
from tests.factories.cloud_services import BLOOD_DRAW, ServiceSlotFactory

pytestmark = pytest.mark.django_db
ITEMS = "/api/v1/services/items/"
SLOTS = "/api/v1/services/slots/"
BOOKINGS = "/api/v1/services/bookings/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def token_client(user) -> APIClient:
    """A client that sends ``Authorization: Token …`` as a phone does (no forced login)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def payload(slot, **overrides):
    return {
        "slot": slot.pk,
        "item": BLOOD_DRAW,
        "address": "天津市南开区长江道1号3-502",
        "phone": "13900000001",
        **overrides,
    }


@pytest.fixture
def patient_client(patient) -> APIClient:
    return client_for(patient.user)


def test_the_catalogue_lists_at_least_thirty_services_with_the_contract_fields(patient_client):
    response = patient_client.get(ITEMS, {"page": 1})
    assert response.status_code == 200
    assert response.data["count"] >= 30
    tac = patient_client.get(f"{ITEMS}{BLOOD_DRAW}/").data
    assert {k: tac[k] for k in ("code", "category", "fee", "requires_specimen")} == {
        "code": BLOOD_DRAW,
        "category": "specimen_collection",
        "fee": "60.00",
        "requires_specimen": True,
    }
    assert tac["exam_items"] == ["TAC"]


def test_slots_filter_by_institution_item_and_dates(
    patient_client, home_institution, other_institution
):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    mine = ServiceSlotFactory(institution=home_institution, date=tomorrow, capacity=3, booked=1)
    ServiceSlotFactory(institution=other_institution, date=tomorrow)
    ServiceSlotFactory(institution=home_institution, date=tomorrow, items=["HS-PICC"])
    ServiceSlotFactory(institution=home_institution, date=tomorrow + dt.timedelta(days=5))

    response = patient_client.get(
        SLOTS,
        {
            "institution": home_institution.code,
            "item": BLOOD_DRAW,
            "date_from": tomorrow.isoformat(),
            "date_to": tomorrow.isoformat(),
        },
    )

    assert response.status_code == 200
    assert response.data["count"] == 1
    assert response.data["results"][0] == {
        "id": mine.pk,
        "institution": home_institution.code,
        "date": tomorrow.isoformat(),
        "start": mine.start.strftime("%H:%M:%S"),
        "end": mine.end.strftime("%H:%M:%S"),
        "capacity": 3,
        "remaining": 2,
    }


def test_booking_answers_201_requested_and_takes_a_place(patient_client, slot):
    response = patient_client.post(BOOKINGS, payload(slot), format="json")
    assert response.status_code == 201
    assert response.data["status"] == "requested"
    assert Booking.objects.get(pk=response.data["id"]).slot == slot
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 1


def test_a_booking_with_a_token_answers_as_the_booking_reads_back_in_few_statements(
    patient, slot, django_assert_num_queries
):
    client = token_client(patient.user)
    # The token with its user and patient; the slot with the service; then, under a savepoint
    # (the test's transaction is open), the place, the booking and its event: one statement on
    # PostgreSQL, three on SQLite.
    writes = 1 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(2 + 2 + writes):
        response = client.post(BOOKINGS, payload(slot), format="json")

    assert response.status_code == 201
    booking = Booking.objects.get(pk=response.data["id"])
    assert (booking.patient, booking.booked_by, booking.needs_assessment) == (
        patient,
        patient.user,
        True,
    )
    assert response.data == client.get(f"{BOOKINGS}{booking.pk}/").data
    assert response.data["institution"] == slot.institution.code
    assert response.data["item"] == BLOOD_DRAW


def test_a_revoked_token_or_an_inactive_login_is_refused_at_once(patient, slot):
    client = token_client(patient.user)
    assert client.post(BOOKINGS, payload(slot), format="json").status_code == 201
    second = ServiceSlotFactory(institution=slot.institution)

    Token.objects.filter(user=patient.user).delete()
    assert client.post(BOOKINGS, payload(second), format="json").status_code == 401

    client = token_client(patient.user)
    patient.user.is_active = False
    patient.user.save(update_fields=["is_active"])
    assert client.post(BOOKINGS, payload(second), format="json").status_code == 401
    assert ServiceSlot.objects.get(pk=second.pk).booked == 0


def test_a_staff_token_cannot_book_as_a_patient(nurse, slot):
    response = token_client(nurse).post(BOOKINGS, payload(slot), format="json")
    assert response.status_code == 403
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 0


@pytest.mark.parametrize("slot_id", [0, 2**63, 10**30])
def test_a_slot_id_outside_the_keys_answers_400(patient_client, slot, slot_id):
    response = patient_client.post(BOOKINGS, {**payload(slot), "slot": slot_id}, format="json")
    assert response.status_code == 400
    assert "slot" in response.data


def test_a_full_slot_answers_409(patient_client, slot):
    ServiceSlot.objects.filter(pk=slot.pk).update(capacity=1, booked=1)
    response = patient_client.post(BOOKINGS, payload(slot), format="json")
    assert response.status_code == 409
    assert not Booking.objects.exists()


def test_a_second_booking_in_the_same_slot_answers_409(patient_client, slot):
    assert patient_client.post(BOOKINGS, payload(slot), format="json").status_code == 201
    response = patient_client.post(BOOKINGS, payload(slot, item="HS-WOUND"), format="json")
    assert response.status_code == 409
    assert Booking.objects.count() == 1


def test_bad_input_answers_400_with_the_field(patient_client, slot):
    response = patient_client.post(BOOKINGS, payload(slot, phone="12345"), format="json")
    assert response.status_code == 400
    assert "phone" in response.data
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 0


def test_staff_cannot_book_as_a_patient(nurse, slot):
    response = client_for(nurse).post(BOOKINGS, payload(slot), format="json")
    assert response.status_code == 403


def test_anonymous_gets_401_or_403(anonymous_client, slot):
    assert anonymous_client.get(ITEMS).status_code in (401, 403)
    assert anonymous_client.post(BOOKINGS, payload(slot), format="json").status_code in (401, 403)


def test_cancel_answers_200_and_returns_the_place_then_409(patient_client, slot):
    booking_id = patient_client.post(BOOKINGS, payload(slot), format="json").data["id"]

    response = patient_client.post(f"{BOOKINGS}{booking_id}/cancel/")
    assert response.status_code == 200
    assert response.data["status"] == "cancelled"
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 0
    assert patient_client.post(f"{BOOKINGS}{booking_id}/cancel/").status_code == 409


def test_another_patient_gets_404_and_nothing_changes(patient_client, home_institution, slot):
    booking_id = patient_client.post(BOOKINGS, payload(slot), format="json").data["id"]
    stranger_user = UserFactory(username="13800009999")
    PatientFactory(home_institution=home_institution, user=stranger_user, phone="13800009999")
    stranger = client_for(stranger_user)

    assert stranger.get(f"{BOOKINGS}{booking_id}/").status_code == 404
    assert stranger.post(f"{BOOKINGS}{booking_id}/cancel/").status_code == 404
    assert stranger.get(BOOKINGS).data["count"] == 0
    assert Booking.objects.get(pk=booking_id).status == "requested"
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 1


def test_staff_of_another_institution_get_404(patient_client, other_nurse, slot):
    booking_id = patient_client.post(BOOKINGS, payload(slot), format="json").data["id"]
    client = client_for(other_nurse)
    assert client.get(f"{BOOKINGS}{booking_id}/").status_code == 404
    assert client.post(f"{BOOKINGS}{booking_id}/confirm/").status_code == 404
    assert client.get(BOOKINGS).data["count"] == 0


def test_a_patient_cannot_run_the_visit(patient_client, slot):
    booking_id = patient_client.post(BOOKINGS, payload(slot), format="json").data["id"]
    assert patient_client.post(f"{BOOKINGS}{booking_id}/confirm/").status_code == 403
    assert Booking.objects.get(pk=booking_id).status == "requested"


def test_staff_run_the_whole_visit_through_the_api(patient_client, nurse, slot):
    booking_id = patient_client.post(BOOKINGS, payload(slot), format="json").data["id"]
    staff = client_for(nurse)
    url = f"{BOOKINGS}{booking_id}/"

    assert staff.post(f"{url}confirm/").status_code == 409  # assessment first
    assert staff.post(f"{url}assess/", {"is_suitable": True}, format="json").status_code == 200
    assert staff.post(f"{url}confirm/").data["status"] == "confirmed"
    assert staff.post(f"{url}assign/", {"nurse": nurse.pk}, format="json").data["status"] == (
        "assigned"
    )
    assert staff.post(f"{url}on-the-way/").data["status"] == "on_the_way"
    assert patient_client.post(f"{url}cancel/").status_code == 409
    assert staff.post(f"{url}arrived/").data["status"] == "arrived"
    collected = staff.post(f"{url}specimen-collected/").data
    assert collected["status"] == "specimen_collected"
    assert collected["specimen_barcode"].startswith("EX")
    assert staff.post(f"{url}complete/").data["status"] == "completed"
    assert patient_client.get(url).data["exam_order"] == collected["exam_order"]
