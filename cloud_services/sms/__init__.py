"""A pluggable SMS backend, in the manner of Django's email backends.

``settings.SMS_BACKEND`` names the class (``cloud_services.sms.console.SmsBackend`` by default;
``cloud_services.sms.file.SmsBackend`` writes one file per process run under
``settings.SMS_FILE_PATH``; ``cloud_services.sms.locmem.SmsBackend`` keeps messages in
:data:`cloud_services.sms.outbox` for tests). A real gateway is one more subclass of
:class:`cloud_services.sms.base.BaseSmsBackend` (docs/operations.md, "SMS gateway").
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from cloud_services.sms.base import BaseSmsBackend, SmsMessage

DEFAULT_BACKEND = "cloud_services.sms.console.SmsBackend"

# Filled by the locmem backend.
outbox: list[SmsMessage] = []


def get_backend(backend: str | None = None, **kwargs: Any) -> BaseSmsBackend:
    """An instance of the configured backend (or of ``backend``, a dotted path)."""
    path = backend or str(getattr(settings, "SMS_BACKEND", DEFAULT_BACKEND))
    backend_class = import_string(path)
    return backend_class(**kwargs)


def send_sms(*, phone: str, text: str) -> int:
    """Send one text message; returns the number of messages the backend accepted."""
    return get_backend().send_messages([SmsMessage(phone=phone, text=text)])
