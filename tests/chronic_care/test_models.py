"""FollowUp: the urgent-referral flag and the ranges are held by the database."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from chronic_care.models import FollowUp, needs_urgent_referral
from tests.factories.chronic_care import FollowUpFactory

D = Decimal


@pytest.mark.parametrize(
    ("fbg", "systolic", "diastolic", "urgent"),
    [
        ("16.7", 130, 80, True),  # FBG ≥ 16.7
        ("16.6", 130, 80, False),
        ("3.9", 130, 80, True),  # FBG ≤ 3.9
        ("4.0", 130, 80, False),
        ("6.5", 180, 100, True),  # systolic ≥ 180
        ("6.5", 179, 109, False),
        ("6.5", 150, 110, True),  # diastolic ≥ 110
        (None, None, None, False),
        (None, 185, 95, True),
    ],
)
@pytest.mark.django_db
def test_the_urgent_referral_flag_follows_the_values(fbg, systolic, diastolic, urgent):
    follow_up = FollowUpFactory(
        fbg=None if fbg is None else D(fbg), systolic=systolic, diastolic=diastolic
    )
    follow_up.refresh_from_db()

    assert follow_up.needs_urgent_referral is urgent
    assert (
        needs_urgent_referral(
            fbg=None if fbg is None else D(fbg), systolic=systolic, diastolic=diastolic
        )
        is urgent
    )
    assert FollowUp.objects.filter(needs_urgent_referral=True).count() == int(urgent)


@pytest.mark.django_db
def test_the_flag_changes_with_a_corrected_value():
    follow_up = FollowUpFactory(fbg=D("6.0"))
    FollowUp.objects.filter(pk=follow_up.pk).update(fbg=D("17.0"))

    follow_up.refresh_from_db()

    assert follow_up.needs_urgent_referral is True


@pytest.mark.parametrize(
    "values",
    [
        {"fbg": D("0.9")},
        {"fbg": D("50.1")},
        {"hba1c": D("2.9")},
        {"hba1c": D("20.1")},
        {"systolic": 301, "diastolic": 80},
        {"systolic": 120, "diastolic": 29},
        {"systolic": 120, "diastolic": None},
        {"systolic": 80, "diastolic": 90},
        {"weight_kg": D("19.9")},
        {"height_cm": D("99.0")},
        {"next_date": dt.date(2025, 3, 1)},  # the follow-up's own date
        {"referral_to": "天津医科大学总医院"},  # details without a referral
    ],
)
@pytest.mark.django_db
def test_the_database_refuses_values_out_of_range(values):
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(**values)


@pytest.mark.django_db
def test_one_follow_up_a_day_per_resident():
    first = FollowUpFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUpFactory(patient=first.patient, date=first.date, mode=FollowUp.Mode.PHONE)


def test_bmi_is_weight_over_height_squared():
    follow_up = FollowUp(weight_kg=D("70.0"), height_cm=D("170.0"))

    # 70 / 1.7² = 24.221… → 24.2
    assert follow_up.bmi == D("24.2")
    assert FollowUp(weight_kg=D("70.0")).bmi is None
