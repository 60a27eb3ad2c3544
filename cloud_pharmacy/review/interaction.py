"""Drug–drug interactions (HL7 ``DRG``) from the seeded table of substance pairs."""

from __future__ import annotations

from itertools import combinations

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot

RULE = "interaction"
MESSAGE = gettext_noop("%(first)s with %(second)s: %(effect)s")


def pair(atc_a: str, atc_b: str) -> tuple[str, str]:
    return (atc_a, atc_b) if atc_a < atc_b else (atc_b, atc_a)


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    for first, second in combinations(snapshot.lines, 2):
        facts = snapshot.interactions.get(pair(first.drug.atc_code, second.drug.atc_code))
        if facts is None:
            continue
        findings.append(
            Finding(
                rule=RULE,
                code="DRG",
                severity=facts.severity,
                message=MESSAGE,
                params={
                    "first": first.drug.name,
                    "second": second.drug.name,
                    "effect": facts.effect,
                },
                line_index=second.index,
            )
        )
    return findings
