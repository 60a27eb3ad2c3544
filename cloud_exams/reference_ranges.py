"""Flags and eGFR as pure functions (STYLE.md 4.3): no database, tested on their own.

A numeric result is flagged against the reference range for the patient's sex and age on the
day the specimen was collected. The most specific range wins: one for the patient's sex over one
for both sexes; among those, the age band the age falls in (``[from, to)``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Flags, as ExamResult.Flag stores them (kept here so this module needs no models).
NO_RANGE = ""
NORMAL = "N"
LOW = "L"
HIGH = "H"
CRITICAL_LOW = "LL"
CRITICAL_HIGH = "HH"


@dataclass(frozen=True)
class Limits:
    """One reference range row, as plain values."""

    sex: str  # "" for both sexes, else "M" / "F"
    age_from_years: int
    age_to_years: int | None
    low: Decimal | None
    high: Decimal | None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None

    def applies_to(self, *, sex: str, age_years: int) -> bool:
        if self.sex and self.sex != sex:
            return False
        if age_years < self.age_from_years:
            return False
        return self.age_to_years is None or age_years < self.age_to_years

    def describe(self) -> str:
        """The interval as a report prints it: ``3.9-6.1``, ``<5.2``, ``≥1.0``."""
        if self.low is not None and self.high is not None:
            return f"{_plain(self.low)}-{_plain(self.high)}"
        if self.high is not None:
            return f"≤{_plain(self.high)}"
        if self.low is not None:
            return f"≥{_plain(self.low)}"
        return ""


def _plain(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def age_in_years(birth_date: dt.date, on: dt.date) -> int:
    """Completed years of age on ``on`` (a 29 February birthday counts on 1 March in common
    years)."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def applicable_limits(ranges: Iterable[Limits], *, sex: str, age_years: int) -> Limits | None:
    """The range for this sex and age: a sex-specific one before one for both sexes."""
    matching = [r for r in ranges if r.applies_to(sex=sex, age_years=age_years)]
    if not matching:
        return None
    matching.sort(key=lambda r: (r.sex == "", -r.age_from_years))
    return matching[0]


def flag_for(value: Decimal, limits: Limits | None) -> str:
    """The flag of ``value``: critical limits are exclusive bounds (``< critical_low`` and
    ``> critical_high`` are critical), the reference limits inclusive (a value equal to the
    upper limit is normal)."""
    if limits is None:
        return NO_RANGE
    if limits.critical_low is not None and value < limits.critical_low:
        return CRITICAL_LOW
    if limits.critical_high is not None and value > limits.critical_high:
        return CRITICAL_HIGH
    if limits.low is not None and value < limits.low:
        return LOW
    if limits.high is not None and value > limits.high:
        return HIGH
    return NORMAL


# CKD-EPI 2021 (race-free) creatinine equation, Inker et al., N Engl J Med 2021;385:1737-49:
# eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age x 1.012 [female],
# Scr in mg/dL; k = 0.7 (female) or 0.9 (male); a = -0.241 (female) or -0.302 (male).
_UMOL_PER_MG_DL_CREATININE = 88.4


def egfr_ckd_epi_2021(*, creatinine_umol_l: Decimal, sex: str, age_years: int) -> Decimal:
    """eGFR in mL/min/1.73 m² from serum creatinine in µmol/L, rounded half-up to a whole
    number as laboratories report it. Defined for adults (18 and over)."""
    if age_years < 18:
        raise ValueError("CKD-EPI 2021 is defined for adults (18 years and over).")
    if creatinine_umol_l <= 0:
        raise ValueError("Creatinine must be positive.")
    if sex not in {"M", "F"}:
        raise ValueError("Sex must be M or F.")
    female = sex == "F"
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = float(creatinine_umol_l) / _UMOL_PER_MG_DL_CREATININE / kappa
    egfr = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age_years
    if female:
        egfr *= 1.012
    if not math.isfinite(egfr):
        raise ValueError("eGFR is not finite.")
    return Decimal(repr(egfr)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
