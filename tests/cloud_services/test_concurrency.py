"""Capacity under concurrency on PostgreSQL (ISSUE 5, Deliver 4): 50 simultaneous booking
requests for 5 places give exactly 5 bookings and 45 ``409``s; cancelling returns a place.

Each thread is its own HTTP request through the API with its own database connection, so
the requests really race on the slot's row."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from cloud_management.models import District
from cloud_services.models import Booking, ServiceItem
from tests.factories.cloud_management import InstitutionFactory, PatientFactory, UserFactory
from tests.factories.cloud_services import BLOOD_DRAW, ServiceSlotFactory

# A transactional test's flush also empties the migrated tables (districts, the catalogue),
# so each test makes sure of the rows it needs.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
REQUESTS = 50
PLACES = 5


def post_booking(user, slot_id: int, barrier: threading.Barrier, statuses: list[int]) -> None:
    client = APIClient()
    client.force_authenticate(user)
    try:
        barrier.wait(timeout=30)
        response = client.post(
            "/api/v1/services/bookings/",
            {
                "slot": slot_id,
                "item": BLOOD_DRAW,
                "address": "天津市南开区长江道1号",
                "phone": user.username,
            },
            format="json",
        )
        statuses.append(response.status_code)
    finally:
        connections.close_all()


def race(users, slot_id: int) -> list[int]:
    barrier = threading.Barrier(len(users))
    statuses: list[int] = []
    threads = [
        threading.Thread(target=post_booking, args=(user, slot_id, barrier, statuses))
        for user in users
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def institution_offering_the_blood_draw():
    if connection.vendor != "postgresql":
        pytest.skip("the concurrency test needs PostgreSQL (DATABASE_URL=postgres://…)")
    nankai, _created = District.objects.get_or_create(code="120104", defaults={"name": "南开区"})
    ServiceItem.objects.get_or_create(
        code=BLOOD_DRAW,
        defaults={
            "name": "上门静脉采血（他克莫司血药浓度）",
            "category": ServiceItem.Category.SPECIMEN_COLLECTION,
            "fee": "60.00",
            "insurance_category": ServiceItem.InsuranceCategory.CLASS_B,
            "duration_minutes": 30,
            "eligibility": "病情稳定、需定期复查的居家患者。",
        },
    )
    return InstitutionFactory(district=nankai)


def test_fifty_concurrent_requests_for_five_places():
    institution = institution_offering_the_blood_draw()
    slot = ServiceSlotFactory(institution=institution, capacity=PLACES)
    users = []
    for n in range(REQUESTS):
        user = UserFactory(username=f"1370000{n:04d}")
        PatientFactory(
            home_institution=institution,
            district=institution.district,
            user=user,
            phone=user.username,
        )
        users.append(user)

    statuses = race(users, slot.pk)

    assert sorted(statuses) == [201] * PLACES + [409] * (REQUESTS - PLACES)
    slot.refresh_from_db()
    assert slot.booked == PLACES
    assert Booking.objects.filter(slot=slot).count() == PLACES

    # Cancelling returns the place, and the next request gets it.
    booking = Booking.objects.filter(slot=slot).select_related("patient__user").first()
    client = APIClient()
    client.force_authenticate(booking.patient.user)
    assert client.post(f"/api/v1/services/bookings/{booking.pk}/cancel/").status_code == 200
    slot.refresh_from_db()
    assert slot.booked == PLACES - 1
    losers = [u for u in users if not Booking.objects.filter(patient__user=u).exists()]
    assert sorted(race(losers[:3], slot.pk)) == [201, 409, 409]
    slot.refresh_from_db()
    assert slot.booked == PLACES


def test_one_patient_racing_for_one_slot_gets_one_booking():
    institution = institution_offering_the_blood_draw()
    slot = ServiceSlotFactory(institution=institution, capacity=PLACES)
    user = UserFactory(username="13700009999")
    PatientFactory(
        home_institution=institution, district=institution.district, user=user, phone=user.username
    )

    statuses = race([user] * 10, slot.pk)

    assert sorted(statuses) == [201] + [409] * 9
    slot.refresh_from_db()
    assert slot.booked == 1
