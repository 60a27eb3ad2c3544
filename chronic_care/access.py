"""How chronic care's rows are scoped (cloud_management.access, registered in ``ready()``)."""

from __future__ import annotations

from django.db.models import Q

from chronic_care.models import FollowUp
from cloud_management.access import ScopeRule, register_scope_rule
from cloud_management.models import DiabetesEnrollment


def _follow_ups_of_institutions(institution_ids: frozenset[int]) -> Q:
    """Staff see the follow-ups given at their institution, and every follow-up of the
    residents enrolled there (a follow-up counts for the responsible institution wherever it
    was given, CONTRACTS §5)."""
    ids = sorted(institution_ids)
    enrolled = DiabetesEnrollment.objects.filter(institution_id__in=ids).values("patient_id")
    return Q(institution_id__in=ids) | Q(patient_id__in=enrolled)


FOLLOW_UP_RULE = ScopeRule(
    district="institution__district_id",
    staff_filter=_follow_ups_of_institutions,
    patient="patient_id",
)


def register_scope_rules() -> None:
    register_scope_rule(FollowUp, FOLLOW_UP_RULE)
