"""CONTRACTS.md §4 and §5, clause by clause, with expectations computed by hand (no database).

Each expected figure carries its arithmetic in a comment so a reviewer can redo it on paper.
"""

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from payments.formulas import (
    DEFAULT_RETENTION_TIERS,
    FormulaError,
    IndicatorFigures,
    PeriodError,
    PeriodKind,
    RetentionTier,
    budget,
    covered_days,
    money,
    parse_period,
    quality_score,
    required_follow_ups,
    retention_ratio_for,
    round_quality_score,
    settle,
    settle_final,
    settle_interim,
    validate_retention_tiers,
)

D = Decimal

# --- periods ---


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "days"),
    [
        ("2024", PeriodKind.YEAR, dt.date(2024, 1, 1), dt.date(2024, 12, 31), 366),
        ("2025", PeriodKind.YEAR, dt.date(2025, 1, 1), dt.date(2025, 12, 31), 365),
        ("2024-02", PeriodKind.MONTH, dt.date(2024, 2, 1), dt.date(2024, 2, 29), 29),
        ("2023-02", PeriodKind.MONTH, dt.date(2023, 2, 1), dt.date(2023, 2, 28), 28),
        ("2025-12", PeriodKind.MONTH, dt.date(2025, 12, 1), dt.date(2025, 12, 31), 31),
        # 31 + 29 + 31 in a leap year.
        ("2024-Q1", PeriodKind.QUARTER, dt.date(2024, 1, 1), dt.date(2024, 3, 31), 91),
        # 30 + 31 + 30.
        ("2025-Q2", PeriodKind.QUARTER, dt.date(2025, 4, 1), dt.date(2025, 6, 30), 91),
        ("2025-Q4", PeriodKind.QUARTER, dt.date(2025, 10, 1), dt.date(2025, 12, 31), 92),
    ],
)
def test_parse_period_gives_first_and_last_day(text, kind, start, end, days):
    period = parse_period(text)

    assert period.kind is kind
    assert (period.start, period.end, period.days) == (start, end, days)
    assert str(period) == text
    assert period.is_final is (kind is PeriodKind.YEAR)


def test_period_knows_days_in_its_year():
    assert parse_period("2024-03").days_in_year == 366
    assert parse_period("2025-Q1").days_in_year == 365
    assert parse_period("1900").days_in_year == 365  # divisible by 100, not by 400
    assert parse_period("2000").days_in_year == 366  # divisible by 400


@pytest.mark.parametrize(
    "text",
    [
        "2024-13",
        "2024-00",
        "2024-Q5",
        "2024-Q0",
        "24",
        "2024-1",
        "2024-q1",
        "2024/01",
        "",
        "0000",
        "2024-Q1-01",
        " 2024",
        "２０２４",
        "2024-Q12",
    ],
)
def test_parse_period_rejects_other_forms(text):
    with pytest.raises(PeriodError):
        parse_period(text)


# --- covered days ---


@pytest.mark.parametrize(
    ("start", "end", "period", "expected"),
    [
        # No end date: still covered through the leap year's 366 days.
        (dt.date(2024, 1, 1), None, "2024", 366),
        (dt.date(2025, 1, 1), None, "2025", 365),
        # Both ends included: 28 and 29 February 2024.
        (dt.date(2024, 2, 28), dt.date(2024, 3, 1), "2024-02", 2),
        (dt.date(2024, 2, 28), dt.date(2024, 3, 1), "2024-03", 1),
        # Started the year before: the whole first quarter of 2024, 31 + 29 + 31.
        (dt.date(2023, 6, 1), None, "2024-Q1", 91),
        # One day.
        (dt.date(2025, 5, 5), dt.date(2025, 5, 5), "2025-05", 1),
        # 10 June to 31 December 2025: 21 + 31 + 31 + 30 + 31 + 30 + 31 = 205.
        (dt.date(2025, 6, 10), None, "2025", 205),
        # Ended before the period, or starts after it.
        (dt.date(2023, 1, 1), dt.date(2023, 12, 31), "2024", 0),
        (dt.date(2025, 7, 1), None, "2025-Q2", 0),
    ],
)
def test_covered_days_inside_period(start, end, period, expected):
    assert covered_days(start, end, parse_period(period)) == expected


def test_covered_days_refuses_end_before_start():
    with pytest.raises(FormulaError):
        covered_days(dt.date(2025, 3, 2), dt.date(2025, 3, 1), parse_period("2025"))


# --- budget ---


@pytest.mark.parametrize(
    ("rate", "member_days", "days_in_year", "expected"),
    [
        # 1200 × 366 / 366.
        ("1200.00", 366, 366, "1200.00"),
        # 1000 × 100 / 365 = 273.9726…; rounding a daily rate first would give 2.74 × 100 = 274.00.
        ("1000.00", 100, 365, "273.97"),
        # 1500 × 12345 / 365 = 18 517 500 / 365 = 50 732.8767…
        ("1500.00", 12345, 365, "50732.88"),
        # Ties are rounded half-up: 1.83 / 366 = 0.005 exactly → 0.01 (half-even would give 0.00),
        # 1.83 × 5 / 366 = 0.025 → 0.03 (half-even: 0.02).
        ("1.83", 1, 366, "0.01"),
        ("1.83", 5, 366, "0.03"),
        # The same member days in a common year: 1.83 × 5 / 365 = 0.025068… → 0.03.
        ("1.83", 5, 365, "0.03"),
        ("1000.00", 0, 365, "0.00"),
    ],
)
def test_budget_rounds_half_up_at_the_end(rate, member_days, days_in_year, expected):
    result = budget(annual_rate=D(rate), member_days=member_days, days_in_year=days_in_year)

    assert result == D(expected)
    assert str(result) == expected


def test_budget_rejects_a_year_of_364_days():
    with pytest.raises(FormulaError):
        budget(annual_rate=D("1.00"), member_days=1, days_in_year=364)


# --- quality score (§5) ---


def figures(m, smr, gcr, htr, baseline):
    return IndicatorFigures(
        managed_population=m,
        standardized_managed=smr,
        glucose_controlled=gcr,
        hba1c_tested=htr,
        baseline_controlled=baseline,
    )


def test_quality_score_full_marks_at_every_target():
    # SMR 8/10 = 0.80 → 40; GCR 6/10 = 0.60 → 30; HTR 7/10 = 0.70 → 15;
    # GCI = 0.60 − 5/10 = 0.10 → 15. Total 100.
    assert quality_score(figures(10, 8, 6, 7, 5)) == 100


def test_quality_score_partial_and_negative_improvement():
    # SMR 0.4/0.8 × 40 = 20; GCR 0.3/0.6 × 30 = 15; HTR 0; GCI = 0.3 − 0.5 < 0 → 0. Total 35.
    assert quality_score(figures(10, 4, 3, 0, 5)) == 35


def test_quality_score_caps_each_indicator_at_its_weight():
    # SMR 1/0.8 → capped 40; GCR 1/0.6 → capped 30; HTR capped 15; GCI 1.0/0.1 → capped 15.
    assert quality_score(figures(4, 4, 4, 4, 0)) == 100


def test_quality_score_is_exact_with_thirds():
    # M = 3: SMR (2/3)/0.8 × 40 = 100/3; GCR (1/3)/0.6 × 30 = 50/3; HTR 3/3 → 15;
    # GCI = 1/3 − 0 ≥ 0.1 → 15. 100/3 + 50/3 + 30 = 80 exactly (no 79.999…).
    score = quality_score(figures(3, 2, 1, 3, 0))

    assert score == 80
    assert round_quality_score(score) == D("80.00")
    assert retention_ratio_for(round_quality_score(score)) == D("0.80")


def test_quality_score_with_repeating_decimals():
    # M = 7: SMR (3/7)/0.8 × 40 = 150/7 = 21.428571…; GCR (2/7)/0.6 × 30 = 100/7 = 14.285714…;
    # HTR (5/7)/0.7 × 15 → (50/49) capped at 1 → 15; GCI = 2/7 − 1/7 = 1/7 ≥ 0.1 → 15.
    # Q = 250/7 + 30 = 460/7 = 65.714285… → 65.71 → tier 60–80 → 0.50.
    score = quality_score(figures(7, 3, 2, 5, 1))

    assert score == Fraction(460, 7)
    assert round_quality_score(score) == D("65.71")
    assert retention_ratio_for(round_quality_score(score)) == D("0.50")


def test_quality_score_empty_managed_population_is_empty():
    assert quality_score(figures(0, 0, 0, 0, 0)) is None
    assert round_quality_score(None) is None


@pytest.mark.parametrize(
    "counts",
    [(5, 6, 0, 0, 0), (5, 0, 0, 0, 6), (5, -1, 0, 0, 0), (-1, 0, 0, 0, 0)],
)
def test_indicator_figures_refuse_impossible_counts(counts):
    with pytest.raises(FormulaError):
        figures(*counts)


@pytest.mark.parametrize(
    ("covered", "days_in_year", "expected"),
    [
        (365, 365, 4),
        (366, 366, 4),
        # ceil(4 × 90 / 365) = ceil(0.986…) = 1.
        (90, 365, 1),
        # ceil(4 × 183 / 366) = 2 exactly; one more day needs 3.
        (183, 366, 2),
        (184, 366, 3),
        # ceil(4 × 92 / 366) = ceil(1.005…) = 2.
        (92, 366, 2),
    ],
)
def test_required_follow_ups(covered, days_in_year, expected):
    assert required_follow_ups(covered, days_in_year) == expected


# --- retention tiers ---


@pytest.mark.parametrize(
    ("raw", "rounded", "ratio"),
    [
        ("100", "100.00", "1.00"),
        ("90", "90.00", "1.00"),
        ("89.995", "90.00", "1.00"),
        ("89.994", "89.99", "0.80"),
        ("80", "80.00", "0.80"),
        ("79.995", "80.00", "0.80"),
        ("79.994", "79.99", "0.50"),
        ("60", "60.00", "0.50"),
        ("59.995", "60.00", "0.50"),
        ("59.994", "59.99", "0.00"),
        ("0", "0.00", "0.00"),
    ],
)
def test_tier_boundaries_apply_to_the_rounded_score(raw, rounded, ratio):
    score = round_quality_score(D(raw))

    assert str(score) == rounded
    assert retention_ratio_for(score) == D(ratio)
    assert str(retention_ratio_for(score)) == ratio


def test_empty_score_retains_nothing():
    assert retention_ratio_for(None) == D("0.00")


def test_custom_tiers_choose_the_highest_reached():
    tiers = [RetentionTier(D("0"), D("0.20")), RetentionTier(D("50"), D("0.60"))]

    assert retention_ratio_for(D("49.99"), tiers) == D("0.20")
    assert retention_ratio_for(D("50.00"), tiers) == D("0.60")
    assert retention_ratio_for(D("100.00"), tiers) == D("0.60")


@pytest.mark.parametrize(
    "tiers",
    [
        [RetentionTier(D("90"), D("1.01"))],
        [RetentionTier(D("90"), D("-0.01"))],
        [RetentionTier(D("100.01"), D("1.00"))],
        [RetentionTier(D("-1"), D("0.10"))],
        [RetentionTier(D("80"), D("0.80")), RetentionTier(D("80.00"), D("0.50"))],
    ],
)
def test_invalid_tiers_are_refused(tiers):
    with pytest.raises(FormulaError):
        validate_retention_tiers(tiers)


def test_default_tiers_are_those_of_contracts():
    assert [(t.min_score, t.retention_ratio) for t in DEFAULT_RETENTION_TIERS] == [
        (D("90.00"), D("1.00")),
        (D("80.00"), D("0.80")),
        (D("60.00"), D("0.50")),
    ]


# --- settlement lines ---


def test_interim_surplus_pays_spending_and_keeps_nothing():
    line = settle_interim(enrolees=3, member_days=90, budget=D("100.00"), spending=D("80.00"))

    assert line.balance == D("20.00")
    assert line.overspend == D("0.00")
    assert line.fund_payable == D("80.00")
    assert (line.quality_score, line.retention_ratio, line.retained) == (None, None, None)


def test_interim_overspend_is_not_compensated():
    # balance = 100.00 − 130.50 = −30.50; overspend 30.50; payable min(130.50, 100.00).
    line = settle_interim(enrolees=1, member_days=30, budget=D("100.00"), spending=D("130.50"))

    assert line.balance == D("-30.50")
    assert line.overspend == D("30.50")
    assert line.fund_payable == D("100.00")


def test_settle_month_in_leap_year():
    # March 2024, 31 member days at 3660.00 a year: 3660 × 31 / 366 = 310.00.
    line = settle(
        period=parse_period("2024-03"),
        annual_rate=D("3660.00"),
        enrolees=1,
        member_days=31,
        spending=D("250.25"),
    )

    assert line.budget == D("310.00")
    assert line.balance == D("59.75")
    assert line.fund_payable == D("250.25")
    assert line.overspend == D("0.00")
    assert line.quality_score is None
    assert line.retained is None


def test_settle_quarter():
    # 2025-Q2, one member all quarter (91 days) at 1000.00: 91000 / 365 = 249.3150… → 249.32.
    line = settle(
        period=parse_period("2025-Q2"),
        annual_rate=D("1000.00"),
        enrolees=1,
        member_days=91,
        spending=D("300.00"),
        quality_score=Fraction(95),
    )

    assert line.budget == D("249.32")
    assert line.balance == D("-50.68")
    assert line.overspend == D("50.68")
    assert line.fund_payable == D("249.32")
    # A quarter is interim even when a score is offered.
    assert (line.quality_score, line.retention_ratio, line.retained) == (None, None, None)


def test_final_surplus_retained_by_tier():
    # Q 85 → 0.80; retained 400.00 × 0.80 = 320.00; payable 600.00 + 320.00.
    line = settle_final(
        enrolees=2,
        member_days=730,
        budget=D("1000.00"),
        spending=D("600.00"),
        quality_score=Fraction(85),
    )

    assert line.quality_score == D("85.00")
    assert line.retention_ratio == D("0.80")
    assert line.retained == D("320.00")
    assert line.overspend == D("0.00")
    assert line.fund_payable == D("920.00")


def test_final_retained_is_rounded_half_up_to_the_fen():
    # balance 333.33 × 0.50 = 166.665 → 166.67; payable 666.67 + 166.67 = 833.34.
    line = settle_final(
        enrolees=1,
        member_days=365,
        budget=D("1000.00"),
        spending=D("666.67"),
        quality_score=D("70"),
    )

    assert line.balance == D("333.33")
    assert line.retained == D("166.67")
    assert line.fund_payable == D("833.34")


def test_final_overspend_retains_nothing():
    # balance 1000.00 − 1200.40 = −200.40: retained 0, overspend 200.40, payable the budget.
    line = settle_final(
        enrolees=1,
        member_days=365,
        budget=D("1000.00"),
        spending=D("1200.40"),
        quality_score=D("95"),
    )

    assert line.retention_ratio == D("1.00")
    assert line.retained == D("0.00")
    assert line.overspend == D("200.40")
    assert line.fund_payable == D("1000.00")


def test_final_with_empty_managed_population():
    # Q empty → ratio 0.00; the surplus of 250.00 is not retained.
    line = settle_final(
        enrolees=1,
        member_days=60,
        budget=D("250.00"),
        spending=D("0.00"),
        quality_score=None,
    )

    assert line.quality_score is None
    assert line.retention_ratio == D("0.00")
    assert line.retained == D("0.00")
    assert line.overspend == D("0.00")
    assert line.fund_payable == D("0.00")


def test_final_balance_exactly_zero():
    line = settle_final(
        enrolees=1,
        member_days=365,
        budget=D("500.00"),
        spending=D("500.00"),
        quality_score=D("90"),
    )

    assert str(line.balance) == "0.00"
    assert str(line.retained) == "0.00"
    assert str(line.overspend) == "0.00"
    assert line.fund_payable == D("500.00")


def test_settle_year_leap():
    # 2024, one member all year at 1200.00: 1200 × 366 / 366 = 1200.00; Q 89.995 → 90.00 → 1.00.
    line = settle(
        period=parse_period("2024"),
        annual_rate=D("1200.00"),
        enrolees=1,
        member_days=366,
        spending=D("200.00"),
        quality_score=D("89.995"),
    )

    assert line.budget == D("1200.00")
    assert line.quality_score == D("90.00")
    assert line.retention_ratio == D("1.00")
    assert line.retained == D("1000.00")
    assert line.fund_payable == D("1200.00")


def test_settlement_refuses_fractions_of_a_fen():
    with pytest.raises(FormulaError):
        settle_interim(enrolees=1, member_days=1, budget=D("1.00"), spending=D("0.005"))


def test_money_rounds_half_up_and_never_gives_negative_zero():
    assert str(money(D("2.675"))) == "2.68"
    assert str(money(D("-2.675"))) == "-2.68"
    assert str(money(D("-0.004"))) == "0.00"
    assert str(money(Fraction(1, 200))) == "0.01"
