"""Duplicate therapy (HL7 ``DUPTHPY``): two lines whose substances share the ATC level 4
(chemical subgroup, the first five characters), such as amlodipine and nifedipine (C08CA)."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot

RULE = "duplicate_therapy"
MESSAGE = gettext_noop(
    "%(first)s and %(second)s belong to the same therapeutic subgroup (ATC %(group)s)."
)


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    seen: dict[str, str] = {}
    for line in snapshot.lines:
        group = line.drug.atc_code[:5]
        if group in seen:
            findings.append(
                Finding(
                    rule=RULE,
                    code="DUPTHPY",
                    severity="warn",
                    message=MESSAGE,
                    params={"first": seen[group], "second": line.drug.name, "group": group},
                    line_index=line.index,
                )
            )
        else:
            seen[group] = line.drug.name
    return findings
