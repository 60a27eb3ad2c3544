"""Duration and long-prescription eligibility (HL7 ``DOSEDURH``), after the 2021 长期处方管理规范:

- a long prescription (up to 12 weeks) is only for a resident with an active chronic enrolment
  whose latest follow-up outcome is controlled;
- controlled, toxic and antimicrobial drugs are never given for more than 7 days;
- a line of more than 7 days on an ordinary prescription needs a recorded reason.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot

RULE = "long_prescription"
ORDINARY_DAYS = 7
NOT_ENROLLED = gettext_noop(
    "A long prescription needs an active chronic-disease enrolment; the patient has none."
)
# The latest follow-up's outcome (chronic_care FollowUp.Outcome) when it is not controlled.
NOT_CONTROLLED = {
    "uncontrolled": gettext_noop(
        "A long prescription needs a controlled condition; the latest follow-up found it "
        "uncontrolled."
    ),
    "adverse_reaction": gettext_noop(
        "A long prescription needs a controlled condition; the latest follow-up recorded an "
        "adverse drug reaction."
    ),
    "complication": gettext_noop(
        "A long prescription needs a controlled condition; the latest follow-up recorded a new "
        "or worsening complication."
    ),
}
NOT_CONTROLLED_OTHER = gettext_noop(
    "A long prescription needs a controlled condition at the latest follow-up."
)
NO_FOLLOW_UP = gettext_noop("A long prescription needs a follow-up showing a controlled condition.")
RESTRICTED = gettext_noop(
    "%(drug)s is a controlled, toxic or antimicrobial drug: at most %(limit)s days "
    "(%(days)s given)."
)
NO_REASON = gettext_noop(
    "%(drug)s is prescribed for %(days)s days; more than %(limit)s days needs a recorded reason."
)


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    findings = []
    if snapshot.is_long:
        eligibility = snapshot.eligibility
        if not eligibility.has_active_enrolment:
            findings.append(Finding(RULE, "DOSEDURH", "block", NOT_ENROLLED, {}))
        elif eligibility.latest_outcome is None:
            findings.append(Finding(RULE, "DOSEDURH", "block", NO_FOLLOW_UP, {}))
        elif eligibility.latest_outcome != "controlled":
            findings.append(
                Finding(
                    RULE,
                    "DOSEDURH",
                    "block",
                    NOT_CONTROLLED.get(eligibility.latest_outcome, NOT_CONTROLLED_OTHER),
                    {"outcome": eligibility.latest_outcome},
                )
            )
    for line in snapshot.lines:
        if line.days <= ORDINARY_DAYS:
            continue
        params = {"drug": line.drug.name, "days": line.days, "limit": ORDINARY_DAYS}
        if line.drug.is_restricted:
            findings.append(Finding(RULE, "DOSEDURH", "block", RESTRICTED, params, line.index))
        elif not snapshot.is_long and not snapshot.extended_reason.strip():
            findings.append(Finding(RULE, "DOSEDURH", "block", NO_REASON, params, line.index))
    return findings
