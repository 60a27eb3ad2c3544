"""Maximum daily dose (HL7 ``DOSEH``): the line's dose × administrations a day above the
formulary's maximum is blocked."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot, plain

RULE = "max_daily_dose"
MESSAGE = gettext_noop(
    "%(drug)s: daily dose %(daily)s %(unit)s exceeds the maximum of %(maximum)s %(unit)s."
)


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    for line in snapshot.lines:
        daily = line.daily_dose
        if daily > line.drug.max_daily_dose:
            findings.append(
                Finding(
                    rule=RULE,
                    code="DOSEH",
                    severity="block",
                    message=MESSAGE,
                    params={
                        "drug": line.drug.name,
                        "daily": plain(daily.quantize(line.drug.strength) if daily % 1 else daily),
                        "maximum": plain(line.drug.max_daily_dose),
                        "unit": line.drug.strength_unit,
                    },
                    line_index=line.index,
                )
            )
    return findings
