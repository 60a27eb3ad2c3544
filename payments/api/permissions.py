"""Who may use the payments API, from the user's scope (:func:`cloud_management.access.scope_of`).

Reading needs a login, and what a user reads is limited by the queryset: settlement and claim
lines through ``visible_to`` (the rules registered in ``PaymentsConfig.ready``), settlement runs
to operators and regulators, since a run spans every district and names no figures. Starting a
run is for platform operators alone (CONTRACTS §3): regulators are read-only.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from cloud_management.access import scope_of
from payments.models import SettlementRun


class OperatorWritesPermission(BasePermission):
    """Anyone logged in reads (their scope); only operators write."""

    message = _("Only platform operators may start settlement runs.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return scope_of(request.user).is_operator


def runs_visible_to(
    user: Any, queryset: models.QuerySet[SettlementRun]
) -> models.QuerySet[SettlementRun]:
    """Settlement runs for operators and regulators (district or city); nobody else."""
    scope = scope_of(user)
    if scope.is_operator or scope.is_regulator:
        return queryset
    return queryset.none()
