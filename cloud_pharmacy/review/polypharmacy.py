"""More than five drugs on one prescription (the 处方管理办法 five-item limit; HL7 ``COMPLY``,
since many drugs at once hurt adherence)."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from cloud_pharmacy.review.snapshot import Finding, PrescriptionSnapshot

RULE = "polypharmacy"
LIMIT = 5
MESSAGE = gettext_noop("The prescription has %(count)s drugs; at most %(limit)s are allowed.")


def check(snapshot: PrescriptionSnapshot) -> list[Finding]:
    count = len(snapshot.lines)
    if count <= LIMIT:
        return []
    return [Finding(RULE, "COMPLY", "warn", MESSAGE, {"count": count, "limit": LIMIT})]
