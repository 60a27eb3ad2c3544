"""Flags and eGFR as pure functions, with hand-computed expectations."""

import datetime as dt
from decimal import Decimal

import pytest

from cloud_exams.reference_ranges import (
    Limits,
    age_in_years,
    applicable_limits,
    egfr_ckd_epi_2021,
    flag_for,
)

D = Decimal
# Creatinine, WS/T 404.5-2015 (µmol/L), with a critical limit of 707.
CREATININE = [
    Limits("M", 20, 60, D(57), D(97), None, D(707)),
    Limits("M", 60, None, D(57), D(111), None, D(707)),
    Limits("F", 20, 60, D(41), D(73), None, D(707)),
    Limits("F", 60, None, D(41), D(81), None, D(707)),
]
GLUCOSE = [Limits("", 18, None, D("3.9"), D("6.1"), D("2.8"), D("22.2"))]


@pytest.mark.parametrize(
    ("sex", "age", "value", "flag"),
    [
        ("M", 45, "100", "H"),  # above 97 for a man under 60
        ("M", 65, "100", "N"),  # within 57-111 from 60 on
        ("F", 45, "80", "H"),  # above 73 for a woman under 60
        ("F", 65, "80", "N"),  # within 41-81 from 60 on
        ("F", 65, "82", "H"),
        ("M", 59, "97", "N"),  # the upper limit itself is normal
        ("M", 60, "56", "L"),
        ("M", 70, "708", "HH"),
        ("M", 70, "707", "H"),  # critical means beyond the limit
        ("M", 19, "100", ""),  # no adult range below 20
    ],
)
def test_creatinine_flags_by_sex_and_age(sex, age, value, flag):
    limits = applicable_limits(CREATININE, sex=sex, age_years=age)
    assert flag_for(D(value), limits) == flag


@pytest.mark.parametrize(
    ("value", "flag"),
    [("2.7", "LL"), ("2.8", "L"), ("3.9", "N"), ("6.1", "N"), ("6.2", "H"), ("22.3", "HH")],
)
def test_glucose_flags_and_critical_limits(value, flag):
    limits = applicable_limits(GLUCOSE, sex="F", age_years=70)
    assert flag_for(D(value), limits) == flag


def test_sex_specific_range_wins_over_both_sexes():
    ranges = [Limits("", 0, None, D(1), D(2)), Limits("F", 0, None, D(3), D(4))]
    assert applicable_limits(ranges, sex="F", age_years=30).low == D(3)
    assert applicable_limits(ranges, sex="M", age_years=30).low == D(1)


def test_age_counts_completed_years_on_the_collection_day():
    assert age_in_years(dt.date(1965, 6, 15), dt.date(2025, 6, 14)) == 59
    assert age_in_years(dt.date(1965, 6, 15), dt.date(2025, 6, 15)) == 60
    assert age_in_years(dt.date(1964, 2, 29), dt.date(2025, 2, 28)) == 60
    assert age_in_years(dt.date(1964, 2, 29), dt.date(2025, 3, 1)) == 61


def test_describe_prints_open_limits():
    assert Limits("", 0, None, D("3.9"), D("6.1")).describe() == "3.9-6.1"
    assert Limits("", 0, None, None, D("5.2")).describe() == "≤5.2"
    assert Limits("", 0, None, D("1.0"), None).describe() == "≥1"


@pytest.mark.parametrize(
    ("creatinine", "sex", "age", "egfr"),
    [
        # 88.4 µmol/L = 1.0 mg/dL; man of 50: 142 × (1.0/0.9)^-1.2 × 0.9938^50 = 91.7
        ("88.4", "M", 50, 92),
        # 61.88 µmol/L = 0.7 mg/dL; woman of 50: 142 × 1 × 0.9938^50 × 1.012 = 105.3
        ("61.88", "F", 50, 105),
        # 176.8 µmol/L = 2.0 mg/dL; man of 70: 142 × (2/0.9)^-1.2 × 0.9938^70 = 35.1
        ("176.8", "M", 70, 35),
        # 44.2 µmol/L = 0.5 mg/dL; woman of 30: 142 × (0.5/0.7)^-0.241 × 0.9938^30 × 1.012
        # = 142 × 1.0845 × 0.8299 × 1.012 = 129.3
        ("44.2", "F", 30, 129),
    ],
)
def test_egfr_ckd_epi_2021(creatinine, sex, age, egfr):
    assert egfr_ckd_epi_2021(creatinine_umol_l=D(creatinine), sex=sex, age_years=age) == egfr


def test_egfr_refuses_children():
    with pytest.raises(ValueError, match="adults"):
        egfr_ckd_epi_2021(creatinine_umol_l=D(50), sex="F", age_years=12)
