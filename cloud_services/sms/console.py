"""Writes each message to standard output (the default backend, for development)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from cloud_services.sms.base import BaseSmsBackend, SmsMessage


class SmsBackend(BaseSmsBackend):
    def __init__(self, *, stream: IO[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()

    def write_message(self, message: SmsMessage) -> None:
        self.stream.write(f"SMS to {message.phone}: {message.text}\n")

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        if not messages:
            return 0
        with self._lock:
            for message in messages:
                self.write_message(message)
            self.stream.flush()
        return len(messages)
