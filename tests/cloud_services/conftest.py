"""A home-service world: the home institution with two nurses, a doctor and a lab technician,
a resident with a login, and tomorrow's slot with five places; SMS kept in memory."""

import pytest

import cloud_services.sms
from cloud_management.models import StaffRole
from tests.factories.cloud_exams import lab_technician
from tests.factories.cloud_management import StaffRoleFactory
from tests.factories.cloud_services import ServiceSlotFactory, nurse_at


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "cloud_services.sms.locmem.SmsBackend"
    cloud_services.sms.outbox.clear()
    yield cloud_services.sms.outbox
    cloud_services.sms.outbox.clear()


@pytest.fixture
def nurse(home_institution):
    return nurse_at(home_institution, first_name="丽", last_name="王")


@pytest.fixture
def second_nurse(home_institution):
    return nurse_at(home_institution)


@pytest.fixture
def other_nurse(other_institution):
    return nurse_at(other_institution)


@pytest.fixture
def lab_user(home_institution):
    return lab_technician(home_institution)


@pytest.fixture
def second_lab_user(home_institution):
    return lab_technician(home_institution)


@pytest.fixture
def pharmacist(home_institution):
    return StaffRoleFactory(role=StaffRole.Role.PHARMACIST, institution=home_institution).user


@pytest.fixture
def patient(patient_with_login):
    return patient_with_login


@pytest.fixture
def slot(home_institution):
    return ServiceSlotFactory(institution=home_institution)
