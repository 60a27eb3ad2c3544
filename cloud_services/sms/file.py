"""Appends each message to a file under ``settings.SMS_FILE_PATH``, one file per backend
instance, like Django's file email backend."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cloud_services.sms.base import SmsMessage
from cloud_services.sms.console import SmsBackend as ConsoleSmsBackend


class SmsBackend(ConsoleSmsBackend):
    def __init__(self, *, file_path: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        path = file_path or getattr(settings, "SMS_FILE_PATH", None)
        if not path:
            raise ImproperlyConfigured("The file SMS backend needs settings.SMS_FILE_PATH.")
        self.directory = Path(path)
        if self.directory.exists() and not self.directory.is_dir():
            raise ImproperlyConfigured(f"SMS_FILE_PATH {self.directory} is not a directory.")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.file_name: Path | None = None
        super().__init__(**kwargs)

    def _new_file_name(self) -> Path:
        stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y%m%d-%H%M%S")
        return self.directory / f"{stamp}-{id(self)}.log"

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        if not messages:
            return 0
        if self.file_name is None:
            self.file_name = self._new_file_name()
        with self.file_name.open("a", encoding="utf-8") as stream:
            for message in messages:
                stream.write(f"SMS to {message.phone}: {message.text}\n")
        return len(messages)
