"""Who may see and change what: the one scoping mechanism behind the admin, the API and pages.

Every queryset shown to a user goes through :func:`visible_to`; every write is checked with
:func:`editable_by`. A model takes part by registering a :class:`ScopeRule` that names the paths
from it to an institution, a district and a patient. Later apps register their own models in
their ``AppConfig.ready()``.

The policy (ISSUE 2, CONTRACTS §3):
- staff see the rows of their own institution(s) and nothing else;
- regulators see their district, or the whole city, and never write;
- a patient sees only their own rows;
- superusers (platform operators) see and change everything.
Another scope's row is simply absent from the queryset, so single-object views answer 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.http import Http404

from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)

ModelT = TypeVar("ModelT", bound=models.Model)
_SCOPE_CACHE_ATTRIBUTE = "_healthcommunity_scope"


@dataclass(frozen=True)
class Scope:
    """What one user may reach, computed once per request from their StaffRoles."""

    is_operator: bool = False
    # Institutions where the user holds any staff role, and those where they may edit.
    institution_ids: frozenset[int] = frozenset()
    editable_institution_ids: frozenset[int] = frozenset()
    roles: frozenset[str] = frozenset()
    is_city_regulator: bool = False
    regulated_district_ids: frozenset[int] = frozenset()
    patient_id: int | None = None

    @property
    def is_regulator(self) -> bool:
        return self.is_city_regulator or bool(self.regulated_district_ids)

    @property
    def is_staff_member(self) -> bool:
        return bool(self.institution_ids)

    @property
    def is_patient(self) -> bool:
        return self.patient_id is not None

    @property
    def sees_anything(self) -> bool:
        return self.is_operator or self.is_staff_member or self.is_regulator or self.is_patient

    @property
    def may_write(self) -> bool:
        return self.is_operator or bool(self.editable_institution_ids)

    @property
    def may_use_admin(self) -> bool:
        return self.is_operator or self.is_staff_member or self.is_regulator


EMPTY_SCOPE = Scope()


def scope_of(user: Any) -> Scope:
    """The user's scope, cached on the user object for the rest of the request."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return EMPTY_SCOPE
    cached = getattr(user, _SCOPE_CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    scope = _compute_scope(user)
    setattr(user, _SCOPE_CACHE_ATTRIBUTE, scope)
    return scope


def forget_scope(user: Any) -> None:
    """Drop the cached scope (after the user's roles change)."""
    if hasattr(user, _SCOPE_CACHE_ATTRIBUTE):
        delattr(user, _SCOPE_CACHE_ATTRIBUTE)


def _compute_scope(user: Any) -> Scope:
    if user.is_superuser:
        return Scope(is_operator=True)
    institution_ids: set[int] = set()
    editable_ids: set[int] = set()
    district_ids: set[int] = set()
    roles: set[str] = set()
    is_city = False
    for role, institution_id, district_id in StaffRole.objects.filter(user=user).values_list(
        "role", "institution_id", "district_id"
    ):
        roles.add(role)
        if role == StaffRole.Role.REGULATOR:
            if district_id is None:
                is_city = True
            else:
                district_ids.add(district_id)
        elif institution_id is not None:
            institution_ids.add(institution_id)
            if role in StaffRole.REGISTRY_EDITORS:
                editable_ids.add(institution_id)
    patient_id = Patient.objects.filter(user=user).values_list("pk", flat=True).first()
    return Scope(
        institution_ids=frozenset(institution_ids),
        editable_institution_ids=frozenset(editable_ids),
        roles=frozenset(roles),
        is_city_regulator=is_city,
        regulated_district_ids=frozenset() if is_city else frozenset(district_ids),
        patient_id=patient_id,
    )


@dataclass(frozen=True)
class ScopeRule:
    """How rows of one model relate to institutions, districts and patients.

    ``institution``: lookup path to the institution's id (``"institution_id"``); or
    ``staff_filter``, a function of a set of institution ids returning a Q, when more than one
    path makes a row an institution's (a resident is theirs if registered, contracted or
    enrolled there). ``district``: path to the district's id, for regulators. ``patient``: path to
    the patient's id, or None when patients never see this model.
    """

    district: str
    institution: str | None = None
    staff_filter: Callable[[frozenset[int]], Q] | None = None
    patient: str | None = None
    # Extra Q for a patient (a patient sees their home institution, say).
    patient_filter: Callable[[int], Q] | None = None

    def staff_q(self, institution_ids: frozenset[int]) -> Q:
        if self.staff_filter is not None:
            return self.staff_filter(institution_ids)
        if self.institution is None:
            return Q(pk__in=[])
        return Q(**{f"{self.institution}__in": sorted(institution_ids)})

    def district_q(self, district_ids: frozenset[int]) -> Q:
        return Q(**{f"{self.district}__in": sorted(district_ids)})

    def patient_q(self, patient_id: int) -> Q:
        if self.patient_filter is not None:
            return self.patient_filter(patient_id)
        if self.patient is None:
            return Q(pk__in=[])
        return Q(**{self.patient: patient_id})


_RULES: dict[type[models.Model], ScopeRule] = {}


def register_scope_rule(model: type[models.Model], rule: ScopeRule) -> None:
    """Register how ``model`` is scoped. Idempotent, since ``ready()`` may run twice."""
    existing = _RULES.get(model)
    if existing is not None and existing != rule:
        raise ValueError(f"{model.__name__} already has a different scope rule.")
    _RULES[model] = rule


def scope_rule_for(model: type[models.Model]) -> ScopeRule:
    try:
        return _RULES[model]
    except KeyError:
        raise LookupError(f"{model.__name__} has no scope rule; register one.") from None


def visible_to(user: Any, queryset: models.QuerySet[ModelT]) -> models.QuerySet[ModelT]:
    """The rows of ``queryset`` the user may see."""
    scope = scope_of(user)
    if scope.is_operator:
        return queryset
    if not scope.sees_anything:
        return queryset.none()
    if scope.is_city_regulator:
        return queryset
    rule = scope_rule_for(queryset.model)
    condition = Q(pk__in=[])
    if scope.institution_ids:
        condition |= rule.staff_q(scope.institution_ids)
    if scope.regulated_district_ids:
        condition |= rule.district_q(scope.regulated_district_ids)
    if scope.patient_id is not None:
        condition |= rule.patient_q(scope.patient_id)
    return queryset.filter(condition)


def editable_by(user: Any, queryset: models.QuerySet[ModelT]) -> models.QuerySet[ModelT]:
    """The rows of ``queryset`` the user may change: regulators and patients change nothing."""
    scope = scope_of(user)
    if scope.is_operator:
        return queryset
    if not scope.editable_institution_ids:
        return queryset.none()
    return queryset.filter(scope_rule_for(queryset.model).staff_q(scope.editable_institution_ids))


def may_see(user: Any, obj: models.Model) -> bool:
    return visible_to(user, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def may_edit(user: Any, obj: models.Model) -> bool:
    return editable_by(user, type(obj)._default_manager.filter(pk=obj.pk)).exists()


def get_visible_or_404(user: Any, queryset: models.QuerySet[ModelT], **lookup: Any) -> ModelT:
    """One row the user may see, or 404 whether it exists or not (never revealing which)."""
    try:
        return visible_to(user, queryset).get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


def roles_at(user: Any, institution_id: int) -> frozenset[str]:
    """The staff roles an active, logged-in user holds at one institution (one query)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    return frozenset(
        StaffRole.objects.filter(user=user, institution_id=institution_id).values_list(
            "role", flat=True
        )
    )


def institutions_visible_to(user: Any) -> models.QuerySet[Institution]:
    return visible_to(user, Institution.objects.all())


def institutions_editable_by(user: Any) -> models.QuerySet[Institution]:
    """Institutions the user may register residents, contracts and enrolments at."""
    return editable_by(user, Institution.objects.all())


def districts_visible_to(user: Any) -> models.QuerySet[District]:
    return visible_to(user, District.objects.all())


def access_patient(*, user: Any, patient_id: int) -> Patient:
    """The patient if the user may see them, else 404."""
    return get_visible_or_404(user, Patient.objects.all(), pk=patient_id)


def may_see_full_resident_id(user: Any, patient: Patient) -> bool:
    """Whole resident IDs are for the patient and staff of an institution the record belongs
    to; regulators read figures, not identities, so they see the masked form."""
    scope = scope_of(user)
    if scope.is_operator or scope.patient_id == patient.pk:
        return True
    if not scope.institution_ids:
        return False
    rule = scope_rule_for(Patient)
    return Patient.objects.filter(rule.staff_q(scope.institution_ids), pk=patient.pk).exists()


# --- The registry's own rules --------------------------------------------------------------


def _patients_of_institutions(institution_ids: frozenset[int]) -> Q:
    """A resident belongs to an institution where registered, contracted or enrolled."""
    ids = sorted(institution_ids)
    # One IN over a UNION lets the database use the three institution indexes instead of
    # testing three subqueries against every resident.
    member_ids = (
        Patient.objects.filter(home_institution_id__in=ids)
        .order_by()
        .values("pk")
        .union(
            FamilyDoctorContract.objects.filter(institution_id__in=ids)
            .order_by()
            .values("patient_id"),
            DiabetesEnrollment.objects.filter(institution_id__in=ids)
            .order_by()
            .values("patient_id"),
        )
    )
    return Q(pk__in=member_ids)


def _institutions_of_patient(patient_id: int) -> Q:
    return (
        Q(registered_patients__pk=patient_id)
        | Q(pk__in=FamilyDoctorContract.objects.filter(patient_id=patient_id).values("institution"))
        | Q(pk__in=DiabetesEnrollment.objects.filter(patient_id=patient_id).values("institution"))
    )


def _districts_of_institutions(institution_ids: frozenset[int]) -> Q:
    return Q(pk__in=Institution.objects.filter(pk__in=sorted(institution_ids)).values("district"))


def register_registry_rules() -> None:
    register_scope_rule(
        District,
        ScopeRule(
            district="pk",
            staff_filter=_districts_of_institutions,
            patient_filter=lambda patient_id: Q(patients__pk=patient_id),
        ),
    )
    register_scope_rule(
        Institution,
        ScopeRule(
            district="district_id", institution="pk", patient_filter=_institutions_of_patient
        ),
    )
    register_scope_rule(
        Patient,
        ScopeRule(district="district_id", staff_filter=_patients_of_institutions, patient="pk"),
    )
    register_scope_rule(
        FamilyDoctorContract,
        ScopeRule(
            district="institution__district_id", institution="institution_id", patient="patient_id"
        ),
    )
    register_scope_rule(
        DiabetesEnrollment,
        ScopeRule(
            district="institution__district_id", institution="institution_id", patient="patient_id"
        ),
    )
    register_scope_rule(
        StaffRole,
        # Institution administrators see their colleagues; regulators see their district's staff.
        ScopeRule(district="institution__district_id", institution="institution_id"),
    )


def registered_models() -> Iterable[type[models.Model]]:
    return tuple(_RULES)
