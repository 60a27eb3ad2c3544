"""Factories for cloud_services. The catalogue is migrated data: :func:`service_item` fetches
an item by code (``HS-BLD-TAC`` is the tacrolimus blood draw)."""

import datetime as dt

import factory
from django.utils import timezone

from cloud_management.models import StaffRole
from cloud_services.models import Booking, ServiceItem, ServiceSlot, SlotTemplate
from tests.factories.cloud_management import InstitutionFactory, PatientFactory, StaffRoleFactory

BLOOD_DRAW = "HS-BLD-TAC"
WOUND_CARE = "HS-WOUND"


def service_item(code: str) -> ServiceItem:
    return ServiceItem.objects.get(code=code)


def nurse_at(institution, **user_fields):
    """A new nurse at ``institution`` (a user with admin access)."""
    role = StaffRoleFactory(role=StaffRole.Role.NURSE, institution=institution)
    for field, value in user_fields.items():
        setattr(role.user, field, value)
    if user_fields:
        role.user.save()
    return role.user


class ServiceSlotFactory(factory.django.DjangoModelFactory):
    """Tomorrow 09:00-11:00 with five places, offering the blood draw and wound care."""

    class Meta:
        model = ServiceSlot
        skip_postgeneration_save = True

    institution = factory.SubFactory(InstitutionFactory)
    date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=1))
    start = factory.Sequence(lambda n: dt.time(6 + n % 12, 0))
    end = factory.LazyAttribute(lambda o: dt.time(o.start.hour + 2, 0))
    capacity = 5
    booked = 0

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if not create:
            return
        codes = extracted if extracted is not None else [BLOOD_DRAW, WOUND_CARE]
        self.items.set(ServiceItem.objects.filter(code__in=codes))


class SlotTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlotTemplate
        skip_postgeneration_save = True

    institution = factory.SubFactory(InstitutionFactory)
    weekday = SlotTemplate.Weekday.MONDAY
    start = dt.time(9, 0)
    end = dt.time(11, 0)
    capacity = 4

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if not create:
            return
        codes = extracted if extracted is not None else [BLOOD_DRAW]
        self.items.set(ServiceItem.objects.filter(code__in=codes))


class BookingFactory(factory.django.DjangoModelFactory):
    """A requested booking row written directly (no place taken); use
    ``cloud_services.services.book_home_service`` where capacity matters."""

    class Meta:
        model = Booking

    patient = factory.SubFactory(PatientFactory)
    slot = factory.SubFactory(ServiceSlotFactory)
    item = factory.LazyFunction(lambda: service_item(BLOOD_DRAW))
    address = "天津市南开区长江道1号"
    phone = "13900000001"
    fee = factory.LazyAttribute(lambda o: o.item.fee)
    status = Booking.Status.REQUESTED
