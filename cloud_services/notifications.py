"""The patient's text messages, in the platform's language (Chinese), sent through the
configured SMS backend (:mod:`cloud_services.sms`) after the transaction commits, so a rolled
back step never texts anyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from cloud_services.models import Booking
from cloud_services.sms import get_backend
from cloud_services.sms.base import SmsMessage


def display_name(user: Any) -> str:
    """A staff member's name as Chinese writes it, surname first (or the user name)."""
    return f"{user.last_name}{user.first_name}".strip() or str(user.get_username())


def _when(booking: Booking) -> dict[str, str]:
    slot = booking.slot
    return {
        "number": booking.number,
        "service": booking.item.name,
        "date": slot.date.isoformat(),
        "start": f"{slot.start:%H:%M}",
        "end": f"{slot.end:%H:%M}",
        "institution": slot.institution.name,
    }


def _nurse_name(booking: Booking) -> str:
    nurse = booking.nurse
    if nurse is None:
        return ""
    return display_name(nurse)


def _send_on_commit(phone: str, build: Callable[[], str]) -> None:
    # The backend configured when the step happens sends the message once it is committed.
    backend = get_backend()

    def send() -> None:
        with translation.override(settings.LANGUAGE_CODE):
            text = build()
        backend.send_messages([SmsMessage(phone=phone, text=text)])

    transaction.on_commit(send)


def booking_confirmed(booking: Booking) -> None:
    values = _when(booking)
    _send_on_commit(
        booking.phone,
        lambda: (
            _(
                "%(institution)s has confirmed your booking %(number)s: %(service)s on %(date)s "
                "between %(start)s and %(end)s."
            )
            % values
        ),
    )


def nurse_assigned(booking: Booking) -> None:
    values = {**_when(booking), "nurse": _nurse_name(booking)}
    _send_on_commit(
        booking.phone,
        lambda: (
            _(
                "Nurse %(nurse)s of %(institution)s will come for %(service)s on %(date)s between "
                "%(start)s and %(end)s (booking %(number)s)."
            )
            % values
        ),
    )


def nurse_on_the_way(booking: Booking) -> None:
    values = {**_when(booking), "nurse": _nurse_name(booking)}
    _send_on_commit(
        booking.phone,
        lambda: (
            _(
                "Nurse %(nurse)s is on the way to you for %(service)s. Please stay at home and "
                "keep your phone on."
            )
            % values
        ),
    )


def result_ready(booking: Booking) -> None:
    values = {"number": booking.number, "service": booking.item.name}
    _send_on_commit(
        booking.phone,
        lambda: (
            _(
                "The results of %(service)s (booking %(number)s) have been checked by the "
                "laboratory. Log in to HealthCommunity to see them."
            )
            % values
        ),
    )
