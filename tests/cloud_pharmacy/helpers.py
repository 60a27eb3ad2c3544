"""Snapshots over the migrated formulary, for the rule tests."""

import datetime as dt
from decimal import Decimal

from cloud_pharmacy.models import Drug, PrescriptionLine
from cloud_pharmacy.review.engine import drug_facts, interactions_among
from cloud_pharmacy.review.snapshot import (
    LabValue,
    LineFacts,
    LongEligibility,
    PrescriptionSnapshot,
)

WRITTEN_ON = dt.date(2026, 11, 30)
NOT_ELIGIBLE = LongEligibility(False, None)


def snapshot(
    *lines: tuple[str, str, str, int, int],
    diagnoses: tuple[str, ...] = ("E11.9",),
    age: int = 60,
    is_pregnant: bool = False,
    labs: dict[str, tuple[str, dt.date]] | None = None,
    is_long: bool = False,
    extended_reason: str = "",
    eligibility: LongEligibility = NOT_ELIGIBLE,
) -> PrescriptionSnapshot:
    """``lines`` are ``(drug code, dose, frequency, days, quantity)``."""
    drugs = {d.code: d for d in Drug.objects.filter(code__in=[row[0] for row in lines])}
    facts = drug_facts(drugs.values())
    line_facts = tuple(
        LineFacts(
            index=index,
            drug=facts[drugs[code].pk],
            dose=Decimal(dose),
            per_day=PrescriptionLine.PER_DAY[frequency],
            days=days,
            quantity=quantity,
            frequency=frequency,
        )
        for index, (code, dose, frequency, days, quantity) in enumerate(lines)
    )
    return PrescriptionSnapshot(
        written_on=WRITTEN_ON,
        age_years=age,
        is_pregnant=is_pregnant,
        diagnoses=diagnoses,
        lines=line_facts,
        is_long=is_long,
        extended_reason=extended_reason,
        labs={k: LabValue(Decimal(v), d) for k, (v, d) in (labs or {}).items()},
        interactions=interactions_among(f.atc_code for f in facts.values()),
        eligibility=eligibility,
    )


def summary(findings) -> list[tuple[str, str, str]]:
    return [(f.rule, f.code, f.severity) for f in findings]
