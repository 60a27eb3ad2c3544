"""API permissions from the user's StaffRoles (:func:`cloud_management.access.scope_of`).

Reading needs only a login: what a user reads is limited by the queryset (``visible_to``), so
another scope's object is 404. Creating needs the right to edit the registry somewhere. Changing
an object is decided after it is found among the visible rows, so an invisible object is 404 and
a visible one the user may not change (a regulator's, a pharmacist's) is 403.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from cloud_management.access import may_edit, scope_of


class RegistryPermission(BasePermission):
    message = _("You may not change the registry.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        if getattr(view, "action", None) == "create":
            return scope_of(request.user).may_write
        # Object writes: decided in has_object_permission, after the 404 lookup.
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return may_edit(request.user, obj)
