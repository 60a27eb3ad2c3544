"""What the rules see: plain frozen dataclasses, so every rule is a pure function testable
without a database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class DiagnosisLimit:
    icd10_prefix: str
    severity: str
    note: str


@dataclass(frozen=True)
class LabLimit:
    item_code: str
    comparator: str  # "lt" or "gt"
    limit: Decimal
    lookback_days: int
    severity: str
    note: str


@dataclass(frozen=True)
class DrugFacts:
    code: str
    name: str
    atc_code: str
    strength: Decimal
    strength_unit: str
    max_daily_dose: Decimal
    is_controlled: bool = False
    is_toxic: bool = False
    is_antimicrobial: bool = False
    pregnancy_risk: str = "none"
    min_age_years: int | None = None
    elderly_caution_age: int | None = None
    diagnosis_limits: tuple[DiagnosisLimit, ...] = ()
    lab_limits: tuple[LabLimit, ...] = ()

    @property
    def is_restricted(self) -> bool:
        return self.is_controlled or self.is_toxic or self.is_antimicrobial


@dataclass(frozen=True)
class LineFacts:
    index: int
    drug: DrugFacts
    dose: Decimal
    per_day: Decimal
    days: int
    quantity: int
    frequency: str = ""

    @property
    def daily_dose(self) -> Decimal:
        return self.dose * self.per_day


@dataclass(frozen=True)
class LabValue:
    value: Decimal
    collected_on: dt.date


@dataclass(frozen=True)
class InteractionFacts:
    severity: str
    effect: str


@dataclass(frozen=True)
class LongEligibility:
    """Whether the resident may have a long prescription: an active chronic enrolment and the
    latest follow-up's outcome."""

    has_active_enrolment: bool
    latest_outcome: str | None


@dataclass(frozen=True)
class PrescriptionSnapshot:
    written_on: dt.date
    age_years: int
    is_pregnant: bool
    diagnoses: tuple[str, ...]
    lines: tuple[LineFacts, ...]
    is_long: bool = False
    extended_reason: str = ""
    # Latest verified value of each lab item, for the items the lines' limits name.
    labs: Mapping[str, LabValue] = field(default_factory=dict)
    # Interactions keyed by the sorted pair of ATC codes.
    interactions: Mapping[tuple[str, str], InteractionFacts] = field(default_factory=dict)
    eligibility: LongEligibility = LongEligibility(False, None)


@dataclass(frozen=True)
class Finding:
    """One issue: ``message`` is an English msgid (translated when shown), ``params`` fills it,
    ``line_index`` points at the line concerned (None for the whole prescription)."""

    rule: str
    code: str
    severity: str
    message: str
    params: Mapping[str, Any]
    line_index: int | None = None


def plain(value: Decimal) -> str:
    """A Decimal without trailing zeros or exponent, for messages."""
    return f"{value.normalize():f}"
