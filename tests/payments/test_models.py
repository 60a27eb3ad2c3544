"""Database constraints of the payments tables, and the scheme services that guard them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from payments.formulas import RetentionTier
from payments.models import ClaimLine, QualityTier, Scheme, SettlementLine, SettlementRun
from payments.services.schemes import save_scheme, set_retention_tiers
from tests.factories.cloud_management import InstitutionFactory
from tests.factories.payments import ClaimLineFactory, SchemeFactory

pytestmark = pytest.mark.django_db
D = Decimal


def _violates(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.parametrize(
    ("total", "fund"),
    [("100.00", "100.01"), ("100.00", "-0.01")],
)
def test_claim_line_fund_paid_outside_total_is_refused(total, fund):
    _violates(lambda: ClaimLineFactory(total_amount=D(total), fund_paid=D(fund)))

    assert ClaimLine.objects.count() == 0


def test_claim_line_fund_paid_may_equal_total_or_zero():
    ClaimLineFactory(total_amount=D("50.00"), fund_paid=D("50.00"))
    ClaimLineFactory(total_amount=D("50.00"), fund_paid=D("0.00"))

    assert ClaimLine.objects.count() == 2


def test_claim_line_source_ref_is_unique_per_source():
    line = ClaimLineFactory(source=ClaimLine.Source.CLOUD_EXAMS, source_ref="order-7")

    _violates(
        lambda: ClaimLineFactory(
            patient=line.patient, source=ClaimLine.Source.CLOUD_EXAMS, source_ref="order-7"
        )
    )
    # The same reference from another cloud is another charge.
    ClaimLineFactory(
        patient=line.patient, source=ClaimLine.Source.CLOUD_PHARMACY, source_ref="order-7"
    )
    assert ClaimLine.objects.count() == 2


def test_claim_line_unknown_category_is_refused():
    _violates(lambda: ClaimLineFactory(category="dental"))


def test_save_scheme_creates_default_tiers():
    scheme, created = save_scheme(
        code="DM2025",
        name="糖尿病门特",
        kind=Scheme.Kind.PER_DISEASE,
        year=2025,
        annual_rate=D("1500.00"),
        categories=["outpatient", "pharmacy"],
        diagnosis_prefixes="E10; E11;E11",
    )

    assert created is True
    assert scheme.diagnosis_prefixes == "E10;E11"
    assert scheme.categories == "outpatient;pharmacy"
    assert scheme.retention_tiers() == (
        RetentionTier(D("90.00"), D("1.00")),
        RetentionTier(D("80.00"), D("0.80")),
        RetentionTier(D("60.00"), D("0.50")),
    )


def test_save_scheme_again_updates_and_keeps_tiers():
    scheme = SchemeFactory(code="FD2025", tiers=[RetentionTier(D("50"), D("0.40"))])

    updated, created = save_scheme(
        code="FD2025",
        name="家庭医生签约按人头付费",
        kind=Scheme.Kind.PER_CAPITA,
        year=2025,
        annual_rate=D("300.00"),
        categories="outpatient",
    )

    assert created is False
    assert updated.pk == scheme.pk
    assert Scheme.objects.get(code="FD2025").annual_rate == D("300.00")
    assert updated.retention_tiers() == (RetentionTier(D("50.00"), D("0.40")),)


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("categories", {"categories": "outpatient;dental"}),
        ("categories", {"categories": ""}),
        ("diagnosis_prefixes", {"diagnosis_prefixes": "e11"}),
        ("kind", {"kind": "per_visit"}),
        ("annual_rate", {"annual_rate": D("10.005")}),
    ],
)
def test_save_scheme_names_the_bad_field_and_writes_nothing(field, changes):
    arguments = {
        "code": "BAD",
        "name": "x",
        "kind": Scheme.Kind.PER_DISEASE,
        "year": 2025,
        "annual_rate": D("1.00"),
        "categories": "outpatient",
    } | changes

    with pytest.raises(ValidationError) as error:
        save_scheme(**arguments)

    assert field in error.value.message_dict
    assert Scheme.objects.count() == 0
    assert QualityTier.objects.count() == 0


def test_set_retention_tiers_replaces_tiers():
    scheme = SchemeFactory()

    set_retention_tiers(
        scheme=scheme,
        tiers=[RetentionTier(D("70"), D("0.60")), RetentionTier(D("95"), D("1.00"))],
    )

    assert scheme.retention_tiers() == (
        RetentionTier(D("95.00"), D("1.00")),
        RetentionTier(D("70.00"), D("0.60")),
    )


@pytest.mark.parametrize(
    "tiers",
    [
        [RetentionTier(D("90"), D("1.50"))],
        [RetentionTier(D("80"), D("0.80")), RetentionTier(D("80"), D("0.70"))],
    ],
)
def test_set_retention_tiers_refuses_bad_tiers_and_keeps_the_old(tiers):
    scheme = SchemeFactory()

    with pytest.raises(ValidationError) as error:
        set_retention_tiers(scheme=scheme, tiers=tiers)

    assert "tiers" in error.value.message_dict
    assert scheme.tiers.count() == 3


@pytest.mark.parametrize(
    ("min_score", "ratio"),
    [("90", "1.01"), ("90", "-0.10"), ("100.01", "0.50")],
)
def test_tier_constraints_hold_in_the_database(min_score, ratio):
    scheme = SchemeFactory(tiers=[])

    _violates(
        lambda: QualityTier.objects.create(
            scheme=scheme, min_score=D(min_score), retention_ratio=D(ratio)
        )
    )


def test_tier_thresholds_cannot_repeat_in_the_database():
    scheme = SchemeFactory()

    _violates(
        lambda: QualityTier.objects.create(
            scheme=scheme, min_score=D("90.00"), retention_ratio=D("0.90")
        )
    )


def _run(scheme, status, period="2025"):
    return SettlementRun.objects.create(
        scheme=scheme,
        period=period,
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31),
        status=status,
    )


def test_one_active_run_per_scheme_and_period():
    scheme = SchemeFactory()
    _run(scheme, SettlementRun.Status.RUNNING)

    _violates(lambda: _run(scheme, SettlementRun.Status.PENDING))
    # Failed and superseded runs do not count; another period is another run.
    _run(scheme, SettlementRun.Status.FAILED)
    _run(scheme, SettlementRun.Status.PENDING, period="2025-01")
    assert SettlementRun.objects.count() == 3


def test_one_finished_run_per_scheme_and_period():
    scheme = SchemeFactory()
    _run(scheme, SettlementRun.Status.FINISHED)
    _run(scheme, SettlementRun.Status.SUPERSEDED)

    _violates(lambda: _run(scheme, SettlementRun.Status.FINISHED))


def test_one_line_per_run_and_institution():
    run = _run(SchemeFactory(), SettlementRun.Status.RUNNING)
    institution = InstitutionFactory()
    figures = {
        "enrolees": 1,
        "member_days": 1,
        "budget": D("1.00"),
        "spending": D("0.00"),
        "balance": D("1.00"),
        "overspend": D("0.00"),
        "fund_payable": D("0.00"),
    }
    SettlementLine.objects.create(run=run, institution=institution, **figures)

    _violates(lambda: SettlementLine.objects.create(run=run, institution=institution, **figures))
