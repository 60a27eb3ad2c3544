"""Recording follow-ups, transferring and ending enrolments (chronic_care.services)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from chronic_care import services
from chronic_care.indicators import member_indicators
from chronic_care.models import FollowUp
from cloud_management.models import DiabetesEnrollment, StaffRole
from tests.factories.chronic_care import FollowUpFactory
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    RegulatorRoleFactory,
    StaffRoleFactory,
    district,
)

D = Decimal


@pytest.fixture
def clinic(db):
    a = InstitutionFactory(code="NK001", district=district("120104"))
    b = InstitutionFactory(code="NK002", district=district("120104"))
    manager = StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=a).user
    patient = PatientFactory(home_institution=a)
    return {"a": a, "b": b, "manager": manager, "patient": patient}


def record(clinic, **overrides):
    values = {
        "user": clinic["manager"],
        "patient": clinic["patient"],
        "institution": clinic["a"],
        "date": dt.date(2025, 3, 1),
        "mode": FollowUp.Mode.CLINIC,
        "outcome": FollowUp.Outcome.CONTROLLED,
        "fbg": D("6.4"),
        "systolic": 128,
        "diastolic": 78,
    }
    values.update(overrides)
    return services.record_follow_up(**values)


def test_a_health_manager_records_a_follow_up(clinic):
    follow_up = record(
        clinic,
        symptoms=["polyuria", "numbness", "polyuria"],
        fbg=D("3.6"),
        weight_kg=D("70.0"),
        height_cm=D("170.0"),
        medication_adherence=FollowUp.Adherence.REGULAR,
        next_date=dt.date(2025, 6, 1),
        is_referred=True,
        referral_to="天津医科大学朱宪彝纪念医院",
        referral_reason="低血糖",
    )

    saved = FollowUp.objects.get()
    assert saved.pk == follow_up.pk
    assert (saved.symptoms, saved.recorded_by, saved.needs_urgent_referral, saved.bmi) == (
        "polyuria,numbness",
        clinic["manager"],
        True,
        D("24.2"),
    )
    assert follow_up.needs_urgent_referral is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"fbg": D("0.5")}, "__all__"),
        ({"systolic": 120, "diastolic": None}, "__all__"),
        ({"date": dt.date(2999, 1, 1)}, "date"),
        ({"symptoms": ["headache"]}, "symptoms"),
        ({"mode": "visit"}, "mode"),
    ],
)
def test_bad_values_are_refused_naming_the_field(clinic, overrides, field):
    with pytest.raises(ValidationError) as error:
        record(clinic, **overrides)

    assert field in error.value.message_dict
    assert FollowUp.objects.count() == 0


def test_a_second_follow_up_the_same_day_is_refused(clinic):
    record(clinic)

    with pytest.raises(ValidationError):
        record(clinic, mode=FollowUp.Mode.PHONE)
    assert FollowUp.objects.count() == 1


def test_staff_of_another_institution_and_regulators_may_not_record(clinic):
    elsewhere = StaffRoleFactory(
        role=StaffRole.Role.DOCTOR, institution=InstitutionFactory(code="HP001")
    ).user
    regulator = RegulatorRoleFactory().user

    with pytest.raises(ValidationError) as error:
        record(clinic, user=elsewhere)
    assert "institution" in error.value.message_dict
    with pytest.raises(PermissionDenied):
        record(clinic, user=regulator)
    assert FollowUp.objects.count() == 0


def test_a_correction_updates_the_flag(clinic):
    follow_up = record(clinic)

    corrected = services.update_follow_up(
        user=clinic["manager"], follow_up=follow_up, systolic=185, diastolic=100
    )

    assert corrected.needs_urgent_referral is True
    with pytest.raises(ValidationError):
        services.update_follow_up(user=clinic["manager"], follow_up=follow_up, date=dt.date.today())


def test_a_transfer_ends_one_enrolment_and_starts_the_next_without_a_gap(clinic):
    a, b = clinic["a"], clinic["b"]
    StaffRoleFactory(user=clinic["manager"], role=StaffRole.Role.HEALTH_MANAGER, institution=b)
    enrolment = DiabetesEnrollmentFactory(
        patient=clinic["patient"], institution=a, enrolled_on=dt.date(2024, 1, 1)
    )
    FollowUpFactory(patient=clinic["patient"], institution=a, date=dt.date(2024, 6, 30))
    FollowUpFactory(patient=clinic["patient"], institution=a, date=dt.date(2024, 7, 1))

    successor = services.transfer_enrolment(
        user=clinic["manager"],
        enrolment=enrolment,
        to_institution=b,
        transfer_on=dt.date(2024, 7, 1),
    )

    enrolment.refresh_from_db()
    assert (enrolment.ended_on, successor.enrolled_on, successor.institution) == (
        dt.date(2024, 6, 30),
        dt.date(2024, 7, 1),
        b,
    )
    # 182 days at A (Jan–Jun 2024) and 184 at B: each follow-up counts where the day is covered.
    rows = {
        r.institution_id: (r.covered_days, r.counted_follow_ups)
        for r in member_indicators(year=2024, institution_ids=[a.pk, b.pk])
    }
    assert rows == {a.pk: (182, 1), b.pk: (184, 1)}


def test_an_enrolment_ends_with_a_reason(clinic):
    enrolment = DiabetesEnrollmentFactory(
        patient=clinic["patient"], institution=clinic["a"], enrolled_on=dt.date(2024, 1, 1)
    )

    with pytest.raises(ValidationError) as error:
        services.end_enrolment(
            user=clinic["manager"],
            enrolment=enrolment,
            ended_on=dt.date(2025, 2, 1),
            reason="bored",
        )
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.end_enrolment(
            user=clinic["manager"],
            enrolment=enrolment,
            ended_on=dt.date(2025, 2, 1),
            reason=services.EndReason.OTHER,
        )
    assert "note" in error.value.message_dict

    ended = services.end_enrolment(
        user=clinic["manager"],
        enrolment=enrolment,
        ended_on=dt.date(2025, 2, 1),
        reason=services.EndReason.MOVED_AWAY,
        note="迁往北京",
    )

    assert ended.ended_on == dt.date(2025, 2, 1)
    assert ended.end_reason.endswith(": 迁往北京")
    assert DiabetesEnrollment.objects.get().ended_on == dt.date(2025, 2, 1)


def test_the_today_guard_uses_the_platform_zone(clinic):
    today = timezone.localdate()

    assert record(clinic, date=today).date == today
