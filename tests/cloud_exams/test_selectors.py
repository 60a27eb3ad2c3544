"""verified_results(): the set-based reader chronic_care uses."""

import datetime as dt
from decimal import Decimal

import pytest

from cloud_exams.selectors import VERIFIED_RESULT_FIELDS, verified_results
from cloud_management.models import Patient
from tests.factories.cloud_exams import ExamResultFactory, exam_item
from tests.factories.cloud_management import PatientFactory

pytestmark = pytest.mark.django_db


def test_only_verified_rows_with_the_documented_keys(home_institution):
    patient = PatientFactory(home_institution=home_institution)
    kept = ExamResultFactory(patient=patient, verified=True, collected_on=dt.date(2025, 4, 2))
    ExamResultFactory(patient=patient, verified=False, collected_on=dt.date(2025, 4, 3))
    (row,) = verified_results(patient_ids=[patient.pk])
    assert tuple(row) == VERIFIED_RESULT_FIELDS
    assert row["result_id"] == kept.pk
    assert row["item_code"] == "FBG"
    assert row["value"] == Decimal("6.5")
    assert row["unit"] == "mmol/L"
    assert row["collected_on"] == dt.date(2025, 4, 2)
    assert isinstance(row["verified_on"], dt.date)
    assert row["ordering_institution_id"] == home_institution.pk


def test_filters_by_item_date_and_institution_in_one_query(
    home_institution, other_institution, django_assert_num_queries
):
    patients = PatientFactory.create_batch(3, home_institution=home_institution)
    elsewhere = PatientFactory(home_institution=other_institution)
    hba1c = exam_item("HBA1C")
    for patient in patients:
        ExamResultFactory(patient=patient, verified=True, collected_on=dt.date(2025, 1, 5))
        ExamResultFactory(
            patient=patient,
            item=hba1c,
            value=Decimal("7.1"),
            verified=True,
            collected_on=dt.date(2025, 6, 5),
        )
    ExamResultFactory(patient=elsewhere, verified=True, collected_on=dt.date(2025, 6, 5))
    residents = Patient.objects.filter(home_institution=home_institution).values("pk")
    with django_assert_num_queries(1):
        rows = list(
            verified_results(
                patient_ids=residents,
                item_codes=["FBG", "HBA1C"],
                collected_from=dt.date(2025, 6, 1),
                collected_to=dt.date(2025, 6, 30),
            )
        )
    assert [(r["patient_id"], r["item_code"]) for r in rows] == [
        (p.pk, "HBA1C") for p in sorted(patients, key=lambda p: p.pk)
    ]
    by_institution = verified_results(institution_ids=[other_institution.pk])
    assert [r["patient_id"] for r in by_institution] == [elsewhere.pk]


def test_text_findings_have_no_value(home_institution):
    result = ExamResultFactory(
        item=exam_item("ECG"),
        value=None,
        value_text="窦性心律",
        unit="",
        verified=True,
        patient=PatientFactory(home_institution=home_institution),
    )
    (row,) = verified_results(item_codes=["ECG"])
    assert (row["result_id"], row["value"], row["value_text"]) == (result.pk, None, "窦性心律")
