"""The claim ledger's entry point for the clouds (STYLE.md 4.6 rule 3)."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cloud_management.models import Institution, Patient
from payments.models import ClaimLine

_MAX_AMOUNT = Decimal("9999999999.99")
_MAX_SOURCE_REF = 100  # ClaimLine.source_ref max_length


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


def _validate(
    *,
    source: str,
    source_ref: str,
    service_date: object,
    category: str,
    diagnosis_code: str,
    total_amount: Decimal,
    fund_paid: Decimal,
) -> None:
    errors: dict[str, str] = {}
    if source not in ClaimLine.Source.values:
        errors["source"] = _("Unknown source “%(source)s”.") % {"source": source}
    if not source_ref or len(source_ref) > _MAX_SOURCE_REF:
        errors["source_ref"] = _("A source reference of 1 to 100 characters is required.")
    if not isinstance(service_date, dt.date) or isinstance(service_date, dt.datetime):
        errors["service_date"] = _("Enter the service date as a date.")
    if category not in ClaimLine.Category.values:
        errors["category"] = _("Unknown category “%(category)s”.") % {"category": category}
    if len(diagnosis_code) > 20 or not diagnosis_code.isascii():
        errors["diagnosis_code"] = _("A diagnosis code is an ICD-10 code of at most 20 characters.")
    for field, value in (("total_amount", total_amount), ("fund_paid", fund_paid)):
        message = _amount_error(value)
        if message:
            errors[field] = message
    if "total_amount" not in errors and "fund_paid" not in errors and fund_paid > total_amount:
        errors["fund_paid"] = _("The fund cannot pay more than the total amount.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def post_claim_line(
    *,
    source: str,
    source_ref: str,
    patient: Patient,
    institution: Institution,
    service_date: dt.date,
    category: str,
    diagnosis_code: str,
    total_amount: Decimal,
    fund_paid: Decimal,
) -> ClaimLine:
    """Record a cloud's charge in the claim ledger, once per ``(source, source_ref)``.

    Called inside the caller's transaction, so the clinical event and its charge commit
    together (the atomic block here is a savepoint). Posting the same reference again updates
    that line to the values given and never adds a second one.
    """
    _validate(
        source=source,
        source_ref=source_ref,
        service_date=service_date,
        category=category,
        diagnosis_code=diagnosis_code,
        total_amount=total_amount,
        fund_paid=fund_paid,
    )
    values = {
        "patient": patient,
        "institution": institution,
        "service_date": service_date,
        "category": category,
        "diagnosis_code": diagnosis_code,
        "total_amount": total_amount,
        "fund_paid": fund_paid,
    }
    # update_or_create locks an existing row and, on a concurrent insert, retries the lookup
    # after the unique constraint on (source, source_ref) refuses the second row.
    line, _created = ClaimLine.objects.update_or_create(
        source=source,
        source_ref=source_ref,
        defaults=values,
        create_defaults={**values, "claim_id": f"{source}:{source_ref}"},
    )
    return line
