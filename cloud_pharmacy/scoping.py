"""How cloud_pharmacy rows are scoped (cloud_management.access), registered from ``ready()``.

A prescription belongs to the institution that wrote it (its prescribers) and to the one that
dispenses it (its pharmacists), to the writing institution's district for regulators, and to
the patient. Its lines, findings, decisions, events and dispensing follow it. Stock belongs to
its institution; a replenishment order to the ordering institution and the central pharmacy.
The filters are module-level functions so registration stays idempotent.
"""

from __future__ import annotations

from django.db.models import Q


def _prescription_of(institution_ids: frozenset[int]) -> Q:
    ids = sorted(institution_ids)
    return Q(institution_id__in=ids) | Q(dispensing_institution_id__in=ids)


def _under_prescription_of(institution_ids: frozenset[int]) -> Q:
    ids = sorted(institution_ids)
    return Q(prescription__institution_id__in=ids) | Q(
        prescription__dispensing_institution_id__in=ids
    )


def _order_of(institution_ids: frozenset[int]) -> Q:
    ids = sorted(institution_ids)
    return Q(institution_id__in=ids) | Q(supplier_id__in=ids)


def register_scope_rules() -> None:
    from cloud_management.access import ScopeRule, register_scope_rule
    from cloud_pharmacy.models import (
        Dispensing,
        Prescription,
        PrescriptionEvent,
        PrescriptionLine,
        ReplenishmentOrder,
        ReviewDecision,
        ReviewFinding,
        StockBatch,
    )

    register_scope_rule(
        Prescription,
        ScopeRule(
            district="institution__district_id",
            staff_filter=_prescription_of,
            patient="patient_id",
        ),
    )
    under = ScopeRule(
        district="prescription__institution__district_id",
        staff_filter=_under_prescription_of,
        patient="prescription__patient_id",
    )
    for model in (PrescriptionLine, ReviewFinding, PrescriptionEvent, Dispensing):
        register_scope_rule(model, under)
    # The review audit is for staff and regulators, not for the patient.
    register_scope_rule(
        ReviewDecision,
        ScopeRule(
            district="prescription__institution__district_id",
            staff_filter=_under_prescription_of,
        ),
    )
    register_scope_rule(
        StockBatch, ScopeRule(district="institution__district_id", institution="institution_id")
    )
    register_scope_rule(
        ReplenishmentOrder,
        ScopeRule(district="institution__district_id", staff_filter=_order_of),
    )
