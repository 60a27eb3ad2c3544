"""Factories for chronic care: diabetes follow-ups."""

import datetime as dt
from decimal import Decimal

import factory

from chronic_care.models import FollowUp
from tests.factories.cloud_management import PatientFactory


class FollowUpFactory(factory.django.DjangoModelFactory):
    """A clinic follow-up with a controlled fasting glucose, given at the resident's home
    institution."""

    class Meta:
        model = FollowUp

    patient = factory.SubFactory(PatientFactory)
    institution = factory.LazyAttribute(lambda o: o.patient.home_institution)
    date = dt.date(2025, 3, 1)
    mode = FollowUp.Mode.CLINIC
    fbg = Decimal("6.5")
    hba1c = None
    systolic = 130
    diastolic = 80
    weight_kg = Decimal("70.0")
    outcome = FollowUp.Outcome.CONTROLLED


def lab_result(
    patient,
    code: str,
    collected_on: dt.date,
    value: str,
    *,
    institution=None,
    verified: bool = True,
):
    """A verified (or not yet verified) lab result of the catalogue item ``code``, as an import
    from a lab system records it (cloud_exams' seeded catalogue)."""
    from django.utils import timezone

    from cloud_exams.models import ExamItem, ExamResult
    from tests.factories.cloud_management import UserFactory

    where = institution or patient.home_institution
    item = ExamItem.objects.get(code=code)
    verifier = UserFactory() if verified else None
    return ExamResult.objects.create(
        entry_key=f"import:{patient.resident_id}:{code}:{collected_on.isoformat()}",
        patient=patient,
        item=item,
        ordering_institution=where,
        performing_institution=where,
        collected_on=collected_on,
        value=Decimal(value),
        unit=item.unit,
        origin=ExamResult.Origin.IMPORTED,
        entered_at=timezone.now(),
        verified_by=verifier,
        verified_at=timezone.now() if verified else None,
    )
