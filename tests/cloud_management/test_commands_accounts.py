"""``create_patient_account RESIDENT_ID --password PW`` (CONTRACTS §2)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from cloud_management.identifiers import mask_resident_id
from cloud_management.management.commands.create_patient_account import Command
from cloud_management.models import Patient
from tests.factories.cloud_management import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Tianjin-2025!"


def _run(*argv: str) -> tuple[int, str]:
    """Run as manage.py does; returns (exit status, stderr). run_from_argv closes every
    database connection when it ends, which would close the test's own; it is kept open."""
    stderr = io.StringIO()
    command = Command(stderr=stderr)
    status = 0
    with redirect_stderr(stderr), mock.patch.object(connections, "close_all"):
        try:
            command.run_from_argv(["manage.py", "create_patient_account", *argv])
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, stderr.getvalue()


def test_creates_a_login_named_after_the_phone(home_institution):
    patient = PatientFactory(home_institution=home_institution, phone="13755556666")
    out = io.StringIO()

    call_command("create_patient_account", patient.resident_id, "--password", PASSWORD, stdout=out)

    account = Patient.objects.get(pk=patient.pk).user
    assert account.username == "13755556666"
    assert account.check_password(PASSWORD)
    assert patient.resident_id not in out.getvalue()
    assert mask_resident_id(patient.resident_id) in out.getvalue()
    assert "13755556666" in out.getvalue()


def test_exit_status_is_0_on_success(home_institution):
    patient = PatientFactory(home_institution=home_institution)

    status, _stderr = _run(patient.resident_id, "--password", PASSWORD)

    assert status == 0
    assert Patient.objects.get(pk=patient.pk).user is not None


def test_accepts_a_lower_case_x(home_institution):
    patient = PatientFactory(home_institution=home_institution)
    Patient.objects.filter(pk=patient.pk).update(resident_id="11010519491231002X")

    call_command(
        "create_patient_account", "11010519491231002x", "--password", PASSWORD, stdout=io.StringIO()
    )

    assert Patient.objects.get(pk=patient.pk).user is not None


def test_unknown_resident_exits_1_with_a_clear_message(home_institution):
    status, stderr = _run("120104199001011234", "--password", PASSWORD)

    assert status == 1
    assert "120104**********34" in stderr
    assert "120104199001011234" not in stderr
    assert get_user_model().objects.count() == 0


def test_resident_without_a_phone_exits_1(home_institution):
    patient = PatientFactory(home_institution=home_institution, phone="")

    status, stderr = _run(patient.resident_id, "--password", PASSWORD)

    assert status == 1
    assert "phone" in stderr
    assert Patient.objects.get(pk=patient.pk).user is None


def test_phone_already_taken_exits_1_and_creates_nothing(home_institution):
    patient = PatientFactory(home_institution=home_institution, phone="13755556666")
    UserFactory(username="13755556666")
    users_before = get_user_model().objects.count()

    status, stderr = _run(patient.resident_id, "--password", PASSWORD)

    assert status == 1
    assert "phone" in stderr
    assert get_user_model().objects.count() == users_before
    assert Patient.objects.get(pk=patient.pk).user is None


def test_weak_password_is_refused(home_institution):
    patient = PatientFactory(home_institution=home_institution)

    with pytest.raises(CommandError, match="password"):
        call_command("create_patient_account", patient.resident_id, "--password", "123")

    assert Patient.objects.get(pk=patient.pk).user is None
