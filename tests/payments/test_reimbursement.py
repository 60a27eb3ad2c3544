"""Reimbursement at the point of service: the fund's share by insurance type, category and year,
rounded half-up to the fen once; fund_paid + self_paid == total (issue 3, Deliver 2)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cloud_management.models import Patient
from payments.models import ClaimLine, ReimbursementRatio
from payments.services.reimbursement import (
    post_reimbursed_charge,
    ratio_in_force,
    set_reimbursement_ratio,
    split_amount,
    split_charge,
)
from tests.factories.cloud_management import InstitutionFactory, PatientFactory

pytestmark = pytest.mark.django_db
D = Decimal
EMPLOYEE = Patient.InsuranceType.EMPLOYEE
RESIDENT = Patient.InsuranceType.RESIDENT


def test_migration_seeds_the_default_ratios_from_2024():
    seeded = {
        (r.insurance_type, r.category): r.fund_ratio
        for r in ReimbursementRatio.objects.filter(year=2024)
    }
    assert seeded == {
        ("employee", "outpatient"): D("0.7500"),
        ("employee", "pharmacy"): D("0.7500"),
        ("employee", "exam"): D("0.7000"),
        ("employee", "home_service"): D("0.7000"),
        ("employee", "inpatient"): D("0.9000"),
        ("resident", "outpatient"): D("0.5500"),
        ("resident", "pharmacy"): D("0.5500"),
        ("resident", "exam"): D("0.5000"),
        ("resident", "home_service"): D("0.5000"),
        ("resident", "inpatient"): D("0.7500"),
    }
    assert ReimbursementRatio.objects.count() == 10


@pytest.mark.parametrize(
    ("insurance_type", "category", "total", "fund", "self_paid"),
    [
        # 123.45 × 0.75 = 92.5875 → 92.59; the resident pays 123.45 − 92.59 = 30.86.
        (EMPLOYEE, "outpatient", "123.45", "92.59", "30.86"),
        # 100.01 × 0.55 = 55.0055 → 55.01; 100.01 − 55.01 = 45.00.
        (RESIDENT, "outpatient", "100.01", "55.01", "45.00"),
        # 1234.56 × 0.90 = 1111.104 → 1111.10; 123.46.
        (EMPLOYEE, "inpatient", "1234.56", "1111.10", "123.46"),
        # 88.88 × 0.70 = 62.216 → 62.22; 26.66.
        (EMPLOYEE, "home_service", "88.88", "62.22", "26.66"),
        # 45.60 × 0.55 = 25.08 exactly; 20.52.
        (RESIDENT, "pharmacy", "45.60", "25.08", "20.52"),
        # Ties round half-up, not to even: 0.01 × 0.50 = 0.005 → 0.01, 2.05 × 0.50 = 1.025 → 1.03.
        (RESIDENT, "exam", "0.01", "0.01", "0.00"),
        (RESIDENT, "exam", "2.05", "1.03", "1.02"),
        (EMPLOYEE, "exam", "0.00", "0.00", "0.00"),
    ],
)
def test_split_charge_by_insurance_type_and_category(
    insurance_type, category, total, fund, self_paid
):
    split = split_charge(
        insurance_type=insurance_type,
        category=category,
        service_date=dt.date(2025, 6, 1),
        total_amount=D(total),
    )
    assert (split.fund_paid, split.self_paid) == (D(fund), D(self_paid))
    assert split.fund_paid + split.self_paid == D(total)
    assert split.ratio_year == 2024
    assert str(split.fund_paid) == fund  # two places, never "1.0E+1"


def test_four_place_ratio_rounds_only_at_the_end():
    # 99.99 × 0.8333 = 83.321667 → 83.32 (rounding the ratio first would give 0.83 → 82.99).
    assert split_amount(total_amount=D("99.99"), fund_ratio=D("0.8333")) == (
        D("83.32"),
        D("16.67"),
    )


def test_sum_is_exact_for_every_fen_up_to_ten_yuan():
    for fen in range(1001):
        total = D(fen) / 100
        fund, self_paid = split_amount(total_amount=total, fund_ratio=D("0.55"))
        assert fund + self_paid == total
        assert fund == (total * D("0.55")).quantize(D("0.01"), rounding="ROUND_HALF_UP")


def test_a_later_years_ratio_applies_from_that_year_on():
    set_reimbursement_ratio(
        year=2026, insurance_type=RESIDENT, category="pharmacy", fund_ratio=D("0.60")
    )

    def fund_on(day):
        return split_charge(
            insurance_type=RESIDENT, category="pharmacy", service_date=day, total_amount=D("50.00")
        )

    assert fund_on(dt.date(2025, 12, 31)).fund_paid == D("27.50")  # 2024's 0.55
    assert fund_on(dt.date(2026, 1, 1)).fund_paid == D("30.00")  # 2026's 0.60
    assert fund_on(dt.date(2027, 7, 1)).ratio_year == 2026
    # Other categories keep 2024's ratio in 2026.
    assert split_charge(
        insurance_type=RESIDENT,
        category="outpatient",
        service_date=dt.date(2026, 1, 1),
        total_amount=D("50.00"),
    ).fund_paid == D("27.50")


def test_no_ratio_for_the_year_or_before_is_a_clear_error():
    with pytest.raises(ValidationError) as error:
        split_charge(
            insurance_type=EMPLOYEE,
            category="outpatient",
            service_date=dt.date(2023, 12, 31),
            total_amount=D("10.00"),
        )
    assert list(error.value.message_dict) == ["category"]
    assert "2023" in error.value.message_dict["category"][0]


def test_the_fund_pays_its_share_of_the_covered_part_only():
    def split(total, covered, **changes):
        arguments = {
            "insurance_type": RESIDENT,
            "category": "pharmacy",
            "service_date": dt.date(2025, 6, 1),
            "total_amount": D(total),
            "covered_amount": None if covered is None else D(covered),
            **changes,
        }
        result = split_charge(**arguments)
        return result.fund_paid, result.self_paid

    # 0.55 of the 40.00 covered is 22.00; the resident pays the other 18.00 and the 60.00.
    assert split("100.00", "40.00") == (D("22.00"), D("78.00"))
    assert split("45.60", None) == split("45.60", "45.60") == (D("25.08"), D("20.52"))
    # Nothing covered: nothing from the fund, and no ratio is needed (none is set for 2023).
    assert split("10.00", "0.00", service_date=dt.date(2023, 1, 1)) == (D("0.00"), D("10.00"))
    for covered in ("10.01", "-1.00", "0.001"):
        with pytest.raises(ValidationError) as error:
            split("10.00", covered)
        assert list(error.value.message_dict) == ["covered_amount"]
    with pytest.raises(ValidationError) as error:
        split("10.00", "0.00", category="dental")
    assert list(error.value.message_dict) == ["category"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total_amount": 12.5}, "total_amount"),  # a float, not a Decimal
        ({"total_amount": D("12.345")}, "total_amount"),
        ({"total_amount": D("-1.00")}, "total_amount"),
        ({"total_amount": D("NaN")}, "total_amount"),
        ({"total_amount": D("10000000000.00")}, "total_amount"),
        ({"category": "dental"}, "category"),
        ({"insurance_type": "private"}, "insurance_type"),
        ({"service_date": dt.datetime(2025, 1, 1, 9, 0)}, "service_date"),
        ({"service_date": "2025-01-01"}, "service_date"),
    ],
)
def test_bad_charge_names_its_field(changes, field):
    arguments = {
        "insurance_type": EMPLOYEE,
        "category": "outpatient",
        "service_date": dt.date(2025, 1, 1),
        "total_amount": D("10.00"),
        **changes,
    }
    with pytest.raises(ValidationError) as error:
        split_charge(**arguments)
    assert list(error.value.message_dict) == [field]


def test_post_reimbursed_charge_splits_by_the_patients_insurance_and_posts_once():
    institution = InstitutionFactory(code="NK001")
    patient = PatientFactory(home_institution=institution, insurance_type=RESIDENT)
    arguments = {
        "source": ClaimLine.Source.CLOUD_SERVICES,
        "source_ref": "booking-17",
        "patient": patient,
        "institution": institution,
        "service_date": dt.date(2025, 3, 3),
        "category": "home_service",
        "diagnosis_code": "E11.9",
        "total_amount": D("35.55"),
    }

    line, split = post_reimbursed_charge(**arguments)
    again, _ = post_reimbursed_charge(**arguments)

    # 35.55 × 0.50 = 17.775 → 17.78; the resident pays 17.77.
    assert (split.fund_paid, split.self_paid, split.fund_ratio) == (
        D("17.78"),
        D("17.77"),
        D("0.5000"),
    )
    stored = ClaimLine.objects.get()
    assert again.pk == line.pk == stored.pk
    assert (stored.total_amount, stored.fund_paid, stored.self_paid) == (
        D("35.55"),
        D("17.78"),
        D("17.77"),
    )
    assert stored.claim_id == "cloud_services:booking-17"


def test_refused_charge_posts_nothing_and_leaves_the_callers_transaction_usable():
    institution = InstitutionFactory(code="NK001")
    patient = PatientFactory(home_institution=institution, insurance_type=EMPLOYEE)
    with transaction.atomic():
        with pytest.raises(ValidationError) as error:
            post_reimbursed_charge(
                source=ClaimLine.Source.CLOUD_EXAMS,
                source_ref="order-1",
                patient=patient,
                institution=institution,
                service_date=dt.date(2025, 3, 3),
                category="exam",
                diagnosis_code="E11.9",
                total_amount=D("10.001"),
            )
        assert list(error.value.message_dict) == ["total_amount"]
        assert ClaimLine.objects.count() == 0


def test_set_ratio_creates_then_replaces():
    ratio, created = set_reimbursement_ratio(
        year=2025, insurance_type=EMPLOYEE, category="exam", fund_ratio=D("0.72")
    )
    again, created_again = set_reimbursement_ratio(
        year=2025, insurance_type=EMPLOYEE, category="exam", fund_ratio=D("0.7350")
    )
    assert (created, created_again) == (True, False)
    assert again.pk == ratio.pk
    assert ReimbursementRatio.objects.get(pk=ratio.pk).fund_ratio == D("0.7350")
    assert ratio_in_force(insurance_type=EMPLOYEE, category="exam", year=2025).fund_ratio == D(
        "0.7350"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"fund_ratio": D("1.01")}, "fund_ratio"),
        ({"fund_ratio": D("-0.01")}, "fund_ratio"),
        ({"fund_ratio": D("0.12345")}, "fund_ratio"),
        ({"fund_ratio": 0.5}, "fund_ratio"),
        ({"year": 1999}, "year"),
        ({"category": "dental"}, "category"),
        ({"insurance_type": "private"}, "insurance_type"),
    ],
)
def test_bad_ratio_is_refused_and_changes_nothing(changes, field):
    before = list(ReimbursementRatio.objects.order_by("pk").values_list("pk", "fund_ratio"))
    arguments = {
        "year": 2024,
        "insurance_type": EMPLOYEE,
        "category": "outpatient",
        "fund_ratio": D("0.80"),
        **changes,
    }
    with pytest.raises(ValidationError) as error:
        set_reimbursement_ratio(**arguments)
    assert field in error.value.message_dict
    assert list(ReimbursementRatio.objects.order_by("pk").values_list("pk", "fund_ratio")) == before


def test_database_refuses_a_ratio_above_one():
    with pytest.raises(IntegrityError), transaction.atomic():
        ReimbursementRatio.objects.create(
            year=2030, insurance_type=EMPLOYEE, category="exam", fund_ratio=D("1.5")
        )
