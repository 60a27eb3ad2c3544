"""The payment formulas of CONTRACTS.md §4 and §5 as pure functions: no database, no settings.

Money is ``Decimal`` with two places. Intermediate results are kept exact (``Fraction`` where a
division is involved) and rounded half-up only at the end of a calculation, as CONTRACTS.md's
conventions require; the settlement services and the what-if simulation both call these
functions, so a figure is computed the same way wherever it appears.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.utils.translation import gettext as _

ZERO = Decimal("0.00")
ONE = Decimal("1.00")
CENT = Decimal("0.01")
MAX_QUALITY_SCORE = Decimal("100")
# CONTRACTS §5: the managed population has at least this many covered days in the year.
MANAGED_POPULATION_MIN_DAYS = 90
# CONTRACTS §5: fasting glucose below this value (mmol/L) counts as controlled.
FBG_CONTROLLED_BELOW = Decimal("7.0")
# CONTRACTS §5 and the national basic public health standard: four follow-ups a year.
FOLLOW_UPS_PER_YEAR = 4

Number = Decimal | Fraction | int


class FormulaError(ValueError):
    """An input outside the domain of a formula; the message is user-facing."""


class PeriodError(FormulaError):
    """A settlement period that is not ``YYYY``, ``YYYY-MM`` or ``YYYY-Qn``."""


# --- rounding ------------------------------------------------------------------------------------


def round_half_up(value: Number, places: int = 2) -> Decimal:
    """``value`` rounded half-up (away from zero on a tie) to ``places`` decimal places.

    Exact for ``Fraction`` input: the tie is decided on the rational value, never on a
    truncated decimal expansion.
    """
    exact = Fraction(value)
    scale = 10**places
    scaled = abs(exact) * scale
    units = math.floor(scaled + Fraction(1, 2))
    if exact < 0:
        units = -units
    result = Decimal(units).scaleb(-places)
    # Decimal(0).scaleb(-2) is 0E-2; quantize gives the canonical "0.00" and drops a "-0".
    return (result + 0).quantize(Decimal(1).scaleb(-places))


def money(value: Number) -> Decimal:
    """``value`` in CNY rounded half-up to the fen."""
    return round_half_up(value, 2)


# --- periods -------------------------------------------------------------------------------------


class PeriodKind(enum.StrEnum):
    YEAR = "year"
    QUARTER = "quarter"
    MONTH = "month"


_PERIOD_PATTERN = re.compile(r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})|-Q(?P<quarter>[0-9]))?")


@dataclass(frozen=True)
class Period:
    """A settlement period: a calendar year, quarter or month (CONTRACTS.md conventions)."""

    kind: PeriodKind
    year: int
    # The month (1-12) or the quarter (1-4); None for a year.
    number: int | None
    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}"

    @property
    def is_final(self) -> bool:
        """A year is the final settlement; a month or a quarter is interim (CONTRACTS §4)."""
        return self.kind is PeriodKind.YEAR

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def days_in_year(self) -> int:
        return days_in_year(self.year)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year."""
    return 366 if calendar.isleap(year) else 365


def parse_period(text: str) -> Period:
    """The period named ``YYYY``, ``YYYY-MM`` or ``YYYY-Qn``, with its first and last day."""
    match = _PERIOD_PATTERN.fullmatch(text)
    if match is None:
        raise PeriodError(
            _("“%(period)s” is not a period: use YYYY, YYYY-MM or YYYY-Qn.") % {"period": text}
        )
    year = int(match["year"])
    if year < 1:
        raise PeriodError(_("“%(period)s” has no valid year.") % {"period": text})
    if match["month"] is not None:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise PeriodError(
                _("“%(period)s” has no month %(month)s.") % {"period": text, "month": month}
            )
        last_day = calendar.monthrange(year, month)[1]
        return Period(
            kind=PeriodKind.MONTH,
            year=year,
            number=month,
            start=dt.date(year, month, 1),
            end=dt.date(year, month, last_day),
        )
    if match["quarter"] is not None:
        quarter = int(match["quarter"])
        if not 1 <= quarter <= 4:
            raise PeriodError(
                _("“%(period)s” has no quarter %(quarter)s.") % {"period": text, "quarter": quarter}
            )
        first_month = 3 * quarter - 2
        last_month = first_month + 2
        return Period(
            kind=PeriodKind.QUARTER,
            year=year,
            number=quarter,
            start=dt.date(year, first_month, 1),
            end=dt.date(year, last_month, calendar.monthrange(year, last_month)[1]),
        )
    return Period(
        kind=PeriodKind.YEAR,
        year=year,
        number=None,
        start=dt.date(year, 1, 1),
        end=dt.date(year, 12, 31),
    )


# --- membership and budget ------------------------------------------------------------------------


def covered_days(start: dt.date, end: dt.date | None, period: Period) -> int:
    """Days of a member covered from ``start`` to ``end`` (both included; None: still covered)
    that fall inside ``period``; 0 when they do not meet (CONTRACTS §4)."""
    if end is not None and end < start:
        raise FormulaError(_("A membership cannot end before it starts."))
    first = max(start, period.start)
    last = period.end if end is None else min(end, period.end)
    return max(0, (last - first).days + 1)


def budget(*, annual_rate: Decimal, member_days: int, days_in_year: int) -> Decimal:
    """``annual_rate × member_days / days_in_year`` rounded half-up to 0.01 (CONTRACTS §4)."""
    if annual_rate < 0:
        raise FormulaError(_("The annual rate cannot be negative."))
    if member_days < 0:
        raise FormulaError(_("Member days cannot be negative."))
    if days_in_year not in (365, 366):
        raise FormulaError(_("A year has 365 or 366 days."))
    return money(Fraction(annual_rate) * member_days / days_in_year)


# --- quality (CONTRACTS §5) -----------------------------------------------------------------------


class Indicator(enum.StrEnum):
    SMR = "SMR"  # standardized management rate
    GCR = "GCR"  # glucose control rate
    HTR = "HTR"  # HbA1c testing rate
    GCI = "GCI"  # glucose control improvement


@dataclass(frozen=True)
class IndicatorFigures:
    """The counts behind one institution's quality indicators for a year (CONTRACTS §5).

    Quality-indicator providers return these (see ``payments.registry``); a settlement run copies
    them into its QualityAssessment rows. Each count is a number of residents of the managed
    population.
    """

    managed_population: int
    # Residents with at least the required counting follow-ups on distinct dates (SMR).
    standardized_managed: int
    # Residents whose latest fasting glucose of the year is below 7.0 mmol/L (GCR).
    glucose_controlled: int
    # Residents with at least one HbA1c value in the year (HTR).
    hba1c_tested: int
    # Residents whose baseline fasting glucose is below 7.0 mmol/L (the GCI baseline).
    baseline_controlled: int

    def __post_init__(self) -> None:
        counts = {
            "managed_population": self.managed_population,
            "standardized_managed": self.standardized_managed,
            "glucose_controlled": self.glucose_controlled,
            "hba1c_tested": self.hba1c_tested,
            "baseline_controlled": self.baseline_controlled,
        }
        for name, count in counts.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise FormulaError(
                    _("%(name)s must be a whole number of residents, not %(value)r.")
                    % {"name": name, "value": count}
                )
            if count > self.managed_population:
                raise FormulaError(
                    _("%(name)s (%(value)s) exceeds the managed population (%(population)s).")
                    % {"name": name, "value": count, "population": self.managed_population}
                )

    @property
    def is_empty(self) -> bool:
        return self.managed_population == 0

    def numerators(self) -> dict[Indicator, int]:
        """Each indicator's numerator; the denominator of every indicator is the managed
        population. GCI's numerator is a difference of counts and may be negative."""
        return {
            Indicator.SMR: self.standardized_managed,
            Indicator.GCR: self.glucose_controlled,
            Indicator.HTR: self.hba1c_tested,
            Indicator.GCI: self.glucose_controlled - self.baseline_controlled,
        }

    def values(self) -> dict[Indicator, Fraction] | None:
        """Each indicator as an exact share of the managed population; None when it is empty."""
        if self.is_empty:
            return None
        return {
            indicator: Fraction(numerator, self.managed_population)
            for indicator, numerator in self.numerators().items()
        }


@dataclass(frozen=True)
class QualityWeight:
    """An indicator's weight in the quality score and the value that earns the full weight."""

    indicator: Indicator
    weight: Decimal
    target: Decimal


DEFAULT_QUALITY_WEIGHTS: tuple[QualityWeight, ...] = (
    QualityWeight(Indicator.SMR, Decimal("40"), Decimal("0.80")),
    QualityWeight(Indicator.GCR, Decimal("30"), Decimal("0.60")),
    QualityWeight(Indicator.HTR, Decimal("15"), Decimal("0.70")),
    QualityWeight(Indicator.GCI, Decimal("15"), Decimal("0.10")),
)


def validate_quality_weights(weights: Sequence[QualityWeight]) -> None:
    """Every indicator once, targets above 0 and weights that sum to 100 (CONTRACTS §5)."""
    indicators = [weight.indicator for weight in weights]
    if sorted(indicators) != sorted(Indicator):
        raise FormulaError(_("The quality weights must name each indicator exactly once."))
    for weight in weights:
        if weight.target <= 0 or weight.weight < 0:
            raise FormulaError(
                _("The weight and target of %(indicator)s must be positive.")
                % {"indicator": weight.indicator}
            )
    if sum(weight.weight for weight in weights) != MAX_QUALITY_SCORE:
        raise FormulaError(_("The quality weights must sum to 100."))


def quality_score(
    figures: IndicatorFigures, weights: Sequence[QualityWeight] = DEFAULT_QUALITY_WEIGHTS
) -> Fraction | None:
    """Σ weight × min(1, max(0, value) / target), exact and unrounded; None when the managed
    population is empty (CONTRACTS §5)."""
    validate_quality_weights(weights)
    values = figures.values()
    if values is None:
        return None
    score = Fraction(0)
    for weight in weights:
        value = max(Fraction(0), values[weight.indicator])
        score += Fraction(weight.weight) * min(Fraction(1), value / Fraction(weight.target))
    return score


def round_quality_score(score: Number | None) -> Decimal | None:
    """Q rounded half-up to two places, as it is before the tiers apply (CONTRACTS §4)."""
    if score is None:
        return None
    if not 0 <= Fraction(score) <= MAX_QUALITY_SCORE:
        raise FormulaError(_("A quality score lies between 0 and 100."))
    return round_half_up(score, 2)


def required_follow_ups(covered_days_in_year: int, days_in_year: int) -> int:
    """ceil(4 × covered_days / days_in_year): the follow-ups a resident needs (CONTRACTS §5)."""
    return math.ceil(Fraction(FOLLOW_UPS_PER_YEAR * covered_days_in_year, days_in_year))


# --- retention tiers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionTier:
    """From ``min_score`` upward (until the next tier) the share of a surplus that is retained."""

    min_score: Decimal
    retention_ratio: Decimal


DEFAULT_RETENTION_TIERS: tuple[RetentionTier, ...] = (
    RetentionTier(Decimal("90.00"), Decimal("1.00")),
    RetentionTier(Decimal("80.00"), Decimal("0.80")),
    RetentionTier(Decimal("60.00"), Decimal("0.50")),
)


def validate_retention_tiers(tiers: Iterable[RetentionTier]) -> None:
    """Thresholds in [0, 100] that do not repeat, ratios in [0, 1] (issue 3, Deliver 1)."""
    seen: set[Decimal] = set()
    for tier in tiers:
        if not 0 <= tier.min_score <= MAX_QUALITY_SCORE:
            raise FormulaError(
                _("The threshold %(score)s lies outside 0–100.") % {"score": tier.min_score}
            )
        if not 0 <= tier.retention_ratio <= 1:
            raise FormulaError(
                _("The retention ratio %(ratio)s lies outside 0–1.")
                % {"ratio": tier.retention_ratio}
            )
        if tier.min_score in seen:
            raise FormulaError(
                _("Two tiers start at the same score %(score)s.") % {"score": tier.min_score}
            )
        seen.add(tier.min_score)


def retention_ratio_for(
    score: Decimal | None, tiers: Sequence[RetentionTier] = DEFAULT_RETENTION_TIERS
) -> Decimal:
    """The ratio of the highest tier whose threshold the rounded score reaches; 0.00 below every
    tier and when the score is empty (CONTRACTS §4)."""
    validate_retention_tiers(tiers)
    if score is None:
        return ZERO
    reached = [tier for tier in tiers if score >= tier.min_score]
    if not reached:
        return ZERO
    best = max(reached, key=lambda tier: tier.min_score)
    return round_half_up(best.retention_ratio, 2)


# --- settlement lines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SettlementFigures:
    """One institution's settlement line (CONTRACTS §4 export columns, without the code)."""

    enrolees: int
    member_days: int
    budget: Decimal
    spending: Decimal
    balance: Decimal
    # Empty (None) on an interim line; quality_score is also empty on a final line whose
    # managed population is empty.
    quality_score: Decimal | None
    retention_ratio: Decimal | None
    retained: Decimal | None
    overspend: Decimal
    fund_payable: Decimal


def settle_interim(
    *, enrolees: int, member_days: int, budget: Decimal, spending: Decimal
) -> SettlementFigures:
    """A month's or a quarter's line: no quality, no retention (CONTRACTS §4)."""
    _check_money(budget=budget, spending=spending)
    balance = money(budget - spending)
    return SettlementFigures(
        enrolees=enrolees,
        member_days=member_days,
        budget=money(budget),
        spending=money(spending),
        balance=balance,
        quality_score=None,
        retention_ratio=None,
        retained=None,
        overspend=money(max(ZERO, -balance)),
        fund_payable=money(min(spending, budget)),
    )


def settle_final(
    *,
    enrolees: int,
    member_days: int,
    budget: Decimal,
    spending: Decimal,
    quality_score: Number | None,
    tiers: Sequence[RetentionTier] = DEFAULT_RETENTION_TIERS,
) -> SettlementFigures:
    """A year's line: surplus retained by quality, overspend not compensated (CONTRACTS §4).

    ``quality_score`` is Q as computed (unrounded, or None for an empty managed population); it
    is rounded half-up to two places before the tiers apply.
    """
    _check_money(budget=budget, spending=spending)
    score = round_quality_score(quality_score)
    ratio = retention_ratio_for(score, tiers)
    balance = money(budget - spending)
    if balance >= 0:
        retained = money(balance * ratio)
        overspend = ZERO
    else:
        retained = ZERO
        overspend = money(-balance)
    return SettlementFigures(
        enrolees=enrolees,
        member_days=member_days,
        budget=money(budget),
        spending=money(spending),
        balance=balance,
        quality_score=score,
        retention_ratio=ratio,
        retained=retained,
        overspend=overspend,
        fund_payable=money(min(spending, budget) + retained),
    )


def settle(
    *,
    period: Period,
    annual_rate: Decimal,
    enrolees: int,
    member_days: int,
    spending: Decimal,
    quality_score: Number | None = None,
    tiers: Sequence[RetentionTier] = DEFAULT_RETENTION_TIERS,
) -> SettlementFigures:
    """The line of an institution for ``period``: interim for a month or quarter, final for a
    year (CONTRACTS §4)."""
    line_budget = budget(
        annual_rate=annual_rate, member_days=member_days, days_in_year=period.days_in_year
    )
    if not period.is_final:
        return settle_interim(
            enrolees=enrolees, member_days=member_days, budget=line_budget, spending=spending
        )
    return settle_final(
        enrolees=enrolees,
        member_days=member_days,
        budget=line_budget,
        spending=spending,
        quality_score=quality_score,
        tiers=tiers,
    )


def _check_money(**amounts: Decimal) -> None:
    for name, amount in amounts.items():
        if amount < 0:
            raise FormulaError(_("%(name)s cannot be negative.") % {"name": name})
        if amount != amount.quantize(CENT):
            raise FormulaError(_("%(name)s must be in whole fen.") % {"name": name})


def tiers_from_mapping(rows: Iterable[Mapping[str, object]]) -> tuple[RetentionTier, ...]:
    """Tiers from ``{"min_score": "90.00", "retention_ratio": "1.00"}`` rows, as a run records
    them."""
    return tuple(
        RetentionTier(Decimal(str(row["min_score"])), Decimal(str(row["retention_ratio"])))
        for row in rows
    )


def tiers_to_mapping(tiers: Iterable[RetentionTier]) -> list[dict[str, str]]:
    """Tiers as JSON-ready rows, highest threshold first."""
    ordered = sorted(tiers, key=lambda tier: tier.min_score, reverse=True)
    return [
        {"min_score": str(tier.min_score), "retention_ratio": str(tier.retention_ratio)}
        for tier in ordered
    ]
