"""A stand-in quality provider, registered temporarily until chronic_care registers the real one.

It derives the managed population from the diabetes enrolments as CONTRACTS §5 says (at least
90 covered days at the institution in the year) and takes the other counts from ``counts``,
keyed by institution code, so tests choose the quality score they need.
"""

import datetime as dt
from decimal import Decimal

import pytest

from cloud_management.models import DiabetesEnrollment
from payments import registry
from payments.formulas import (
    MANAGED_POPULATION_MIN_DAYS,
    IndicatorFigures,
    covered_days,
    parse_period,
)
from payments.models import Scheme
from payments.registry import registered_quality_provider
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    district,
)
from tests.factories.payments import ClaimLineFactory, SchemeFactory

D = Decimal


class StubQualityProvider:
    def __init__(self) -> None:
        # institution code → (standardized_managed, glucose_controlled, hba1c_tested,
        # baseline_controlled); capped at the managed population.
        self.counts: dict[str, tuple[int, int, int, int]] = {}
        self.calls: list[tuple[int, list[int]]] = []

    def __call__(self, year, institution_ids):
        self.calls.append((year, list(institution_ids)))
        period = parse_period(str(year))
        managed: dict[int, int] = {}
        codes: dict[int, str] = {}
        for enrolment in DiabetesEnrollment.objects.filter(
            institution_id__in=institution_ids
        ).select_related("institution"):
            codes[enrolment.institution_id] = enrolment.institution.code
            days = covered_days(enrolment.enrolled_on, enrolment.ended_on, period)
            if days >= MANAGED_POPULATION_MIN_DAYS:
                managed[enrolment.institution_id] = managed.get(enrolment.institution_id, 0) + 1
            else:
                managed.setdefault(enrolment.institution_id, 0)
        result = {}
        for institution_id, population in managed.items():
            smr, gcr, htr, baseline = self.counts.get(codes[institution_id], (0, 0, 0, 0))
            result[institution_id] = IndicatorFigures(
                managed_population=population,
                standardized_managed=min(smr, population),
                glucose_controlled=min(gcr, population),
                hba1c_tested=min(htr, population),
                baseline_controlled=min(baseline, population),
            )
        return result


@pytest.fixture
def no_quality_provider():
    """No quality provider registered (chronic_care registers the real one in ready())."""
    previous = registry._quality.swap(None, None)
    try:
        yield
    finally:
        registry._quality.swap(*previous)


@pytest.fixture
def quality_provider():
    provider = StubQualityProvider()
    with registered_quality_provider(provider):
        yield provider


@pytest.fixture
def community():
    """The community of the settlement tests: leap year 2024, scheme DM2024 at 1830.00 a year,
    i.e. exactly 5.00 a day.

    Institution A (NK001), diabetes enrolments:
      P1 from 2023-05-01, open        → 366 days in 2024
      P2 2024-03-01 … 2024-04-30      → 31 + 30 = 61 days
      P3 from 2024-10-02, open        → 30 + 30 + 31 = 91 days
      member_days 518, budget 5 × 518 = 2590.00
    Institution C (HX001): P4 from 2024-11-01, open → 30 + 31 = 61 days (< 90: no managed
      population), budget 5 × 61 = 305.00
    Institution B (HP001) has no members; it only gives services.
    """
    a = InstitutionFactory(code="NK001", district=district("120104"))
    b = InstitutionFactory(code="HP001", district=district("120101"))
    c = InstitutionFactory(code="HX001", district=district("120102"))
    p1, p2, p3 = (PatientFactory(home_institution=a) for _ in range(3))
    p4 = PatientFactory(home_institution=c)
    DiabetesEnrollmentFactory(patient=p1, institution=a, enrolled_on=dt.date(2023, 5, 1))
    DiabetesEnrollmentFactory(
        patient=p2, institution=a, enrolled_on=dt.date(2024, 3, 1), ended_on=dt.date(2024, 4, 30)
    )
    DiabetesEnrollmentFactory(patient=p3, institution=a, enrolled_on=dt.date(2024, 10, 2))
    DiabetesEnrollmentFactory(patient=p4, institution=c, enrolled_on=dt.date(2024, 11, 1))

    def claim(patient, day, fund, category="pharmacy", diagnosis="E11.9", where=a):
        return ClaimLineFactory(
            patient=patient,
            institution=where,
            service_date=day,
            category=category,
            diagnosis_code=diagnosis,
            total_amount=fund + D("10.00"),
            fund_paid=fund,
        )

    # Counted for A: 100.00 + 50.50 + 20.25 + 9.99 = 180.74 in the year.
    claim(p1, dt.date(2024, 2, 29), D("100.00"))  # leap day
    claim(p1, dt.date(2024, 6, 1), D("50.50"), "outpatient", "E10.1", where=b)  # given at B
    claim(p2, dt.date(2024, 4, 30), D("20.25"))  # P2's last covered day
    claim(p3, dt.date(2024, 12, 31), D("9.99"), "outpatient")
    # Not counted for A:
    claim(p1, dt.date(2024, 7, 1), D("1000.00"), "inpatient")  # category not covered
    claim(p1, dt.date(2024, 8, 1), D("30.00"), diagnosis="I10")  # prefix does not match
    claim(p1, dt.date(2024, 8, 2), D("31.00"), diagnosis="e11.9")  # codes are case-sensitive
    claim(p1, dt.date(2024, 8, 3), D("32.00"), diagnosis="")  # no diagnosis
    claim(p2, dt.date(2024, 2, 29), D("40.00"))  # before P2's enrolment
    claim(p2, dt.date(2024, 5, 1), D("60.00"))  # after P2's enrolment ended
    claim(p3, dt.date(2024, 10, 1), D("70.00"), "outpatient")  # the day before P3's enrolment
    claim(p1, dt.date(2023, 12, 31), D("500.00"))  # before the period
    claim(p1, dt.date(2025, 1, 1), D("600.00"))  # after the period
    # Counted for C: 100.00 + 80.00 = 180.00 (both in November).
    claim(p4, dt.date(2024, 11, 15), D("100.00"), where=c)
    claim(p4, dt.date(2024, 11, 20), D("80.00"), "outpatient", "E10", where=b)

    scheme = SchemeFactory(
        code="DM2024",
        kind=Scheme.Kind.PER_DISEASE,
        year=2024,
        annual_rate=D("1830.00"),
        diagnosis_prefixes="E10;E11",
        categories="outpatient;pharmacy",
    )
    return {"a": a, "b": b, "c": c, "p": [p1, p2, p3, p4], "scheme": scheme}
