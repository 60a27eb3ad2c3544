"""A pharmacy world: the home institution with a doctor and a pharmacist, a resident (a
65-year-old man on employee insurance, with a login), stock of the common drugs, and the
central cloud pharmacy at the digital hospital with its own pharmacist."""

import datetime as dt

import pytest
from django.utils import timezone

from cloud_management.models import Institution, Patient
from tests.factories.cloud_management import (
    InstitutionFactory,
    PatientFactory,
    UserFactory,
    district,
)
from tests.factories.cloud_pharmacy import StockBatchFactory, drug, pharmacist, prescriber

COMMON = ("MET500", "AML5", "ATO20", "GLM2", "NIF30", "CLA250", "TAC1", "WAR25", "ASA100")


@pytest.fixture
def prescribing_doctor(home_institution):
    return prescriber(home_institution)


@pytest.fixture
def home_pharmacist(home_institution):
    return pharmacist(home_institution)


@pytest.fixture
def other_pharmacist(other_institution):
    return pharmacist(other_institution)


@pytest.fixture
def central(db):
    return InstitutionFactory(
        code="TJDH01",
        name="天津市数字健康医院",
        district=district("120104"),
        kind=Institution.Kind.DIGITAL_HOSPITAL,
    )


@pytest.fixture
def central_pharmacist(central):
    return pharmacist(central)


@pytest.fixture
def resident(home_institution):
    today = timezone.localdate()
    user = UserFactory(username="13900000077")
    return PatientFactory(
        home_institution=home_institution,
        birth_date=dt.date(today.year - 65, 1, 15),
        sex=Patient.Sex.MALE,
        insurance_type=Patient.InsuranceType.EMPLOYEE,
        user=user,
        phone="13900000077",
    )


@pytest.fixture
def stocked(home_institution):
    return {
        code: StockBatchFactory(institution=home_institution, drug=drug(code), quantity=500)
        for code in COMMON
    }
