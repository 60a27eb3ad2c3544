"""How every app's API calls a service (DESIGN.md "Inside an app": the API is thin).

A service refuses bad input with Django's ``ValidationError`` (400 with field errors) and a
request that conflicts with the current state (a full slot, a cancelled booking, a blocked
prescription, too little stock) with :class:`cloud_management.services.StateConflict` (409,
CONTRACTS §3). ``PermissionDenied`` stays DRF's 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

from cloud_management.services import StateConflict

ResultT = TypeVar("ResultT")


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def call_service(service: Callable[..., ResultT], **kwargs: Any) -> ResultT:
    """Run a service: a state conflict is 409, other validation errors 400 with fields."""
    try:
        return service(**kwargs)
    except StateConflict as exc:
        raise Conflict(detail=exc.messages) from exc
    except DjangoValidationError as exc:
        raise serializers.ValidationError(detail=serializers.as_serializer_error(exc)) from exc
