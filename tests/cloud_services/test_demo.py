"""The small demo's home services: nurses, two weeks of slots, bookings in every status and the
demo patient's blood draws (one with a verified result), made once."""

import io

import pytest

import cloud_services.sms
from cloud_exams.models import ExamResult
from cloud_management.models import Patient, StaffRole
from cloud_services.models import Booking, ServiceSlot, SlotTemplate
from healthcommunity.demo import exams as demo_exams
from healthcommunity.demo import services as demo_services
from healthcommunity.demo import small
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE
from healthcommunity.demo.staff import demo_patient
from healthcommunity.demo.steps import SeedContext

pytestmark = pytest.mark.django_db
YEAR = 2026


def run_steps() -> None:
    ctx = SeedContext(
        scale="small", year=YEAR, write=io.StringIO().write, residents=300, enrolments=30
    )
    for step in [
        small.seed_institutions,
        small.seed_staff,
        small.seed_residents,
        small.seed_patient_login,
        *demo_exams.STEPS,
        *demo_services.STEPS,
    ]:
        step(ctx)


def counts() -> tuple[int, ...]:
    return (SlotTemplate.objects.count(), ServiceSlot.objects.count(), Booking.objects.count())


def test_the_demo_has_slots_nurses_bookings_in_every_status_and_a_verified_blood_draw(
    settings, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "cloud_services.sms.locmem.SmsBackend"
    with django_capture_on_commit_callbacks(execute=True):
        run_steps()

    demo = Booking.objects.filter(slot__institution__code=DEMO_INSTITUTION_CODE)
    assert set(demo.values_list("status", flat=True)) == set(Booking.Status.values)
    assert ServiceSlot.objects.filter(institution__code=DEMO_INSTITUTION_CODE).count() >= 20
    assert (
        StaffRole.objects.filter(
            role=StaffRole.Role.NURSE, institution__code=DEMO_INSTITUTION_CODE
        ).count()
        >= 3
    )
    patient = demo_patient()
    mine = Booking.objects.filter(patient=patient, item__code="HS-BLD-TAC")
    done = mine.get(status=Booking.Status.COMPLETED)
    assert mine.filter(status=Booking.Status.ASSIGNED).count() == 1
    result = ExamResult.objects.get(order_item__order_id=done.exam_order_id)
    assert result.verified_at is not None
    assert done.result_notified_at is not None
    assert cloud_services.sms.outbox == []  # the demo texts nobody
    assert list(Patient.objects.filter(user__isnull=False)) == [patient]

    first = counts()
    run_steps()
    assert counts() == first
