"""Quantity against days (HL7 ``DOSEDUR``): the units needed are dose × administrations a day ×
days ÷ strength, rounded up to whole units. Fewer units than needed leaves the patient short
(warn); more than a week's worth beyond the need is over-supply (warn)."""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, LineFacts, PrescriptionSnapshot

RULE = "quantity_days"
SHORT = gettext_noop(
    "%(drug)s: %(quantity)s units do not cover %(days)s days (%(needed)s units needed)."
)
EXCESS = gettext_noop(
    "%(drug)s: %(quantity)s units are more than %(days)s days need (%(needed)s units)."
)


def units_needed(line: LineFacts) -> int:
    exact = line.dose * line.per_day * Decimal(line.days) / line.drug.strength
    return max(1, math.ceil(exact))


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    for line in snapshot.lines:
        needed = units_needed(line)
        # A pen or a whole unit is indivisible: a week's margin is allowed above the need.
        weekly = max(1, math.ceil(line.dose * line.per_day * 7 / line.drug.strength))
        params = {
            "drug": line.drug.name,
            "quantity": line.quantity,
            "days": line.days,
            "needed": needed,
        }
        if line.quantity < needed:
            findings.append(Finding(RULE, "DOSEDUR", "warn", SHORT, params, line.index))
        elif line.quantity > needed + weekly:
            findings.append(Finding(RULE, "DOSEDUR", "warn", EXCESS, params, line.index))
    return findings
