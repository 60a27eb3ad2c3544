"""Age and pregnancy cautions (HL7 ``AGE`` and ``PREG``): below a drug's minimum age is
blocked, at or above its elderly-caution age warned; in pregnancy a contraindicated drug is
blocked and a cautioned one warned."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot

RULE = "age_pregnancy"
TOO_YOUNG = gettext_noop(
    "%(drug)s is not for patients under %(minimum)s years (patient is %(age)s)."
)
ELDERLY = gettext_noop(
    "%(drug)s needs caution from age %(from_age)s (patient is %(age)s): risk of hypoglycaemia "
    "or bleeding; start low."
)
PREGNANCY_BLOCK = gettext_noop("%(drug)s is contraindicated in pregnancy.")
PREGNANCY_WARN = gettext_noop("%(drug)s needs caution in pregnancy.")


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    age = snapshot.age_years
    for line in snapshot.lines:
        drug = line.drug
        name = drug.name
        if drug.min_age_years is not None and age < drug.min_age_years:
            findings.append(
                Finding(
                    RULE,
                    "AGE",
                    "block",
                    TOO_YOUNG,
                    {"drug": name, "minimum": drug.min_age_years, "age": age},
                    line.index,
                )
            )
        elif drug.elderly_caution_age is not None and age >= drug.elderly_caution_age:
            findings.append(
                Finding(
                    RULE,
                    "AGE",
                    "warn",
                    ELDERLY,
                    {"drug": name, "from_age": drug.elderly_caution_age, "age": age},
                    line.index,
                )
            )
        if snapshot.is_pregnant and drug.pregnancy_risk == "contraindicated":
            findings.append(
                Finding(RULE, "PREG", "block", PREGNANCY_BLOCK, {"drug": name}, line.index)
            )
        elif snapshot.is_pregnant and drug.pregnancy_risk == "caution":
            findings.append(
                Finding(RULE, "PREG", "warn", PREGNANCY_WARN, {"drug": name}, line.index)
            )
    return findings
