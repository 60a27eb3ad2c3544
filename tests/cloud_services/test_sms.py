"""The pluggable SMS backends (console, file, locmem) and the configured-backend lookup."""

import io

import pytest
from django.core.exceptions import ImproperlyConfigured

import cloud_services.sms
from cloud_services.sms import get_backend, send_sms
from cloud_services.sms.base import SmsMessage
from cloud_services.sms.console import SmsBackend as ConsoleBackend
from cloud_services.sms.file import SmsBackend as FileBackend


def test_the_configured_backend_is_used(settings, sms_outbox):
    settings.SMS_BACKEND = "cloud_services.sms.locmem.SmsBackend"
    assert send_sms(phone="13900000001", text="您好") == 1
    assert sms_outbox == [SmsMessage(phone="13900000001", text="您好")]


def test_the_console_backend_writes_one_line_per_message():
    stream = io.StringIO()
    backend = ConsoleBackend(stream=stream)
    sent = backend.send_messages(
        [SmsMessage(phone="13900000001", text="甲"), SmsMessage(phone="13900000002", text="乙")]
    )
    assert sent == 2
    assert stream.getvalue() == "SMS to 13900000001: 甲\nSMS to 13900000002: 乙\n"


def test_the_file_backend_appends_to_a_file_in_the_directory(tmp_path, settings):
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    backend = get_backend("cloud_services.sms.file.SmsBackend")
    backend.send_messages([SmsMessage(phone="13900000001", text="护士已出发")])
    backend.send_messages([SmsMessage(phone="13900000001", text="结果已出")])
    files = list((tmp_path / "sms").iterdir())
    assert len(files) == 1
    assert files[0].read_text(encoding="utf-8") == (
        "SMS to 13900000001: 护士已出发\nSMS to 13900000001: 结果已出\n"
    )


def test_the_file_backend_needs_a_directory(tmp_path):
    not_a_directory = tmp_path / "file.txt"
    not_a_directory.write_text("x")
    with pytest.raises(ImproperlyConfigured):
        FileBackend(file_path=not_a_directory)


def test_nothing_to_send_sends_nothing(sms_outbox):
    assert get_backend("cloud_services.sms.locmem.SmsBackend").send_messages([]) == 0
    assert cloud_services.sms.outbox == []
