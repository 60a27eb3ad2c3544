"""Factories for cloud_exams. The catalogue itself is migrated data (``FBG``, ``HBA1C``,
``CREA``…): :func:`exam_item` fetches an item by code.

``ExamResultFactory`` writes a result row directly (an imported one by default), for tests of
readers such as chronic_care; ``verified=True`` makes it verified by a lab technician of the
institution, which is what :func:`cloud_exams.selectors.verified_results` returns.
"""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from cloud_exams.models import ExamItem, ExamOrder, ExamResult
from cloud_management.models import StaffRole
from tests.factories.cloud_management import PatientFactory, StaffRoleFactory


def exam_item(code: str) -> ExamItem:
    return ExamItem.objects.get(code=code)


def lab_technician(institution):
    """A new lab technician at ``institution`` (a user with admin access)."""
    return StaffRoleFactory(role=StaffRole.Role.LAB_TECHNICIAN, institution=institution).user


class ExamOrderFactory(factory.django.DjangoModelFactory):
    """A bare order row (no items); use ``cloud_exams.services.order_exams`` for real ones."""

    class Meta:
        model = ExamOrder

    patient = factory.SubFactory(PatientFactory)
    ordering_institution = factory.LazyAttribute(lambda o: o.patient.home_institution)
    performing_institution = factory.LazyAttribute(lambda o: o.ordering_institution)
    source = ExamOrder.Source.CLINIC_VISIT
    ordered_at = factory.LazyFunction(timezone.now)


class ExamResultFactory(factory.django.DjangoModelFactory):
    """An imported FBG result of 6.5 mmol/L on 2025-03-01, unverified unless ``verified``."""

    class Meta:
        model = ExamResult
        skip_postgeneration_save = True

    class Params:
        verified = False

    patient = factory.SubFactory(PatientFactory)
    item = factory.LazyFunction(lambda: exam_item("FBG"))
    ordering_institution = factory.LazyAttribute(lambda o: o.patient.home_institution)
    performing_institution = factory.LazyAttribute(lambda o: o.ordering_institution)
    collected_on = dt.date(2025, 3, 1)
    value = Decimal("6.5")
    value_text = ""
    unit = factory.LazyAttribute(lambda o: o.item.unit)
    flag = ExamResult.Flag.NORMAL
    origin = ExamResult.Origin.IMPORTED
    entered_at = factory.LazyFunction(timezone.now)
    entry_key = factory.LazyAttributeSequence(
        lambda o, n: f"import:{o.patient.resident_id}:{o.item.code}:{o.collected_on}:{n}"
    )
    verified_by = factory.Maybe(
        "verified",
        yes_declaration=factory.LazyAttribute(lambda o: lab_technician(o.performing_institution)),
        no_declaration=None,
    )
    verified_at = factory.Maybe(
        "verified", yes_declaration=factory.LazyFunction(timezone.now), no_declaration=None
    )
