"""The backend interface every SMS backend implements."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SmsMessage:
    """One text message to one mobile number."""

    phone: str
    text: str


class BaseSmsBackend(abc.ABC):
    """Subclasses implement :meth:`send_messages`. ``fail_silently`` follows Django's email
    backends: when true, a gateway error is logged by the backend and not raised."""

    def __init__(self, *, fail_silently: bool = False, **kwargs: Any) -> None:
        self.fail_silently = fail_silently

    @abc.abstractmethod
    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        """Send ``messages``; return how many were sent."""
