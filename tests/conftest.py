"""Shared fixtures: two institutions in two districts, and a logged-in client per role."""

import socket

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from cloud_management.models import StaffRole
from tests.factories.cloud_management import (
    InstitutionFactory,
    PatientFactory,
    RegulatorRoleFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)

_TRANSACTIONAL_FIXTURES = {"transactional_db", "live_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every transactional test restores the migrated data (districts, catalogues, formulary,
    schedules, content types) before it runs.

    A transactional test empties every table when it ends. pytest-django runs them after the
    other database tests, but one transactional test still meets what the one before left: no
    districts, say, or content types recreated under new ids, on which a later test's
    ``serialized_rollback`` trips. With ``serialized_rollback`` on all of them, each starts from
    the database as migrated, whatever ran before it in its worker.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        kwargs = dict(marker.kwargs) if marker else {}
        fixtures = set(getattr(item, "fixturenames", ()))
        transactional = bool(kwargs.get("transaction") or kwargs.get("reset_sequences"))
        if not (transactional or fixtures & _TRANSACTIONAL_FIXTURES):
            continue
        if not kwargs.get("serialized_rollback"):
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    """A request leaves its language active in the thread (LocaleMiddleware activates it and
    nothing deactivates it), so a test that asked for Chinese would turn the messages of the
    tests after it into Chinese. Each test starts from the default language."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _block_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never leave the machine; loopback (PostgreSQL, Redis, live servers) is allowed."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in {"127.0.0.1", "localhost", "::1"}
            and not (host.startswith("/"))
        ):
            raise RuntimeError(f"network access blocked in tests: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def chinese_default(settings):
    """The product's default language (tests run in English; see tests/settings.py)."""
    settings.LANGUAGE_CODE = "zh-hans"


@pytest.fixture
def home_institution(db):
    return InstitutionFactory(
        code="NK001", name="南开区长江道社区卫生服务中心", district=district("120104")
    )


@pytest.fixture
def other_institution(db):
    return InstitutionFactory(
        code="HP001", name="和平区劝业场社区卫生服务中心", district=district("120101")
    )


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def staff_user_factory(db):
    def make(role: str = StaffRole.Role.DOCTOR, institution=None):
        return StaffRoleFactory(role=role, institution=institution).user

    return make


@pytest.fixture
def doctor(home_institution):
    return StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=home_institution).user


@pytest.fixture
def doctor_client(doctor) -> APIClient:
    return _client_for(doctor)


@pytest.fixture
def district_regulator(db):
    return RegulatorRoleFactory(district=district("120104")).user


@pytest.fixture
def city_regulator(db):
    return RegulatorRoleFactory(district=None, agency=StaffRole.Agency.HEALTH_COMMISSION).user


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def patient_with_login(home_institution):
    user = UserFactory(username="13900000001")
    return PatientFactory(home_institution=home_institution, user=user, phone="13900000001")


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()
