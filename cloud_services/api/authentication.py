"""Token authentication for the bookings API: the token, its user and the patient behind the
login in one query, so booking a place needs no query of its own to find the patient."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.authentication import TokenScheme
from drf_spectacular.drainage import set_override
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from cloud_management.models import Patient

# Written in SQL and run through ``Model.objects.raw()``: the ORM's compilation of the same
# query cost about 0.3 ms of CPU on every request (docs/benchmarks/booking.md).
_USER_SQL = """
    SELECT account.*, patient.id AS patient_pk
    FROM authtoken_token token
    JOIN {users} account ON account.id = token.user_id
    LEFT JOIN cloud_management_patient patient ON patient.user_id = account.id
    WHERE token.key = %s
"""


class PatientTokenAuthentication(TokenAuthentication):
    """DRF's token authentication (same header, same refusals), which also attaches the
    user's patient record, if any, to the user (``user.patient``, its other fields deferred)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        users = get_user_model()
        query = _USER_SQL.format(users=users._meta.db_table)
        user = next(iter(users._default_manager.raw(query, [key])), None)
        if user is None or not user.is_active:
            # DRF's own refusal with its own message (the rare path may query again).
            return super().authenticate_credentials(key)
        patient_pk = getattr(user, "patient_pk")  # noqa: B009 (the query's extra column)
        if patient_pk is not None:
            user.patient = Patient.from_db(user._state.db, ["id", "user_id"], [patient_pk, user.pk])
        token = Token.from_db(user._state.db, ["key", "user_id"], [key, user.pk])
        token.user = user
        return user, token


class PatientTokenScheme(TokenScheme):
    """The OpenAPI schema's ``tokenAuth`` for this class too: the same header, the same tokens."""

    target_class = "cloud_services.api.authentication.PatientTokenAuthentication"
    priority = 0  # before TokenScheme, which matches subclasses

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        # One security scheme for DRF's class and this one (as drf-spectacular's own
        # extensions do for classes that stand for another).
        set_override(PatientTokenAuthentication, "suppress_collision_warning", True)
