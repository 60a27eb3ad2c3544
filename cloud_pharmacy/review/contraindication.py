"""Contraindications (HL7 ``COND`` for a diagnosis, ``LAB`` for a recent lab value): a diagnosis
of the prescription under a contraindicated ICD-10 prefix, or the latest verified lab value
within the limit's look-back beyond the limit (metformin with eGFR below 30)."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot, plain

RULE = "contraindication"
DIAGNOSIS_MESSAGE = gettext_noop(
    "%(drug)s is contraindicated with diagnosis %(diagnosis)s: %(note)s"
)
LAB_BELOW = gettext_noop(
    "%(drug)s: latest %(item)s %(value)s on %(date)s is below %(limit)s: %(note)s"
)
LAB_ABOVE = gettext_noop(
    "%(drug)s: latest %(item)s %(value)s on %(date)s is above %(limit)s: %(note)s"
)


def _matches(diagnosis: str, prefix: str) -> bool:
    return diagnosis.startswith(prefix)


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    for line in snapshot.lines:
        for limit in line.drug.diagnosis_limits:
            for diagnosis in snapshot.diagnoses:
                if _matches(diagnosis, limit.icd10_prefix):
                    findings.append(
                        Finding(
                            rule=RULE,
                            code="COND",
                            severity=limit.severity,
                            message=DIAGNOSIS_MESSAGE,
                            params={
                                "drug": line.drug.name,
                                "diagnosis": diagnosis,
                                "note": limit.note,
                            },
                            line_index=line.index,
                        )
                    )
                    break
        worst = None
        for lab in line.drug.lab_limits:
            value = snapshot.labs.get(lab.item_code)
            if value is None:
                continue
            if value.collected_on < snapshot.written_on - dt.timedelta(days=lab.lookback_days):
                continue
            beyond = value.value < lab.limit if lab.comparator == "lt" else value.value > lab.limit
            if not beyond:
                continue
            # Of several limits on one item (eGFR < 30 blocks, < 45 warns), report the worst.
            if worst is None or (lab.severity == "block" and worst[0].severity != "block"):
                worst = (lab, value)
        if worst is not None:
            lab, value = worst
            findings.append(
                Finding(
                    rule=RULE,
                    code="LAB",
                    severity=lab.severity,
                    message=LAB_BELOW if lab.comparator == "lt" else LAB_ABOVE,
                    params={
                        "drug": line.drug.name,
                        "item": lab.item_code,
                        "value": plain(value.value),
                        "date": value.collected_on.isoformat(),
                        "limit": plain(lab.limit),
                        "note": lab.note,
                    },
                    line_index=line.index,
                )
            )
    return findings
