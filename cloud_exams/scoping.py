"""How cloud_exams rows are scoped (cloud_management.access), registered from ``ready()``.

An order and everything under it belongs to the institution that ordered it and to the one
whose lab performs it, to the ordering institution's district for regulators, and to the
patient. Results are further held back until verified: every read of results outside the lab
goes through :func:`cloud_exams.selectors.results_visible_to`, which applies these rules to
verified results only. Critical-value alerts belong to the ordering institution.

The staff filters are module-level functions, so the rules compare equal when ``ready()`` runs
twice and registration stays idempotent.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


def _order_of_institutions(institution_ids: frozenset[int]) -> Q:
    ids = sorted(institution_ids)
    return Q(ordering_institution_id__in=ids) | Q(performing_institution_id__in=ids)


def _via_order_of_institutions(institution_ids: frozenset[int]) -> Q:
    ids = sorted(institution_ids)
    return Q(order__ordering_institution_id__in=ids) | Q(order__performing_institution_id__in=ids)


def register_scope_rules() -> None:
    from cloud_exams.models import (
        CriticalValueAlert,
        ExamOrder,
        ExamOrderItem,
        ExamResult,
        OpenCriticalValueAlert,
        OrderItemAwaitingResult,
        ResultAwaitingVerification,
        Specimen,
        SpecimenAwaitingCollection,
        SpecimenAwaitingReceipt,
    )
    from cloud_management.access import ScopeRule, register_scope_rule

    register_scope_rule(
        ExamOrder,
        ScopeRule(
            district="ordering_institution__district_id",
            staff_filter=_order_of_institutions,
            patient="patient_id",
        ),
    )
    under_order = ScopeRule(
        district="order__ordering_institution__district_id",
        staff_filter=_via_order_of_institutions,
        patient="order__patient_id",
    )
    model: type[models.Model]
    for model in (ExamOrderItem, OrderItemAwaitingResult):
        register_scope_rule(model, under_order)
    for model in (Specimen, SpecimenAwaitingCollection, SpecimenAwaitingReceipt):
        register_scope_rule(model, under_order)
    by_result = ScopeRule(
        district="ordering_institution__district_id",
        staff_filter=_order_of_institutions,
        patient="patient_id",
    )
    for model in (ExamResult, ResultAwaitingVerification):
        register_scope_rule(model, by_result)
    by_alert = ScopeRule(district="institution__district_id", institution="institution_id")
    for model in (CriticalValueAlert, OpenCriticalValueAlert):
        register_scope_rule(model, by_alert)
