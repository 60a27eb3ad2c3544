"""The patient pages: register against the registry, book in four screens, status, cancel,
the verified result, and 404 for another patient's booking."""

import pytest
from django.test import Client

from cloud_exams.models import ExamOrder, ExamResult, Specimen
from cloud_exams.services import enter_result, receive_specimen, verify_result
from cloud_services import services
from cloud_services.models import Booking, ServiceSlot
from tests.factories.cloud_management import PatientFactory, UserFactory
from tests.factories.cloud_services import BLOOD_DRAW

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient_client(patient) -> Client:
    client = Client()
    client.force_login(patient.user)
    return client


def test_visitors_are_offered_log_in_and_register(client):
    response = client.get("/services/")
    assert response.status_code == 200
    assert b"/services/register/" in response.content


def test_register_matches_the_registry_and_logs_in(client, home_institution):
    resident = PatientFactory(home_institution=home_institution, name="张建国", phone="13612345678")
    response = client.post(
        "/services/register/",
        {
            "resident_id": resident.resident_id,
            "name": "张建国",
            "phone": "136 1234 5678",
            "password": "Lung-transplant-2019",
            "password_again": "Lung-transplant-2019",
        },
    )
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.user.username == "13612345678"
    assert client.get("/services/").status_code == 200


@pytest.mark.parametrize("field", ["name", "phone"])
def test_register_refuses_details_that_do_not_match(client, home_institution, field):
    resident = PatientFactory(home_institution=home_institution, name="张建国", phone="13612345678")
    data = {
        "resident_id": resident.resident_id,
        "name": "张建国",
        "phone": "13612345678",
        "password": "Lung-transplant-2019",
        "password_again": "Lung-transplant-2019",
        field: {"name": "李建国", "phone": "13612345679"}[field],
    }
    response = client.post("/services/register/", data)
    assert response.status_code == 200
    assert "do not match our records" in response.content.decode() or (
        "不一致" in response.content.decode()
    )
    resident.refresh_from_db()
    assert resident.user is None


def test_every_field_has_a_label(client):
    page = client.get("/services/register/").content.decode()
    for name in ("resident_id", "name", "phone", "password", "password_again"):
        assert f'<label for="id_{name}">' in page


def test_booking_in_four_screens(patient_client, patient, slot, home_institution):
    screen1 = patient_client.get("/services/book/")
    assert f"/services/book/{BLOOD_DRAW}/".encode() in screen1.content
    screen2 = patient_client.get(f"/services/book/{BLOOD_DRAW}/")
    slots_url = f"/services/book/{BLOOD_DRAW}/at/{home_institution.code}/"
    assert slots_url.encode() in screen2.content
    screen3 = patient_client.get(slots_url)
    confirm_url = f"/services/book/{BLOOD_DRAW}/slot/{slot.pk}/"
    assert confirm_url.encode() in screen3.content
    screen4 = patient_client.get(confirm_url)
    assert screen4.status_code == 200
    assert 'name="address"' in screen4.content.decode()
    assert 'id="assessment-heading"' in screen4.content.decode()

    response = patient_client.post(
        confirm_url, {"address": "天津市南开区长江道1号3-502", "phone": "13900000001", "notes": ""}
    )

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/services/bookings/{booking.pk}/"
    assert booking.patient == patient
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 1
    status = patient_client.get(response["Location"])
    assert 'data-status="requested"' in status.content.decode()


def test_a_full_slot_sends_the_patient_back_to_the_times(patient_client, slot, home_institution):
    ServiceSlot.objects.filter(pk=slot.pk).update(capacity=1, booked=1)
    response = patient_client.post(
        f"/services/book/{BLOOD_DRAW}/slot/{slot.pk}/",
        {"address": "天津市南开区长江道1号", "phone": "13900000001"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/services/book/{BLOOD_DRAW}/at/{home_institution.code}/"
    assert not Booking.objects.exists()


def test_a_bad_phone_is_shown_on_its_field(patient_client, slot):
    response = patient_client.post(
        f"/services/book/{BLOOD_DRAW}/slot/{slot.pk}/",
        {"address": "天津市南开区长江道1号", "phone": "12345"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 0


def test_cancel_asks_then_cancels(patient_client, patient, slot):
    booking = services.book_home_service(
        user=patient.user,
        slot_id=slot.pk,
        item_code=BLOOD_DRAW,
        address="x路1号",
        phone="13900000001",
    )
    assert patient_client.get(f"/services/bookings/{booking.pk}/cancel/").status_code == 200
    response = patient_client.post(f"/services/bookings/{booking.pk}/cancel/")
    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 0


def test_another_patients_booking_is_404(patient, slot, home_institution):
    booking = services.book_home_service(
        user=patient.user,
        slot_id=slot.pk,
        item_code=BLOOD_DRAW,
        address="x路1号",
        phone="13900000001",
    )
    stranger = UserFactory(username="13800001111")
    PatientFactory(home_institution=home_institution, user=stranger, phone="13800001111")
    client = Client()
    client.force_login(stranger)
    assert client.get(f"/services/bookings/{booking.pk}/").status_code == 404
    assert client.post(f"/services/bookings/{booking.pk}/cancel/").status_code == 404
    booking.refresh_from_db()
    assert booking.status == Booking.Status.REQUESTED


def test_the_verified_result_appears_on_the_booking(
    patient_client, patient, slot, nurse, lab_user, second_lab_user
):
    booking = services.book_home_service(
        user=patient.user,
        slot_id=slot.pk,
        item_code=BLOOD_DRAW,
        address="x路1号",
        phone="13900000001",
    )
    services.record_first_visit_assessment(user=nurse, booking=booking, is_suitable=True)
    for step in (services.confirm_booking,):
        step(user=nurse, booking=booking)
    services.assign_nurse(user=nurse, booking=booking, nurse=nurse)
    for step in (
        services.start_visit,
        services.record_arrival,
        services.record_specimen_collected,
        services.complete_visit,
    ):
        step(user=nurse, booking=booking)
    receive_specimen(user=lab_user, specimen=Specimen.objects.get())
    enter_result(user=lab_user, order_item=ExamOrder.objects.get().items.get(), value="7.4")
    url = f"/services/bookings/{booking.pk}/"
    assert "7.4" not in patient_client.get(url).content.decode()

    verify_result(user=second_lab_user, result=ExamResult.objects.get())

    page = patient_client.get(url).content.decode()
    assert "7.4" in page
    assert "/me/results/" in page


def test_the_record_page_links_to_home_services(patient_client):
    assert b"/services/" in patient_client.get("/me/").content
