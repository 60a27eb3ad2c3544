"""Selectors and monitoring figures of cloud_services."""

import datetime as dt

import pytest
from django.utils import timezone

from cloud_management.monitoring import registered_metrics
from cloud_services import monitoring, selectors, services
from cloud_services.models import ServiceSlot
from tests.factories.cloud_services import BLOOD_DRAW, ServiceSlotFactory

pytestmark = pytest.mark.django_db


def book(patient, slot):
    return services.book_home_service(
        user=patient.user,
        slot_id=slot.pk,
        item_code=BLOOD_DRAW,
        address="长江道1号",
        phone="13900000001",
    )


def test_available_slots_filter_and_hide_full_ones(home_institution, other_institution):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    open_slot = ServiceSlotFactory(institution=home_institution, date=tomorrow)
    full = ServiceSlotFactory(institution=home_institution, date=tomorrow, capacity=1, booked=1)
    ServiceSlotFactory(institution=other_institution, date=tomorrow)
    ServiceSlotFactory(institution=home_institution, date=tomorrow, items=["HS-PICC"])
    ServiceSlotFactory(institution=home_institution, date=tomorrow - dt.timedelta(days=3))

    slots = selectors.available_slots(institution_code=home_institution.code, item_code=BLOOD_DRAW)
    assert set(slots) == {open_slot, full}
    open_only = selectors.available_slots(
        institution_code=home_institution.code, item_code=BLOOD_DRAW, only_open=True
    )
    assert list(open_only) == [open_slot]


def test_institutions_offering_a_service(home_institution, other_institution):
    ServiceSlotFactory(institution=home_institution)
    ServiceSlotFactory(institution=other_institution, items=["HS-PICC"])
    assert list(selectors.institutions_offering(item_code=BLOOD_DRAW)) == [home_institution]


def test_bookings_for_day_are_scoped_and_listed_in_one_query(
    patient, slot, nurse, other_nurse, django_assert_num_queries
):
    booking = book(patient, slot)
    with django_assert_num_queries(3):  # the scope (roles, patient link), then the rows
        assert list(selectors.bookings_for_day(user=nurse, day=slot.date)) == [booking]
    assert list(selectors.bookings_for_day(user=other_nurse, day=slot.date)) == []


def test_monitoring_figures_count_visits_and_bookings_to_confirm(
    patient, slot, nurse, home_institution
):
    booking = book(patient, slot)
    assert monitoring.home_visits_on(slot.date) == {home_institution.pk: 1}
    assert monitoring.bookings_awaiting_confirmation_on(timezone.localdate()) == {
        home_institution.pk: 1
    }
    services.cancel_booking(user=patient.user, booking=booking)
    assert monitoring.home_visits_on(slot.date) == {}
    assert ServiceSlot.objects.get(pk=slot.pk).booked == 0
    keys = {metric.key for metric in registered_metrics()}
    assert {
        "cloud_services.home_visits_today",
        "cloud_services.bookings_awaiting_confirmation",
    } <= keys
