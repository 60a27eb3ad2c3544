"""Services of cloud_services: booking under capacity, the visit's steps, the blood draw's exam
order and specimen, the charge at completion, the first-visit assessment and the SMS."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from cloud_exams.models import ExamOrder, ExamResult, Specimen
from cloud_exams.services import enter_result, receive_specimen, verify_result
from cloud_services import services
from cloud_services.models import (
    Booking,
    FirstVisitAssessment,
    ServiceItem,
    ServiceSlot,
    VisitEvent,
)
from payments.models import ClaimLine
from tests.factories.cloud_management import PatientFactory, UserFactory
from tests.factories.cloud_services import (
    BLOOD_DRAW,
    WOUND_CARE,
    BookingFactory,
    ServiceSlotFactory,
    SlotTemplateFactory,
    service_item,
)

pytestmark = pytest.mark.django_db
Status = Booking.Status


def book(patient, slot, item=BLOOD_DRAW, **overrides):
    values = {"address": "天津市南开区长江道1号3-502", "phone": "13900000001", **overrides}
    return services.book_home_service(user=patient.user, slot_id=slot.pk, item_code=item, **values)


def login_patient(home_institution, n):
    user = UserFactory(username=f"1380000{n:04d}")
    return PatientFactory(home_institution=home_institution, user=user, phone=user.username)


def assessed(booking, by):
    services.record_first_visit_assessment(user=by, booking=booking, is_suitable=True)
    return booking


def confirmed(booking, by):
    assessed(booking, by)
    return services.confirm_booking(user=by, booking=booking)


# --- booking and capacity -------------------------------------------------------------------


def test_booking_takes_a_place_and_records_the_request(patient, slot):
    booking = book(patient, slot)

    slot.refresh_from_db()
    assert slot.booked == 1
    assert booking.status == Status.REQUESTED
    assert booking.fee == Decimal("60.00")
    assert booking.needs_assessment is True
    assert list(VisitEvent.objects.filter(booking=booking).values_list("status", flat=True)) == [
        Status.REQUESTED
    ]


def test_a_full_slot_refuses_and_writes_nothing(home_institution, slot):
    ServiceSlot.objects.filter(pk=slot.pk).update(capacity=2)
    first, second, third = (login_patient(home_institution, n) for n in range(3))
    book(first, slot)
    book(second, slot)

    with pytest.raises(services.SlotFull):
        book(third, slot)

    slot.refresh_from_db()
    assert slot.booked == 2
    assert Booking.objects.filter(patient=third).count() == 0


def test_a_patient_holds_one_active_booking_per_slot(patient, slot):
    first = book(patient, slot)

    with pytest.raises(services.BookingConflict):
        book(patient, slot, item=WOUND_CARE)
    slot.refresh_from_db()
    assert slot.booked == 1

    services.cancel_booking(user=patient.user, booking=first)
    again = book(patient, slot, item=WOUND_CARE)
    assert again.status == Status.REQUESTED
    slot.refresh_from_db()
    assert slot.booked == 1


def test_a_patient_rebooking_a_full_slot_is_told_of_the_booking_held(patient, slot):
    book(patient, slot)
    ServiceSlot.objects.filter(pk=slot.pk).update(capacity=1)

    with pytest.raises(services.BookingConflict) as caught:
        book(patient, slot, item=WOUND_CARE)
    assert not isinstance(caught.value, services.SlotFull)
    assert Booking.objects.filter(patient=patient).count() == 1


def test_the_booking_keeps_the_services_fee_to_the_cent(patient, slot):
    ServiceItem.objects.filter(code=BLOOD_DRAW).update(fee=Decimal("59.95"))
    booking = book(patient, slot)
    assert booking.fee == Decimal("59.95")
    booking.refresh_from_db()
    assert booking.fee == Decimal("59.95")


def test_a_withdrawn_service_is_refused(patient, slot):
    ServiceItem.objects.filter(code=BLOOD_DRAW).update(is_active=False)
    with pytest.raises(ValidationError) as caught:
        book(patient, slot)
    assert set(caught.value.message_dict) == {"item"}
    slot.refresh_from_db()
    assert slot.booked == 0


def test_a_slot_or_service_that_does_not_exist_names_the_field(patient, slot):
    with pytest.raises(ValidationError) as caught:
        services.book_home_service(
            user=patient.user,
            slot_id=slot.pk + 1000,
            item_code="HS-NOPE",
            address="长江道2号",
            phone="13512345678",
        )
    assert set(caught.value.message_dict) == {"slot", "item"}


def test_the_database_refuses_a_second_active_booking_in_the_slot(patient, slot):
    BookingFactory(patient=patient, slot=slot)
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingFactory(patient=patient, slot=slot)


def test_the_database_refuses_more_bookings_than_places(slot):
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceSlot.objects.filter(pk=slot.pk).update(booked=F("capacity") + 1)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("phone", {"phone": "022-2345678"}),
        ("address", {"address": "  "}),
        ("notes", {"notes": "x" * 501}),
    ],
)
def test_bad_input_names_the_field_and_takes_no_place(patient, slot, field, overrides):
    with pytest.raises(ValidationError) as caught:
        book(patient, slot, **overrides)
    assert field in caught.value.message_dict
    slot.refresh_from_db()
    assert slot.booked == 0


def test_a_service_not_offered_in_the_slot_is_refused(patient, slot):
    with pytest.raises(ValidationError) as caught:
        book(patient, slot, item="HS-PICC")
    assert "item" in caught.value.message_dict


def test_a_past_slot_is_refused(patient, home_institution):
    yesterday = ServiceSlotFactory(
        institution=home_institution, date=dt.date.today() - dt.timedelta(days=2)
    )
    with pytest.raises(ValidationError) as caught:
        book(patient, yesterday)
    assert "slot" in caught.value.message_dict


def test_only_a_patient_with_a_login_books(nurse, slot):
    with pytest.raises(PermissionDenied):
        services.book_home_service(
            user=nurse, slot_id=slot.pk, item_code=BLOOD_DRAW, address="x", phone="13900000001"
        )


def test_staff_book_for_a_resident_who_telephoned(home_institution, slot, nurse):
    resident = PatientFactory(home_institution=home_institution, phone="13512345678")
    booking = services.book_home_service(
        user=nurse,
        patient=resident,
        slot_id=slot.pk,
        item_code=BLOOD_DRAW,
        address="长江道2号",
        phone="13512345678",
    )
    assert (booking.patient, booking.booked_by) == (resident, nurse)
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.parametrize("who", ["pharmacist", "other_nurse"])
def test_only_the_institutions_staff_book_for_a_resident(request, home_institution, slot, who):
    resident = PatientFactory(home_institution=home_institution)
    with pytest.raises(PermissionDenied):
        services.book_home_service(
            user=request.getfixturevalue(who),
            patient=resident,
            slot_id=slot.pk,
            item_code=BLOOD_DRAW,
            address="长江道2号",
            phone="13512345678",
        )
    slot.refresh_from_db()
    assert slot.booked == 0


# --- cancelling -----------------------------------------------------------------------------


def test_cancelling_returns_the_place(patient, slot):
    booking = book(patient, slot)
    services.cancel_booking(user=patient.user, booking=booking)

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Status.CANCELLED
    assert slot.booked == 0


def test_cancelling_twice_is_a_conflict(patient, slot):
    booking = book(patient, slot)
    services.cancel_booking(user=patient.user, booking=booking)
    with pytest.raises(services.BookingConflict):
        services.cancel_booking(user=patient.user, booking=booking)
    slot.refresh_from_db()
    assert slot.booked == 0


def test_no_cancelling_once_the_nurse_is_on_the_way(patient, slot, nurse):
    booking = confirmed(book(patient, slot), nurse)
    services.assign_nurse(user=nurse, booking=booking, nurse=nurse)
    services.start_visit(user=nurse, booking=booking)

    with pytest.raises(services.BookingConflict):
        services.cancel_booking(user=patient.user, booking=booking)
    slot.refresh_from_db()
    assert slot.booked == 1


def test_another_patient_cannot_cancel(home_institution, patient, slot):
    booking = book(patient, slot)
    stranger = login_patient(home_institution, 7)
    with pytest.raises(PermissionDenied):
        services.cancel_booking(user=stranger.user, booking=booking)
    booking.refresh_from_db()
    assert booking.status == Status.REQUESTED


# --- assessment and confirmation -------------------------------------------------------------


def test_the_first_booking_is_confirmed_only_after_the_assessment(patient, slot, nurse):
    booking = book(patient, slot)
    with pytest.raises(services.BookingConflict):
        services.confirm_booking(user=nurse, booking=booking)

    assessed(booking, nurse)
    services.confirm_booking(user=nurse, booking=booking)
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


def test_a_later_booking_of_the_same_service_needs_no_new_assessment(
    home_institution, patient, slot, nurse
):
    confirmed(book(patient, slot), nurse)
    later = ServiceSlotFactory(institution=home_institution)
    second = book(patient, later)
    assert second.needs_assessment is False
    services.confirm_booking(user=nurse, booking=second)
    second.refresh_from_db()
    assert second.status == Status.CONFIRMED


def test_an_unsuitable_assessment_cancels_and_returns_the_place(patient, slot, nurse):
    booking = book(patient, slot)
    services.record_first_visit_assessment(
        user=nurse, booking=booking, is_suitable=False, note="病情不稳定，建议到院就诊"
    )
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Status.CANCELLED
    assert slot.booked == 0
    assert FirstVisitAssessment.objects.get().is_suitable is False


def test_an_unsuitable_assessment_needs_a_reason(patient, slot, nurse):
    booking = book(patient, slot)
    with pytest.raises(ValidationError) as caught:
        services.record_first_visit_assessment(user=nurse, booking=booking, is_suitable=False)
    assert "note" in caught.value.message_dict


def test_confirmation_texts_the_patient_after_commit(
    patient, slot, nurse, sms_outbox, django_capture_on_commit_callbacks
):
    booking = assessed(book(patient, slot), nurse)
    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_booking(user=nurse, booking=booking)

    assert [m.phone for m in sms_outbox] == ["13900000001"]
    assert booking.number in sms_outbox[0].text


@pytest.mark.parametrize("who", ["patient", "pharmacist", "other_nurse"])
def test_only_the_institutions_clinical_staff_confirm(request, patient, slot, nurse, who):
    booking = assessed(book(patient, slot), nurse)
    actor = patient.user if who == "patient" else request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.confirm_booking(user=actor, booking=booking)
    booking.refresh_from_db()
    assert booking.status == Status.REQUESTED


# --- assigning --------------------------------------------------------------------------------


def test_assigning_a_qualified_nurse(
    patient, slot, nurse, second_nurse, sms_outbox, django_capture_on_commit_callbacks
):
    booking = confirmed(book(patient, slot), nurse)
    with django_capture_on_commit_callbacks(execute=True):
        services.assign_nurse(user=nurse, booking=booking, nurse=second_nurse)
    booking.refresh_from_db()
    assert booking.status == Status.ASSIGNED
    assert booking.nurse == second_nurse
    assert len(sms_outbox) == 1


@pytest.mark.parametrize("who", ["doctor", "other_nurse"])
def test_assigning_someone_not_qualified_is_refused(request, patient, slot, nurse, who):
    booking = confirmed(book(patient, slot), nurse)
    with pytest.raises(ValidationError) as caught:
        services.assign_nurse(user=nurse, booking=booking, nurse=request.getfixturevalue(who))
    assert "nurse" in caught.value.message_dict
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


def test_assigning_before_confirmation_is_a_conflict(patient, slot, nurse):
    booking = book(patient, slot)
    with pytest.raises(services.BookingConflict):
        services.assign_nurse(user=nurse, booking=booking, nurse=nurse)


# --- the visit --------------------------------------------------------------------------------


def visit_until_arrival(booking, nurse):
    confirmed(booking, nurse)
    services.assign_nurse(user=nurse, booking=booking, nurse=nurse)
    services.start_visit(user=nurse, booking=booking)
    services.record_arrival(user=nurse, booking=booking)


def test_a_home_blood_draw_orders_and_collects_the_specimen_and_posts_the_charge(
    patient, slot, nurse
):
    booking = book(patient, slot)
    visit_until_arrival(booking, nurse)

    services.record_specimen_collected(user=nurse, booking=booking)
    booking.refresh_from_db()
    order = ExamOrder.objects.get()
    specimen = Specimen.objects.get()
    assert booking.status == Status.SPECIMEN_COLLECTED
    assert booking.exam_order == order
    assert order.source == ExamOrder.Source.HOME_SERVICE
    assert order.source_ref == f"booking:{booking.pk}"
    assert [i.item.code for i in order.items.all()] == ["TAC"]
    assert specimen.collected_by == nurse
    assert booking.specimen_barcode == specimen.barcode

    services.complete_visit(user=nurse, booking=booking)
    booking.refresh_from_db()
    line = ClaimLine.objects.get(source=ClaimLine.Source.CLOUD_SERVICES)
    assert booking.status == Status.COMPLETED
    assert booking.claim_line == line
    assert line.source_ref == f"booking:{booking.pk}"
    assert line.category == ClaimLine.Category.HOME_SERVICE
    assert line.total_amount == Decimal("60.00")
    assert Decimal("0.00") < line.fund_paid < line.total_amount
    assert list(booking.events.values_list("status", flat=True)) == [
        Status.REQUESTED,
        Status.CONFIRMED,
        Status.ASSIGNED,
        Status.ON_THE_WAY,
        Status.ARRIVED,
        Status.SPECIMEN_COLLECTED,
        Status.COMPLETED,
    ]


def test_a_blood_draw_is_not_completed_without_its_specimen(patient, slot, nurse):
    booking = book(patient, slot)
    visit_until_arrival(booking, nurse)
    with pytest.raises(services.BookingConflict):
        services.complete_visit(user=nurse, booking=booking)
    assert not ClaimLine.objects.exists()


def test_a_self_paid_service_is_charged_with_nothing_from_the_fund(
    patient, home_institution, nurse
):
    slot = ServiceSlotFactory(institution=home_institution, items=["HS-PU"])
    booking = book(patient, slot, item="HS-PU")
    visit_until_arrival(booking, nurse)
    with pytest.raises(services.BookingConflict):
        services.record_specimen_collected(user=nurse, booking=booking)

    services.complete_visit(user=nurse, booking=booking)
    line = ClaimLine.objects.get()
    assert line.total_amount == service_item("HS-PU").fee
    assert line.fund_paid == Decimal("0.00")
    assert not ExamOrder.objects.exists()


def test_nurse_on_the_way_texts_the_patient(
    patient, slot, nurse, sms_outbox, django_capture_on_commit_callbacks
):
    booking = confirmed(book(patient, slot), nurse)
    services.assign_nurse(user=nurse, booking=booking, nurse=nurse)
    sms_outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.start_visit(user=nurse, booking=booking)
    assert len(sms_outbox) == 1
    assert "王丽" in sms_outbox[0].text


def test_no_show_keeps_the_place(patient, slot, nurse):
    booking = confirmed(book(patient, slot), nurse)
    services.assign_nurse(user=nurse, booking=booking, nurse=nurse)
    services.start_visit(user=nurse, booking=booking)
    services.record_no_show(user=nurse, booking=booking, note="无人应门")

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == Status.NO_SHOW
    assert slot.booked == 1
    assert booking.events.get(status=Status.NO_SHOW).note == "无人应门"


def test_steps_out_of_order_are_conflicts(patient, slot, nurse):
    booking = confirmed(book(patient, slot), nurse)
    for step in (services.start_visit, services.record_arrival, services.complete_visit):
        with pytest.raises(services.BookingConflict):
            step(user=nurse, booking=booking)
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED


# --- results ready ----------------------------------------------------------------------------


def test_the_patient_is_texted_once_when_every_result_is_verified(
    patient, slot, nurse, lab_user, second_lab_user, sms_outbox, django_capture_on_commit_callbacks
):
    booking = book(patient, slot)
    visit_until_arrival(booking, nurse)
    services.record_specimen_collected(user=nurse, booking=booking)
    services.complete_visit(user=nurse, booking=booking)
    receive_specimen(user=lab_user, specimen=Specimen.objects.get())
    sms_outbox.clear()
    order_item = ExamOrder.objects.get().items.get()

    enter_result(user=lab_user, order_item=order_item, value="8.2")
    assert services.notify_results_ready() == 0

    verify_result(user=second_lab_user, result=ExamResult.objects.get())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notify_results_ready() == 1
    assert services.notify_results_ready() == 0
    assert len(sms_outbox) == 1
    assert booking.number in sms_outbox[0].text


# --- slots from templates ---------------------------------------------------------------------


def test_weekly_templates_generate_slots_once(home_institution):
    template = SlotTemplateFactory(institution=home_institution, weekday=0, capacity=4)
    monday = dt.date(2030, 1, 7)

    created = services.generate_slots(
        templates=[template], date_from=monday, date_to=monday + dt.timedelta(days=13)
    )
    again = services.generate_slots(
        templates=[template], date_from=monday, date_to=monday + dt.timedelta(days=13)
    )

    assert [s.date for s in created] == [monday, monday + dt.timedelta(days=7)]
    assert again == []
    slot = ServiceSlot.objects.get(date=monday)
    assert (slot.capacity, slot.start, slot.template) == (4, dt.time(9, 0), template)
    assert [i.code for i in slot.items.all()] == [BLOOD_DRAW]
