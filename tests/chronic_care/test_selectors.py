"""Measurements: follow-up values and verified lab results read as one table; scoping of
follow-ups."""

import datetime as dt
from decimal import Decimal

import pytest

from chronic_care.selectors import (
    Kind,
    Measurement,
    Source,
    follow_ups_visible_to,
    latest_measurement,
    measurements,
    patient_measurements,
)
from cloud_management.models import StaffRole
from tests.factories.chronic_care import FollowUpFactory, lab_result
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    RegulatorRoleFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)

D = Decimal


@pytest.fixture
def patient(db):
    return PatientFactory(home_institution=InstitutionFactory(code="NK001"))


def test_latest_glucose_is_one_query_whatever_its_source(patient, django_assert_num_queries):
    FollowUpFactory(patient=patient, date=dt.date(2025, 3, 1), fbg=D("6.5"))
    lab_result(patient, "FBG", dt.date(2025, 4, 2), "7.35")
    lab_result(patient, "FBG", dt.date(2025, 5, 1), "5.10", verified=False)

    with django_assert_num_queries(1):
        latest = latest_measurement(patient_id=patient.pk, kind=Kind.FBG)

    assert latest == Measurement(
        patient_id=patient.pk,
        measured_on=dt.date(2025, 4, 2),
        kind=Kind.FBG,
        value=D("7.35"),
        source=Source.LAB,
    )

    FollowUpFactory(patient=patient, date=dt.date(2025, 4, 20), fbg=D("6.1"))
    latest = latest_measurement(patient_id=patient.pk, kind=Kind.FBG)
    assert (latest.measured_on, latest.value, latest.source) == (
        dt.date(2025, 4, 20),
        D("6.1"),
        Source.FOLLOW_UP,
    )


def test_on_one_date_the_highest_value_is_the_latest(patient):
    FollowUpFactory(patient=patient, date=dt.date(2025, 3, 1), fbg=D("7.4"))
    lab_result(patient, "FBG", dt.date(2025, 3, 1), "6.9")

    latest = latest_measurement(patient_id=patient.pk, kind=Kind.FBG)

    assert (latest.value, latest.source) == (D("7.4"), Source.FOLLOW_UP)


def test_measurements_read_both_kinds_and_sources(patient):
    FollowUpFactory(patient=patient, date=dt.date(2025, 3, 1), fbg=D("6.5"), hba1c=D("7.1"))
    lab_result(patient, "HBA1C", dt.date(2025, 4, 2), "6.8")
    lab_result(patient, "ALT", dt.date(2025, 4, 2), "30")
    other = PatientFactory(home_institution=patient.home_institution)
    FollowUpFactory(patient=other, date=dt.date(2025, 3, 1), fbg=D("9.9"))

    found = patient_measurements(patient_id=patient.pk)

    assert [(m.measured_on, m.kind, m.value, m.source) for m in found] == [
        (dt.date(2025, 4, 2), Kind.HBA1C, D("6.8"), Source.LAB),
        (dt.date(2025, 3, 1), Kind.FBG, D("6.5"), Source.FOLLOW_UP),
        (dt.date(2025, 3, 1), Kind.HBA1C, D("7.1"), Source.FOLLOW_UP),
    ]
    assert measurements(kinds=[Kind.HBA1C], date_from=dt.date(2025, 4, 1)).count() == 1


def test_follow_ups_are_scoped(db):
    a = InstitutionFactory(code="NK001", district=district("120104"))
    b = InstitutionFactory(code="HP001", district=district("120101"))
    enrolled_at_a = PatientFactory(home_institution=b)
    DiabetesEnrollmentFactory(patient=enrolled_at_a, institution=a)
    given_at_b = FollowUpFactory(patient=enrolled_at_a, institution=b)
    of_b = FollowUpFactory(patient=PatientFactory(home_institution=b), institution=b)
    patient_user = UserFactory()
    enrolled_at_a.user = patient_user
    enrolled_at_a.save()
    staff_a = StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=a).user
    staff_b = StaffRoleFactory(role=StaffRole.Role.NURSE, institution=b).user
    regulator_a = RegulatorRoleFactory(district=district("120104")).user
    regulator_b = RegulatorRoleFactory(district=district("120101")).user

    def seen(user):
        return set(follow_ups_visible_to(user).values_list("pk", flat=True))

    # A's staff see every follow-up of A's enrolees, wherever given; not B's other residents.
    assert seen(staff_a) == {given_at_b.pk}
    assert seen(staff_b) == {given_at_b.pk, of_b.pk}
    # Regulators by the district where the follow-up was given.
    assert seen(regulator_a) == set()
    assert seen(regulator_b) == {given_at_b.pk, of_b.pk}
    assert seen(patient_user) == {given_at_b.pk}
    assert seen(UserFactory()) == set()
