"""One diabetes enrolment (migration 0002) and one family-doctor contract (migration 0004) per
resident on any day are held by the database itself: exclusion constraints on PostgreSQL,
triggers on SQLite. Run this file on both (DATABASE_URL unset, and DATABASE_URL=postgres://…)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from cloud_management.models import DiabetesEnrollment, FamilyDoctorContract
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db

TABLE = DiabetesEnrollment._meta.db_table
D = dt.date


def _raw_insert(patient, institution, start, end, code="E11.9"):
    """An INSERT that bypasses every Python check."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (patient_id, institution_id, diabetes_type, diagnosis_code, "
            "enrolled_on, ended_on, end_reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [patient.pk, institution.pk, "T2", code, start, end, ""],
        )


@pytest.fixture
def patient(home_institution):
    return PatientFactory(home_institution=home_institution)


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ((D(2025, 1, 1), None), (D(2025, 6, 1), None)),
        ((D(2025, 1, 1), D(2025, 3, 31)), (D(2025, 3, 31), None)),
        ((D(2025, 1, 1), D(2025, 3, 31)), (D(2024, 1, 1), D(2025, 1, 1))),
        ((D(2025, 2, 1), D(2025, 2, 28)), (D(2025, 1, 1), None)),
        ((D(2025, 2, 1), D(2025, 2, 1)), (D(2025, 1, 1), D(2025, 12, 31))),
    ],
)
def test_raw_overlapping_insert_is_refused(patient, home_institution, existing, new):
    _raw_insert(patient, home_institution, *existing)

    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_insert(patient, home_institution, *new)

    assert DiabetesEnrollment.objects.filter(patient=patient).count() == 1


def test_orm_save_without_validation_is_refused(patient, home_institution):
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=D(2025, 1, 1))

    with pytest.raises(IntegrityError), transaction.atomic():
        DiabetesEnrollment.objects.create(
            patient=patient,
            institution=home_institution,
            diabetes_type="T2",
            diagnosis_code="E11.9",
            enrolled_on=D(2025, 2, 1),
        )

    assert DiabetesEnrollment.objects.filter(patient=patient).count() == 1


def test_raw_update_into_an_overlap_is_refused(patient, home_institution):
    _raw_insert(patient, home_institution, D(2025, 1, 1), D(2025, 3, 31))
    _raw_insert(patient, home_institution, D(2025, 4, 1), None)
    first = DiabetesEnrollment.objects.get(patient=patient, enrolled_on=D(2025, 1, 1))

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET ended_on = NULL WHERE id = %s", [first.pk])

    first.refresh_from_db()
    assert first.ended_on == D(2025, 3, 31)


def test_queryset_update_into_an_overlap_is_refused(patient, home_institution):
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=D(2025, 1, 1), ended_on=D(2025, 3, 31))
    later = DiabetesEnrollmentFactory(patient=patient, enrolled_on=D(2025, 6, 1))

    with pytest.raises(IntegrityError), transaction.atomic():
        DiabetesEnrollment.objects.filter(pk=later.pk).update(enrolled_on=D(2025, 3, 1))

    later.refresh_from_db()
    assert later.enrolled_on == D(2025, 6, 1)


def test_adjacent_enrolments_and_other_residents_are_allowed(patient, home_institution):
    other = PatientFactory(home_institution=home_institution)

    _raw_insert(patient, home_institution, D(2025, 1, 1), D(2025, 3, 31))
    _raw_insert(patient, home_institution, D(2025, 4, 1), None)
    _raw_insert(other, home_institution, D(2025, 1, 1), None)

    assert DiabetesEnrollment.objects.count() == 3


def test_updating_a_row_in_place_is_not_an_overlap_with_itself(patient, home_institution):
    enrolment = DiabetesEnrollmentFactory(patient=patient, enrolled_on=D(2025, 1, 1))

    DiabetesEnrollment.objects.filter(pk=enrolment.pk).update(ended_on=D(2025, 12, 31))

    enrolment.refresh_from_db()
    assert enrolment.ended_on == D(2025, 12, 31)


def test_the_database_object_holding_the_rule_exists():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT contype FROM pg_constraint WHERE conname = 'enrolment_no_overlapping_days'"
            )
            assert cursor.fetchall() == [("x",)]
        else:
            assert connection.vendor == "sqlite"
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'enrolment_no_overlapping_days%' ORDER BY name"
            )
            assert [row[0] for row in cursor.fetchall()] == [
                "enrolment_no_overlapping_days_insert",
                "enrolment_no_overlapping_days_update",
            ]


# --- Family-doctor contracts: one at a time (migration 0004) ---------------------------------

CONTRACT_TABLE = FamilyDoctorContract._meta.db_table


def _raw_contract(patient, institution, start, end):
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CONTRACT_TABLE} (patient_id, institution_id, signed_on, ended_on) "
            "VALUES (%s, %s, %s, %s)",
            [patient.pk, institution.pk, start, end],
        )


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ((D(2025, 1, 1), None), (D(2025, 6, 1), None)),
        ((D(2025, 1, 1), D(2025, 3, 31)), (D(2025, 3, 31), None)),
        ((D(2025, 2, 1), D(2025, 2, 1)), (D(2025, 1, 1), D(2025, 12, 31))),
    ],
)
def test_overlapping_contracts_are_refused_even_at_another_institution(
    patient, home_institution, existing, new
):
    other_institution = InstitutionFactory()
    _raw_contract(patient, home_institution, *existing)

    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_contract(patient, other_institution, *new)
    with pytest.raises(IntegrityError), transaction.atomic():
        FamilyDoctorContract.objects.create(
            patient=patient, institution=home_institution, signed_on=new[0], ended_on=new[1]
        )

    assert FamilyDoctorContract.objects.filter(patient=patient).count() == 1


def test_successive_contracts_and_in_place_updates_are_allowed(patient, home_institution):
    _raw_contract(patient, home_institution, D(2025, 1, 1), D(2025, 3, 31))
    _raw_contract(patient, InstitutionFactory(), D(2025, 4, 1), None)
    first = FamilyDoctorContract.objects.get(patient=patient, signed_on=D(2025, 1, 1))

    FamilyDoctorContract.objects.filter(pk=first.pk).update(ended_on=D(2025, 2, 28))
    with pytest.raises(IntegrityError), transaction.atomic():
        FamilyDoctorContract.objects.filter(pk=first.pk).update(ended_on=None)

    first.refresh_from_db()
    assert first.ended_on == D(2025, 2, 28)


def test_the_model_names_the_overlap_before_the_database_does(patient, home_institution):
    FamilyDoctorContract.objects.create(
        patient=patient, institution=home_institution, signed_on=D(2025, 1, 1)
    )
    second = FamilyDoctorContract(
        patient=patient, institution=InstitutionFactory(), signed_on=D(2025, 5, 1)
    )

    with pytest.raises(ValidationError) as caught:
        second.full_clean()

    assert "signed_on" in caught.value.message_dict


def test_the_database_object_holding_the_contract_rule_exists():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT contype FROM pg_constraint WHERE conname = 'contract_no_overlapping_days'"
            )
            assert cursor.fetchall() == [("x",)]
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'contract_no_overlapping_days%' ORDER BY name"
            )
            assert [row[0] for row in cursor.fetchall()] == [
                "contract_no_overlapping_days_insert",
                "contract_no_overlapping_days_update",
            ]
