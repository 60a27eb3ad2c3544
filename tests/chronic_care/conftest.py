"""The community of the indicator tests (described in test_indicators.py), shared with the
page tests."""

import datetime as dt
from decimal import Decimal

import pytest

from chronic_care.models import FollowUp
from tests.factories.chronic_care import FollowUpFactory, lab_result
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    district,
)

D = Decimal
CLINIC, HOME, PHONE, ONLINE = (
    FollowUp.Mode.CLINIC,
    FollowUp.Mode.HOME,
    FollowUp.Mode.PHONE,
    FollowUp.Mode.ONLINE,
)


def day(month: int, dom: int, year: int = 2024) -> dt.date:
    return dt.date(year, month, dom)


@pytest.fixture
def world(db):
    a = InstitutionFactory(code="NK001", district=district("120104"))
    b = InstitutionFactory(code="HP001", district=district("120101"))
    p1, p2, p4, p5, p6 = (PatientFactory(home_institution=a) for _ in range(5))
    p3 = PatientFactory(home_institution=b)

    def follow(patient, when, fbg, mode=CLINIC, where=a, hba1c=None):
        return FollowUpFactory(
            patient=patient,
            institution=where,
            date=when,
            mode=mode,
            fbg=None if fbg is None else D(fbg),
            hba1c=None if hba1c is None else D(hba1c),
        )

    # P1
    DiabetesEnrollmentFactory(
        patient=p1, institution=a, enrolled_on=day(6, 1, 2023), baseline_fbg=D("8.0")
    )
    follow(p1, day(1, 10), "7.5")
    follow(p1, day(4, 10), "6.8", HOME)
    follow(p1, day(7, 10), "6.5", PHONE)
    follow(p1, day(8, 10), "6.4", ONLINE)
    follow(p1, day(10, 10), "6.6")
    follow(p1, day(12, 30), None, hba1c="6.9")
    follow(p1, day(1, 5, 2025), "5.0")
    lab_result(p1, "FBG", day(12, 15), "7.2")
    lab_result(p1, "FBG", day(12, 20), "5.0", verified=False)
    # P2
    DiabetesEnrollmentFactory(
        patient=p2,
        institution=a,
        enrolled_on=day(3, 1),
        ended_on=day(8, 31),
        baseline_fbg=D("6.5"),
    )
    follow(p2, day(2, 20), "6.0")
    follow(p2, day(3, 5), "7.8")
    follow(p2, day(5, 20), "6.9", HOME)
    follow(p2, day(8, 31), "6.5")
    follow(p2, day(9, 15), "5.5")
    lab_result(p2, "FBG", day(8, 31), "7.3")
    lab_result(p2, "HBA1C", day(2, 25), "7.0")
    # P3: transferred from B to A on 2024-07-01
    DiabetesEnrollmentFactory(
        patient=p3,
        institution=b,
        enrolled_on=day(1, 1, 2023),
        ended_on=day(6, 30),
        baseline_fbg=D("7.5"),
    )
    DiabetesEnrollmentFactory(
        patient=p3, institution=a, enrolled_on=day(7, 1), baseline_fbg=D("7.5")
    )
    follow(p3, day(2, 1), "6.0", where=b)
    follow(p3, day(5, 1), "6.1", where=b, hba1c="6.8")
    follow(p3, day(8, 1), "7.5")
    follow(p3, day(10, 1), "6.3", HOME)
    follow(p3, day(12, 1), "6.2", where=b)
    # P4: re-enrolled after a gap
    DiabetesEnrollmentFactory(
        patient=p4,
        institution=a,
        enrolled_on=day(1, 1),
        ended_on=day(2, 29),
        baseline_fbg=D("6.8"),
    )
    DiabetesEnrollmentFactory(
        patient=p4, institution=a, enrolled_on=day(6, 1), baseline_fbg=D("7.9")
    )
    follow(p4, day(2, 29), "6.5")
    follow(p4, day(4, 15), "6.0")
    follow(p4, day(7, 1), "6.6")
    follow(p4, day(11, 1), "6.4")
    lab_result(p4, "HBA1C", day(4, 20), "6.0")
    # P5: 89 covered days
    DiabetesEnrollmentFactory(patient=p5, institution=a, enrolled_on=day(10, 4))
    follow(p5, day(11, 1), "5.0")
    # P6: no day in 2024
    DiabetesEnrollmentFactory(
        patient=p6, institution=a, enrolled_on=day(1, 1, 2022), ended_on=day(12, 31, 2023)
    )
    return {"a": a, "b": b, "p": {1: p1, 2: p2, 3: p3, 4: p4, 5: p5, 6: p6}}
