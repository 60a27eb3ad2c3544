"""A stand-in quality provider, registered temporarily until chronic_care registers the real one.

It derives the managed population from the diabetes enrolments as CONTRACTS §5 says (at least
90 covered days at the institution in the year) and takes the other counts from ``counts``,
keyed by institution code, so tests choose the quality score they need.
"""

import pytest

from cloud_management.models import DiabetesEnrollment
from payments.formulas import (
    MANAGED_POPULATION_MIN_DAYS,
    IndicatorFigures,
    covered_days,
    parse_period,
)
from payments.registry import registered_quality_provider


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
def quality_provider():
    provider = StubQualityProvider()
    with registered_quality_provider(provider):
        yield provider
