"""CONTRACTS §5 indicators with hand-computed expectations (leap year 2024, 366 days).

Institution A (NK001, 南开区) and B (HP001, 和平区). Residents:

P1 at A from 2023-06-01, open; baseline 8.0.
   covered 366, required ceil(4·366/366) = 4.
   follow-ups: clinic 01-10 FBG 7.5, home 04-10 6.8, phone 07-10 6.5, online 08-10 6.4,
   clinic 10-10 6.6, clinic 12-30 no FBG (HbA1c 6.9), clinic 2025-01-05 5.0 (next year).
   lab FBG 12-15 7.2 (verified), lab FBG 12-20 5.0 (NOT verified).
   counted = 01-10, 04-10, 10-10 = 3 < 4 (phone and online do not count; 12-30 has no FBG)
   → SMR no. Latest FBG on a covered day: 12-15 lab 7.2 (the unverified 12-20 and the 2025
   reading are not read) → GCR no. HbA1c 12-30 → HTR yes. Baseline 8.0 → no.
P2 at A 2024-03-01 … 2024-08-31 (mid-year start and end); baseline 6.5.
   covered 31+30+31+30+31+31 = 184, required ceil(736/366) = ceil(2.01) = 3.
   follow-ups: clinic 02-20 6.0 (before: not covered), clinic 03-05 7.8, home 05-20 6.9,
   clinic 08-31 6.5 (last covered day), clinic 09-15 5.5 (after the end).
   lab FBG 08-31 7.3 (same day as a follow-up FBG: the highest, 7.3, is the day's value);
   lab HbA1c 02-25 (before the enrolment).
   counted = 03-05, 05-20, 08-31 = 3 ≥ 3 → SMR yes. Latest covered FBG: 08-31, max(6.5, 7.3)
   = 7.3 → GCR no (the 09-15 5.5 would make it yes if it were read). HTR no. Baseline yes.
P3 transferred: at B 2023-01-01 … 2024-06-30, at A from 2024-07-01; baseline 7.5 on both.
   at B: covered 31+29+31+30+31+30 = 182, required ceil(728/366) = 2.
   at A: covered 31+31+30+31+30+31 = 184, required 3.
   follow-ups: clinic 02-01 6.0 (at B), clinic 05-01 6.1 HbA1c 6.8 (at B), clinic 08-01 7.5
   (at A), home 10-01 6.3 (at A), clinic 12-01 6.2 (given at B: wherever given).
   at B: counted 2 → SMR yes; latest 05-01 6.1 → GCR yes; HbA1c 05-01 → HTR yes; baseline no.
   at A: counted 3 → SMR yes; latest 12-01 6.2 → GCR yes; no HbA1c at A → HTR no; baseline no.
P4 at A, re-enrolled after a gap: 2024-01-01 … 2024-02-29 (baseline 6.8) and from 2024-06-01
   (baseline 7.9). covered 60 + 214 = 274, required ceil(1096/366) = ceil(2.99) = 3.
   follow-ups: clinic 02-29 6.5 (leap day), clinic 04-15 6.0 (in the gap), clinic 07-01 6.6,
   clinic 11-01 6.4; lab HbA1c 04-20 (in the gap).
   counted = 02-29, 07-01, 11-01 = 3 → SMR yes; latest 11-01 6.4 → GCR yes; HTR no;
   baseline of the earliest enrolment 6.8 → yes.
P5 at A from 2024-10-04: covered 28+30+31 = 89 < 90 → not managed (a clinic 11-01 5.0 is
   not read).
P6 at A 2022-01-01 … 2023-12-31: no day in 2024.

A: M = 4 (P1, P2, P3, P4); SMR 3, GCR 2 (P3, P4), HTR 1 (P1), baseline 2 (P2, P4).
   SMR 0.75, GCR 0.5, HTR 0.25, GCI 0.5 − 0.5 = 0.
   Q = 40·min(1, 0.75/0.8) + 30·min(1, 0.5/0.6) + 15·min(1, 0.25/0.7) + 15·0
     = 37.5 + 25 + 5.357142… + 0 = 67.857142… → 67.86.
B: M = 1 (P3); SMR 1, GCR 1, HTR 1, baseline 0: GCI 1 → Q = 100.00.
"""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

from chronic_care.indicators import (
    QualityFigures,
    diabetes_quality_figures,
    indicator_figures,
    member_indicators,
    monthly_figures,
    pooled,
)
from payments.formulas import IndicatorFigures
from payments.registry import collect_quality_figures, get_quality_provider
from tests.factories.cloud_management import (
    InstitutionFactory,
    district,
)

D = Decimal


def day(month: int, dom: int, year: int = 2024) -> dt.date:
    return dt.date(year, month, dom)


def test_each_resident_counts_as_computed_by_hand(world):
    a, b, p = world["a"], world["b"], world["p"]

    rows = member_indicators(year=2024, institution_ids=[a.pk, b.pk])

    got = {
        (row.institution_id, row.patient_id): (
            row.covered_days,
            row.required,
            row.counted_follow_ups,
            row.latest_fbg,
            row.is_standardized,
            row.is_controlled,
            row.is_hba1c_tested,
            row.was_controlled_at_baseline,
        )
        for row in rows
    }
    assert got == {
        (a.pk, p[1].pk): (366, 4, 3, D("7.2"), False, False, True, False),
        (a.pk, p[2].pk): (184, 3, 3, D("7.3"), True, False, False, True),
        (a.pk, p[3].pk): (184, 3, 3, D("6.2"), True, True, False, False),
        (a.pk, p[4].pk): (274, 3, 3, D("6.4"), True, True, False, True),
        (b.pk, p[3].pk): (182, 2, 2, D("6.1"), True, True, True, False),
    }


def test_institution_figures_and_scores(world, django_assert_num_queries):
    a, b = world["a"], world["b"]

    with django_assert_num_queries(1):
        figures = indicator_figures(year=2024, institution_ids=[a.pk, b.pk])

    assert figures == {
        a.pk: IndicatorFigures(
            managed_population=4,
            standardized_managed=3,
            glucose_controlled=2,
            hba1c_tested=1,
            baseline_controlled=2,
        ),
        b.pk: IndicatorFigures(
            managed_population=1,
            standardized_managed=1,
            glucose_controlled=1,
            hba1c_tested=1,
            baseline_controlled=0,
        ),
    }
    quality_a = QualityFigures(figures[a.pk])
    assert (quality_a.smr, quality_a.gcr, quality_a.htr, quality_a.gci) == (
        Fraction(3, 4),
        Fraction(1, 2),
        Fraction(1, 4),
        Fraction(0),
    )
    assert quality_a.score == D("67.86")
    assert QualityFigures(figures[b.pk]).score == D("100.00")


def test_the_city_is_one_query_and_pools_institutions(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        figures = indicator_figures(year=2024, institution_ids=None)

    assert pooled(figures.values()) == IndicatorFigures(
        managed_population=5,
        standardized_managed=4,
        glucose_controlled=3,
        hba1c_tested=2,
        baseline_controlled=2,
    )


def test_an_institution_without_managed_residents_is_left_out(world):
    empty = InstitutionFactory(code="XQ001", district=district("120101"))

    assert indicator_figures(year=2024, institution_ids=[empty.pk]) == {}
    # 2022: only P6, covered all year at A, without a follow-up.
    assert indicator_figures(year=2022, institution_ids=[world["a"].pk]) == {
        world["a"].pk: IndicatorFigures(
            managed_population=1,
            standardized_managed=0,
            glucose_controlled=0,
            hba1c_tested=0,
            baseline_controlled=0,
        )
    }


def test_a_non_leap_year_divides_by_365(world):
    """2023: P1 from 06-01 covers 30+31+31+30+31+30+31 = 214 days, required
    ceil(4·214/365) = ceil(2.35) = 3; P6 at A and P3 at B cover 365, required 4."""
    a, b, p = world["a"], world["b"], world["p"]

    rows = member_indicators(year=2023, institution_ids=[a.pk, b.pk])

    assert {(r.institution_id, r.patient_id): (r.covered_days, r.required) for r in rows} == {
        (a.pk, p[1].pk): (214, 3),
        (a.pk, p[6].pk): (365, 4),
        (b.pk, p[3].pk): (365, 4),
    }


def test_year_to_date_figures_through_the_end_of_march(world):
    """Through 2024-03-31 at A only P1 has 90 covered days (91): required ceil(4·91/366) = 1,
    counted 01-10 → SMR; latest FBG 01-10 7.5 → not controlled; no HbA1c yet."""
    a = world["a"]

    figures = indicator_figures(year=2024, institution_ids=[a.pk], through=day(3, 31))

    assert figures == {
        a.pk: IndicatorFigures(
            managed_population=1,
            standardized_managed=1,
            glucose_controlled=0,
            hba1c_tested=0,
            baseline_controlled=0,
        )
    }


def test_monthly_figures_cost_one_query_a_month(world, django_assert_num_queries):
    a = world["a"]

    with django_assert_num_queries(12):
        months = monthly_figures(year=2024, institution_ids=[a.pk], today=day(12, 31, 2025))

    assert [end for end, _figures in months][:3] == [day(1, 31), day(2, 29), day(3, 31)]
    assert [figures.managed_population for _end, figures in months[:3]] == [0, 0, 1]
    assert months[-1][1] == indicator_figures(year=2024, institution_ids=[a.pk])[a.pk]


def test_the_provider_is_registered_with_payments(world):
    a, b = world["a"], world["b"]

    assert get_quality_provider() is diabetes_quality_figures
    collected = collect_quality_figures(2024, [a.pk, b.pk])

    assert collected[a.pk].managed_population == 4
    assert collected[b.pk].standardized_managed == 1
