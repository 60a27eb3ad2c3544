"""Factories for the payments app: schemes (with the default tiers of CONTRACTS §4) and claim
lines."""

import datetime as dt
from decimal import Decimal

import factory

from payments.formulas import DEFAULT_RETENTION_TIERS
from payments.models import ClaimLine, QualityTier, Scheme
from tests.factories.cloud_management import PatientFactory


class SchemeFactory(factory.django.DjangoModelFactory):
    """A per-disease diabetes scheme for 2025; ``tiers=[...]`` overrides the default tiers."""

    class Meta:
        model = Scheme
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"SCH{n:03d}")
    name = factory.Sequence(lambda n: f"糖尿病门特按病种付费{n}")
    kind = Scheme.Kind.PER_DISEASE
    year = 2025
    annual_rate = Decimal("1200.00")
    diagnosis_prefixes = "E10;E11"
    categories = "outpatient;pharmacy;exam;home_service"

    @factory.post_generation
    def tiers(self, create, extracted, **kwargs):
        if not create:
            return
        chosen = DEFAULT_RETENTION_TIERS if extracted is None else extracted
        QualityTier.objects.filter(scheme=self).delete()
        QualityTier.objects.bulk_create(
            QualityTier(scheme=self, min_score=t.min_score, retention_ratio=t.retention_ratio)
            for t in chosen
        )


class ClaimLineFactory(factory.django.DjangoModelFactory):
    """A pharmacy line for E11.9 paid 80 % by the fund, from the insurance system's file."""

    class Meta:
        model = ClaimLine

    claim_id = factory.Sequence(lambda n: f"CLM{n:08d}")
    patient = factory.SubFactory(PatientFactory)
    institution = factory.LazyAttribute(lambda o: o.patient.home_institution)
    service_date = dt.date(2025, 3, 1)
    category = ClaimLine.Category.PHARMACY
    diagnosis_code = "E11.9"
    total_amount = Decimal("100.00")
    fund_paid = Decimal("80.00")
    source = ClaimLine.Source.INSURANCE
    source_ref = factory.LazyAttribute(lambda o: o.claim_id)
