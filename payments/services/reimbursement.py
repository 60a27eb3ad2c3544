"""Reimbursement at the point of service (issue 3, Deliver 2): how much of a charge the insurance
fund pays and how much the resident pays, by insurance type and claim category.

A cloud calls :func:`split_charge` (or :func:`post_reimbursed_charge`, which also posts the line)
inside its own ``transaction.atomic``, so the clinical event, its charge and the split commit
together (STYLE.md 4.6 rule 3).

The ratio in force for a service date is the one of the latest year not after the date's year:
a year's ratios stay in force until the bureau publishes new ones, as insurance policies do.
The fund's share is ``total × ratio`` rounded half-up to the fen once, at the end (CONTRACTS
conventions); the resident pays exactly the rest, so ``fund_paid + self_paid == total``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cloud_management.models import Institution, Patient
from payments.formulas import money
from payments.models import ClaimLine, ReimbursementRatio
from payments.services.claims import post_claim_line

_MAX_AMOUNT = Decimal("9999999999.99")


@dataclass(frozen=True)
class ChargeSplit:
    """A charge divided between the fund and the resident, with the ratio that divided it."""

    total_amount: Decimal
    fund_paid: Decimal
    self_paid: Decimal
    fund_ratio: Decimal
    # The year whose ratio was applied (the service year or the latest year before it).
    ratio_year: int


def split_amount(*, total_amount: Decimal, fund_ratio: Decimal) -> tuple[Decimal, Decimal]:
    """``(fund_paid, self_paid)``: the fund's share rounded half-up to the fen, and the rest."""
    fund_paid = money(total_amount * fund_ratio)
    return fund_paid, total_amount - fund_paid


def _amount_error(value: object) -> str | None:
    if not isinstance(value, Decimal) or not value.is_finite():
        return _("Enter an amount in CNY as a decimal number.")
    if value != value.quantize(Decimal("0.01")):
        return _("Amounts are in whole fen: at most two decimal places.")
    if value < 0:
        return _("An amount cannot be negative.")
    if value > _MAX_AMOUNT:
        return _("The amount is too large.")
    return None


def _check_codes(*, insurance_type: str, category: str) -> None:
    errors: dict[str, str] = {}
    if insurance_type not in Patient.InsuranceType.values:
        errors["insurance_type"] = _("Unknown insurance type “%(type)s”.") % {
            "type": insurance_type
        }
    if category not in ClaimLine.Category.values:
        errors["category"] = _("Unknown category “%(category)s”.") % {"category": category}
    if errors:
        raise ValidationError(errors)


def ratio_in_force(*, insurance_type: str, category: str, year: int) -> ReimbursementRatio:
    """The ratio for ``year``, or the latest year before it; ValidationError when none is set."""
    _check_codes(insurance_type=insurance_type, category=category)
    ratio = (
        ReimbursementRatio.objects.filter(
            insurance_type=insurance_type, category=category, year__lte=year
        )
        .order_by("-year")
        .first()
    )
    if ratio is None:
        raise ValidationError(
            {
                "category": _(
                    "No reimbursement ratio is set for %(type)s insurance, category %(category)s, "
                    "in %(year)s or any year before; an operator must set one."
                )
                % {
                    "type": Patient.InsuranceType(insurance_type).label,
                    "category": ClaimLine.Category(category).label,
                    "year": year,
                }
            }
        )
    return ratio


def split_charge(
    *,
    insurance_type: str,
    category: str,
    service_date: dt.date,
    total_amount: Decimal,
    covered_amount: Decimal | None = None,
) -> ChargeSplit:
    """Divide ``total_amount`` between the fund and the resident: the fund pays the ratio in
    force on ``service_date`` for the insurance type and category of ``covered_amount`` (the
    part insurance covers, all of it by default), the resident the rest. Nothing covered: the
    fund pays nothing and no ratio is looked up. Writes nothing."""
    errors: dict[str, str] = {}
    if not isinstance(service_date, dt.date) or isinstance(service_date, dt.datetime):
        errors["service_date"] = _("Enter the service date as a date.")
    message = _amount_error(total_amount)
    if message:
        errors["total_amount"] = message
    covered = total_amount if covered_amount is None else covered_amount
    if covered_amount is not None:
        message = _amount_error(covered_amount)
        if message:
            errors["covered_amount"] = message
        elif "total_amount" not in errors and covered_amount > total_amount:
            errors["covered_amount"] = _("The covered part cannot exceed the charge.")
    if errors:
        raise ValidationError(errors)
    if covered_amount is not None and covered_amount == 0:
        _check_codes(insurance_type=insurance_type, category=category)
        return ChargeSplit(
            total_amount=total_amount,
            fund_paid=Decimal("0.00"),
            self_paid=total_amount,
            fund_ratio=Decimal("0"),
            ratio_year=service_date.year,
        )
    ratio = ratio_in_force(insurance_type=insurance_type, category=category, year=service_date.year)
    fund_paid, _covered_self_paid = split_amount(total_amount=covered, fund_ratio=ratio.fund_ratio)
    return ChargeSplit(
        total_amount=total_amount,
        fund_paid=fund_paid,
        self_paid=total_amount - fund_paid,
        fund_ratio=ratio.fund_ratio,
        ratio_year=ratio.year,
    )


@transaction.atomic
def post_reimbursed_charge(
    *,
    source: str,
    source_ref: str,
    patient: Patient,
    institution: Institution,
    service_date: dt.date,
    category: str,
    diagnosis_code: str,
    total_amount: Decimal,
    covered_amount: Decimal | None = None,
) -> tuple[ClaimLine, ChargeSplit]:
    """Split a charge by the patient's insurance type (the fund's share of ``covered_amount``,
    all of it by default: :func:`split_charge`) and post it to the claim ledger, once per
    ``(source, source_ref)`` (:func:`payments.services.claims.post_claim_line`). Runs inside
    the caller's transaction: nothing is written if either step refuses."""
    split = split_charge(
        insurance_type=patient.insurance_type,
        category=category,
        service_date=service_date,
        total_amount=total_amount,
        covered_amount=covered_amount,
    )
    line = post_claim_line(
        source=source,
        source_ref=source_ref,
        patient=patient,
        institution=institution,
        service_date=service_date,
        category=category,
        diagnosis_code=diagnosis_code,
        total_amount=split.total_amount,
        fund_paid=split.fund_paid,
    )
    return line, split


@transaction.atomic
def set_reimbursement_ratio(
    *, year: int, insurance_type: str, category: str, fund_ratio: Decimal
) -> tuple[ReimbursementRatio, bool]:
    """Set the fund's ratio for a year, insurance type and category (0 to 1, at most four
    places), creating or replacing it. Returns the row and whether it was created."""
    if not isinstance(fund_ratio, Decimal) or not fund_ratio.is_finite():
        raise ValidationError({"fund_ratio": _("Enter the fund ratio as a decimal number.")})
    if fund_ratio != fund_ratio.quantize(Decimal("0.0001")):
        raise ValidationError({"fund_ratio": _("A fund ratio has at most four decimal places.")})
    ratio = (
        ReimbursementRatio.objects.select_for_update()
        .filter(year=year, insurance_type=insurance_type, category=category)
        .first()
    )
    is_new = ratio is None
    if ratio is None:
        ratio = ReimbursementRatio(year=year, insurance_type=insurance_type, category=category)
    ratio.fund_ratio = fund_ratio
    # The field's validators and the model's choices name the field of a bad value.
    ratio.full_clean()
    ratio.save()
    return ratio, is_new
