"""A small lab world: one institution with two lab technicians, a doctor and a nurse, and a
resident with a login; another institution with its own doctor."""

import datetime as dt

import pytest

from cloud_management.models import Patient, StaffRole
from tests.factories.cloud_exams import lab_technician
from tests.factories.cloud_management import PatientFactory, StaffRoleFactory, UserFactory


@pytest.fixture
def lab_user(home_institution):
    return lab_technician(home_institution)


@pytest.fixture
def second_lab_user(home_institution):
    return lab_technician(home_institution)


@pytest.fixture
def nurse(home_institution):
    return StaffRoleFactory(role=StaffRole.Role.NURSE, institution=home_institution).user


@pytest.fixture
def other_doctor(other_institution):
    return StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=other_institution).user


@pytest.fixture
def other_lab_user(other_institution):
    return lab_technician(other_institution)


@pytest.fixture
def patient(home_institution):
    """A man born on 1960-05-20 with a login (employee insurance)."""
    user = UserFactory(username="13900000077")
    return PatientFactory(
        home_institution=home_institution,
        sex=Patient.Sex.MALE,
        birth_date=dt.date(1960, 5, 20),
        user=user,
        phone="13900000077",
        insurance_type=Patient.InsuranceType.EMPLOYEE,
    )
