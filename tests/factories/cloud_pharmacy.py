"""Factories for cloud_pharmacy. The formulary is migrated data (``MET500``, ``TAC1``…):
:func:`drug` fetches a product by code; :func:`line` builds a service input line."""

import datetime as dt
from decimal import Decimal

import factory

from cloud_management.models import StaffRole
from cloud_pharmacy.models import Drug, StockBatch
from cloud_pharmacy.services import LineInput
from tests.factories.cloud_management import InstitutionFactory, StaffRoleFactory


def drug(code: str) -> Drug:
    return Drug.objects.get(code=code)


def line(code: str, dose: str, frequency: str, days: int, quantity: int, route: str = "oral"):
    return LineInput(
        drug=drug(code),
        dose=Decimal(dose),
        frequency=frequency,
        route=route,
        days=days,
        quantity=quantity,
    )


def pharmacist(institution):
    return StaffRoleFactory(role=StaffRole.Role.PHARMACIST, institution=institution).user


def prescriber(institution):
    return StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=institution).user


class StockBatchFactory(factory.django.DjangoModelFactory):
    """500 units of metformin expiring in 2099 at a new institution."""

    class Meta:
        model = StockBatch

    institution = factory.SubFactory(InstitutionFactory)
    drug = factory.LazyFunction(lambda: drug("MET500"))
    batch_number = factory.Sequence(lambda n: f"B{n:06d}")
    expires_on = dt.date(2099, 12, 31)
    quantity = 500
