"""Every state change of the cloud pharmacy: write a prescription (reviewed at once), override a
warning, approve, reject, dispense with the insurance split, deliver, and replenish stock.

A blocked prescription is never dispensed: :func:`dispense_prescription` accepts only an
``approved`` prescription, which only :func:`approve_prescription` makes and only without open
blocks or warnings; the database's ``rx_cleared_without_open_findings`` constraint refuses any
other path that tries. Every review step writes a :class:`ReviewDecision`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_management.access import may_see, roles_at
from cloud_management.models import Institution, Patient, StaffRole
from cloud_management.services import StateConflict
from cloud_pharmacy.models import (
    Dispensing,
    DispensingLine,
    Drug,
    Prescription,
    PrescriptionEvent,
    PrescriptionLine,
    ReplenishmentLine,
    ReplenishmentOrder,
    ReviewDecision,
    ReviewFinding,
    ShipmentLine,
    StockBatch,
)
from cloud_pharmacy.review import engine
from payments.models import ClaimLine
from payments.services.reimbursement import post_reimbursed_charge

ICD10 = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")
ORDINARY_DAYS = 7
EXTENDED_DAYS = 30  # an ordinary prescription with a recorded reason
LONG_DAYS = 84  # 12 weeks (2021 long-prescription rules)
PRESCRIBERS = frozenset({StaffRole.Role.DOCTOR})
PHARMACISTS = frozenset({StaffRole.Role.PHARMACIST})


class PrescriptionStateConflict(StateConflict):
    """The action does not fit the prescription's state; the API answers 409."""


class StockShortage(StateConflict):
    """Not enough unexpired stock to dispense or ship; the API answers 409."""


# --- who may act --------------------------------------------------------------------------


def holds_role(user: Any, institution_id: int, roles: frozenset[str]) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return bool(roles_at(user, institution_id) & roles)


def _require(user: Any, institution_id: int, roles: frozenset[str], message: str) -> None:
    if not holds_role(user, institution_id, roles):
        raise PermissionDenied(message)


def central_pharmacy() -> Institution | None:
    """The central cloud pharmacy: the digital hospital's (DESIGN.md: the hospital leads)."""
    return (
        Institution.objects.filter(kind=Institution.Kind.DIGITAL_HOSPITAL, is_active=True)
        .order_by("code")
        .first()
    )


# --- writing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    drug: Drug
    dose: Decimal
    frequency: str
    route: str
    days: int
    quantity: int


def _record_event(
    prescription: Prescription, *, institution: Institution | None = None, note: str = ""
) -> None:
    PrescriptionEvent.objects.create(
        prescription=prescription,
        status=prescription.status,
        institution=institution,
        note=note,
    )


def _validate_lines(lines: Sequence[LineInput], *, is_long: bool, extended_reason: str) -> None:
    errors: dict[str, str] = {}
    if not lines:
        errors["lines"] = _("A prescription needs at least one line.")
    seen: set[int] = set()
    for number, line in enumerate(lines, start=1):
        key = f"lines[{number}]"
        if not line.drug.is_active:
            errors[f"{key}.drug"] = _("Row %(row)s: %(drug)s is not in the active formulary.") % {
                "row": number,
                "drug": line.drug,
            }
        if line.drug.pk in seen:
            errors[f"{key}.drug"] = _("Row %(row)s: %(drug)s is already on the prescription.") % {
                "row": number,
                "drug": line.drug,
            }
        seen.add(line.drug.pk)
        if not isinstance(line.dose, Decimal) or not line.dose.is_finite() or line.dose <= 0:
            errors[f"{key}.dose"] = _("Row %(row)s: the dose must be a positive number.") % {
                "row": number
            }
        if line.frequency not in PrescriptionLine.PER_DAY:
            errors[f"{key}.frequency"] = _("Row %(row)s: unknown frequency “%(value)s”.") % {
                "row": number,
                "value": line.frequency,
            }
        if line.route not in PrescriptionLine.Route.values:
            errors[f"{key}.route"] = _("Row %(row)s: unknown route “%(value)s”.") % {
                "row": number,
                "value": line.route,
            }
        if not isinstance(line.quantity, int) or line.quantity < 1:
            errors[f"{key}.quantity"] = _("Row %(row)s: the quantity must be at least 1.") % {
                "row": number
            }
        limit = LONG_DAYS if is_long else (EXTENDED_DAYS if extended_reason else ORDINARY_DAYS)
        if not isinstance(line.days, int) or line.days < 1:
            errors[f"{key}.days"] = _("Row %(row)s: the days must be at least 1.") % {"row": number}
        elif line.days > limit:
            if is_long:
                message = _("Row %(row)s: a long prescription covers at most %(limit)s days.")
            elif extended_reason:
                message = _(
                    "Row %(row)s: at most %(limit)s days; longer needs a long prescription."
                )
            else:
                message = _(
                    "Row %(row)s: more than %(limit)s days needs a recorded reason or a long "
                    "prescription."
                )
            errors[f"{key}.days"] = message % {"row": number, "limit": limit}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def write_prescription(
    *,
    user: Any,
    patient: Patient,
    institution: Institution,
    diagnosis_codes: Sequence[str],
    lines: Sequence[LineInput],
    fulfilment: str = Prescription.Fulfilment.ON_SITE,
    dispensing_institution: Institution | None = None,
    delivery_address: str = "",
    is_long: bool = False,
    extended_reason: str = "",
    is_pregnant: bool = False,
    written_at: dt.datetime | None = None,
) -> Prescription:
    """A doctor writes a prescription; the review engine runs at once and records its findings."""
    _require(user, institution.pk, PRESCRIBERS, _("Only doctors of the institution may prescribe."))
    if not may_see(user, patient):
        raise PermissionDenied(_("You may not prescribe for this resident."))
    errors: dict[str, str] = {}
    codes = [code.strip().upper() for code in diagnosis_codes if code.strip()]
    if not codes:
        errors["diagnosis_codes"] = _("Enter at least one ICD-10 diagnosis.")
    for code in codes:
        if not ICD10.match(code):
            errors["diagnosis_codes"] = _("“%(code)s” is not an ICD-10 code such as E11.9.") % {
                "code": code
            }
    if fulfilment not in Prescription.Fulfilment.values:
        errors["fulfilment"] = _("Unknown fulfilment “%(value)s”.") % {"value": fulfilment}
    if fulfilment == Prescription.Fulfilment.ON_SITE:
        dispensing_institution = institution
    elif fulfilment == Prescription.Fulfilment.CENTRAL_PHARMACY or (
        fulfilment == Prescription.Fulfilment.DELIVERY and dispensing_institution is None
    ):
        dispensing_institution = central_pharmacy()
        if dispensing_institution is None:
            errors["fulfilment"] = _("No central cloud pharmacy is configured.")
    elif dispensing_institution is None:
        errors["dispensing_institution"] = _("Choose the institution that dispenses.")
    if fulfilment == Prescription.Fulfilment.DELIVERY and not delivery_address.strip():
        errors["delivery_address"] = _("Enter the delivery address.")
    if dispensing_institution is not None and not dispensing_institution.is_active:
        errors["dispensing_institution"] = _("The dispensing institution is not active.")
    if errors:
        raise ValidationError(errors)
    reason = extended_reason.strip()
    _validate_lines(lines, is_long=is_long, extended_reason=reason)
    if dispensing_institution is None:  # every branch above either set it or raised
        raise ValidationError(
            {"dispensing_institution": _("Choose the institution that dispenses.")}
        )
    prescription = Prescription.objects.create(
        patient=patient,
        institution=institution,
        prescriber=user,
        written_at=written_at or timezone.now(),
        diagnosis_codes=";".join(dict.fromkeys(codes)),
        is_pregnant=is_pregnant,
        is_long=is_long,
        extended_reason=reason,
        fulfilment=fulfilment,
        dispensing_institution=dispensing_institution,
        delivery_address=delivery_address.strip(),
    )
    saved = PrescriptionLine.objects.bulk_create(
        [
            PrescriptionLine(
                prescription=prescription,
                drug=line.drug,
                dose=line.dose,
                frequency=line.frequency,
                route=line.route,
                days=line.days,
                quantity=line.quantity,
                unit_price=line.drug.price,
                amount=line.drug.price * line.quantity,
            )
            for line in lines
        ]
    )
    prescription.total_amount = sum((line.amount for line in saved), Decimal("0.00"))
    _run_review(prescription, saved)
    return prescription


def _run_review(prescription: Prescription, lines: Sequence[PrescriptionLine]) -> None:
    snapshot = engine.build_snapshot(
        patient=prescription.patient,
        written_on=timezone.localdate(prescription.written_at),
        diagnoses=prescription.diagnoses,
        lines=lines,
        is_pregnant=prescription.is_pregnant,
        is_long=prescription.is_long,
        extended_reason=prescription.extended_reason,
    )
    findings = engine.review(snapshot)
    ReviewFinding.objects.bulk_create(
        [
            ReviewFinding(
                prescription=prescription,
                line=lines[finding.line_index] if finding.line_index is not None else None,
                rule=finding.rule,
                code=finding.code,
                severity=finding.severity,
                message=finding.message,
                params=dict(finding.params),
            )
            for finding in findings
        ]
    )
    prescription.blocking_findings = sum(1 for f in findings if f.severity == "block")
    prescription.open_warnings = sum(1 for f in findings if f.severity == "warn")
    prescription.status = (
        Prescription.Status.BLOCKED
        if prescription.blocking_findings
        else Prescription.Status.PENDING_REVIEW
    )
    prescription.save(
        update_fields=["blocking_findings", "open_warnings", "status", "total_amount"]
    )
    ReviewDecision.objects.create(
        prescription=prescription,
        action=ReviewDecision.Action.AUTOMATED,
        status_before=Prescription.Status.PENDING_REVIEW,
        status_after=prescription.status,
        justification=_("%(block)s blocking, %(warn)s warnings, %(info)s notes.")
        % {
            "block": prescription.blocking_findings,
            "warn": prescription.open_warnings,
            "info": sum(1 for f in findings if f.severity == "info"),
        },
    )
    _record_event(prescription, institution=prescription.institution)


# --- pharmacist review ---------------------------------------------------------------------


def prescriptions_for_update() -> QuerySet[Prescription]:
    """Prescriptions locked row by row; only the prescription's own row (``of=self``), so the
    patient joined in for the claim is not locked as well."""
    return Prescription.objects.select_for_update(of=("self",)).order_by("pk")


def _locked(prescription: Prescription) -> Prescription:
    return prescriptions_for_update().select_related("patient").get(pk=prescription.pk)


def _require_pharmacist(user: Any, prescription: Prescription) -> None:
    _require(
        user,
        prescription.dispensing_institution_id,
        PHARMACISTS,
        _("Only pharmacists of the dispensing institution may review and dispense."),
    )


@transaction.atomic
def override_finding(*, user: Any, finding: ReviewFinding, justification: str) -> ReviewFinding:
    """A pharmacist accepts a warning with a recorded justification. Blocks cannot be
    overridden."""
    prescription = _locked(finding.prescription)
    _require_pharmacist(user, prescription)
    finding = ReviewFinding.objects.select_for_update().get(pk=finding.pk)
    if not justification.strip():
        raise ValidationError({"justification": _("Record why the warning is overridden.")})
    if finding.severity != "warn":
        raise PrescriptionStateConflict(_("Only warnings can be overridden; a block cannot."))
    if finding.is_overridden:
        raise PrescriptionStateConflict(_("This warning is already overridden."))
    if prescription.status != Prescription.Status.PENDING_REVIEW:
        raise PrescriptionStateConflict(_("The prescription is not awaiting review."))
    finding.is_overridden = True
    finding.save(update_fields=["is_overridden"])
    prescription.open_warnings -= 1
    prescription.save(update_fields=["open_warnings"])
    ReviewDecision.objects.create(
        prescription=prescription,
        finding=finding,
        action=ReviewDecision.Action.OVERRIDE,
        decided_by=user,
        justification=justification.strip(),
        status_before=prescription.status,
        status_after=prescription.status,
    )
    return finding


@transaction.atomic
def approve_prescription(
    *, user: Any, prescription: Prescription, justification: str = ""
) -> Prescription:
    """A pharmacist approves: only without blocks and with every warning overridden."""
    prescription = _locked(prescription)
    _require_pharmacist(user, prescription)
    if prescription.status == Prescription.Status.BLOCKED or prescription.blocking_findings:
        raise PrescriptionStateConflict(
            _("A blocked prescription cannot be approved; reject it so the doctor rewrites it.")
        )
    if prescription.status != Prescription.Status.PENDING_REVIEW:
        raise PrescriptionStateConflict(_("The prescription is not awaiting review."))
    if prescription.open_warnings:
        raise PrescriptionStateConflict(
            _("Override or resolve the %(count)s open warnings first.")
            % {"count": prescription.open_warnings}
        )
    before = prescription.status
    prescription.status = Prescription.Status.APPROVED
    prescription.reviewed_at = timezone.now()
    prescription.save(update_fields=["status", "reviewed_at"])
    ReviewDecision.objects.create(
        prescription=prescription,
        action=ReviewDecision.Action.APPROVE,
        decided_by=user,
        justification=justification.strip(),
        status_before=before,
        status_after=prescription.status,
    )
    _record_event(prescription, institution=prescription.dispensing_institution)
    return prescription


@transaction.atomic
def reject_prescription(
    *, user: Any, prescription: Prescription, justification: str
) -> Prescription:
    """A pharmacist rejects, with a reason for the doctor."""
    prescription = _locked(prescription)
    _require_pharmacist(user, prescription)
    if not justification.strip():
        raise ValidationError({"justification": _("Record why the prescription is rejected.")})
    if prescription.status not in (
        Prescription.Status.PENDING_REVIEW,
        Prescription.Status.BLOCKED,
        Prescription.Status.APPROVED,
    ):
        raise PrescriptionStateConflict(_("The prescription can no longer be rejected."))
    before = prescription.status
    prescription.status = Prescription.Status.REJECTED
    prescription.reviewed_at = timezone.now()
    prescription.save(update_fields=["status", "reviewed_at"])
    ReviewDecision.objects.create(
        prescription=prescription,
        action=ReviewDecision.Action.REJECT,
        decided_by=user,
        justification=justification.strip(),
        status_before=before,
        status_after=prescription.status,
    )
    _record_event(
        prescription, institution=prescription.dispensing_institution, note=justification.strip()
    )
    return prescription


# --- stock and dispensing ------------------------------------------------------------------


def batches_for_update(*, institution_id: int, drug_id: int, on: dt.date) -> QuerySet[StockBatch]:
    """Unexpired batches with stock, first expiring first, locked in that order."""
    return (
        StockBatch.objects.select_for_update()
        .filter(institution_id=institution_id, drug_id=drug_id, quantity__gt=0, expires_on__gt=on)
        .order_by("expires_on", "id")
    )


def _take_stock(
    *, institution_id: int, drug: Drug, quantity: int, on: dt.date
) -> list[tuple[StockBatch, int]]:
    """Take ``quantity`` units first expiring first out; StockShortage if there are fewer."""
    taken: list[tuple[StockBatch, int]] = []
    remaining = quantity
    for batch in batches_for_update(institution_id=institution_id, drug_id=drug.pk, on=on):
        if remaining == 0:
            break
        used = min(batch.quantity, remaining)
        batch.quantity -= used
        batch.save(update_fields=["quantity"])
        taken.append((batch, used))
        remaining -= used
    if remaining:
        raise StockShortage(
            _("Not enough %(drug)s in stock: %(missing)s of %(wanted)s units missing.")
            % {"drug": drug, "missing": remaining, "wanted": quantity}
        )
    return taken


@transaction.atomic
def dispense_prescription(*, user: Any, prescription: Prescription) -> Dispensing:
    """Dispense an approved prescription: stock by batch (first expiring first out) and the
    insurance split posted as a pharmacy claim line, all in one transaction."""
    prescription = _locked(prescription)
    _require_pharmacist(user, prescription)
    if prescription.status != Prescription.Status.APPROVED or prescription.blocking_findings:
        raise PrescriptionStateConflict(
            _("Only an approved prescription can be dispensed (this one is %(status)s).")
            % {"status": prescription.get_status_display()}
        )
    today = timezone.localdate()
    lines = list(prescription.lines.select_related("drug").order_by("drug_id"))
    taken: list[tuple[PrescriptionLine, StockBatch, int]] = []
    for line in lines:
        for batch, used in _take_stock(
            institution_id=prescription.dispensing_institution_id,
            drug=line.drug,
            quantity=line.quantity,
            on=today,
        ):
            taken.append((line, batch, used))
    total = sum((line.amount for line in lines), Decimal("0.00"))
    # Drugs outside the insurance catalogue are paid by the resident alone.
    covered = sum(
        (
            line.amount
            for line in lines
            if line.drug.insurance_category != Drug.InsuranceCategory.NONE
        ),
        Decimal("0.00"),
    )
    claim, split = post_reimbursed_charge(
        source=ClaimLine.Source.CLOUD_PHARMACY,
        source_ref=f"prescription:{prescription.pk}",
        patient=prescription.patient,
        institution=prescription.dispensing_institution,
        service_date=today,
        category=ClaimLine.Category.PHARMACY,
        diagnosis_code=prescription.diagnoses[0] if prescription.diagnoses else "",
        total_amount=total,
        covered_amount=covered,
    )
    dispensing = Dispensing.objects.create(
        prescription=prescription,
        institution=prescription.dispensing_institution,
        pharmacist=user,
        total_amount=split.total_amount,
        fund_paid=split.fund_paid,
        self_paid=split.self_paid,
        claim_line=claim,
    )
    DispensingLine.objects.bulk_create(
        [
            DispensingLine(dispensing=dispensing, line=line, batch=batch, quantity=used)
            for line, batch, used in taken
        ]
    )
    prescription.status = (
        Prescription.Status.IN_DELIVERY
        if prescription.fulfilment == Prescription.Fulfilment.DELIVERY
        else Prescription.Status.DISPENSED
    )
    prescription.save(update_fields=["status"])
    _record_event(prescription, institution=prescription.dispensing_institution)
    return dispensing


@transaction.atomic
def confirm_delivery(*, user: Any, prescription: Prescription) -> Prescription:
    """The dispensing pharmacy records that the delivery reached the patient."""
    prescription = _locked(prescription)
    _require_pharmacist(user, prescription)
    if prescription.status != Prescription.Status.IN_DELIVERY:
        raise PrescriptionStateConflict(_("The prescription is not out for delivery."))
    prescription.status = Prescription.Status.DELIVERED
    prescription.save(update_fields=["status"])
    _record_event(prescription, institution=prescription.dispensing_institution)
    return prescription


@transaction.atomic
def cancel_prescription(*, user: Any, prescription: Prescription) -> Prescription:
    """The prescriber withdraws a prescription not yet dispensed."""
    prescription = _locked(prescription)
    _require(user, prescription.institution_id, PRESCRIBERS, _("Only its doctors may cancel."))
    if prescription.status not in (
        Prescription.Status.PENDING_REVIEW,
        Prescription.Status.BLOCKED,
        Prescription.Status.APPROVED,
    ):
        raise PrescriptionStateConflict(_("The prescription can no longer be cancelled."))
    prescription.status = Prescription.Status.CANCELLED
    prescription.save(update_fields=["status"])
    _record_event(prescription, institution=prescription.institution)
    return prescription


# --- supply --------------------------------------------------------------------------------


@transaction.atomic
def receive_stock(
    *,
    user: Any,
    institution: Institution,
    drug: Drug,
    batch_number: str,
    expires_on: dt.date,
    quantity: int,
) -> StockBatch:
    """Add units of a batch to an institution's stock (a delivery from a supplier)."""
    _require(user, institution.pk, PHARMACISTS, _("Only pharmacists may receive stock."))
    return _add_stock(
        institution=institution,
        drug=drug,
        batch_number=batch_number,
        expires_on=expires_on,
        quantity=quantity,
    )


def _add_stock(
    *, institution: Institution, drug: Drug, batch_number: str, expires_on: dt.date, quantity: int
) -> StockBatch:
    errors: dict[str, str] = {}
    if not batch_number.strip():
        errors["batch_number"] = _("Enter the batch number.")
    if not isinstance(quantity, int) or quantity < 1:
        errors["quantity"] = _("The quantity must be at least 1.")
    if expires_on <= timezone.localdate():
        errors["expires_on"] = _("The batch has already expired.")
    if errors:
        raise ValidationError(errors)
    batch, _created = StockBatch.objects.select_for_update().get_or_create(
        institution=institution,
        drug=drug,
        batch_number=batch_number.strip(),
        defaults={"expires_on": expires_on, "quantity": 0},
    )
    if batch.expires_on != expires_on:
        raise ValidationError(
            {
                "expires_on": _("Batch %(batch)s is recorded with another expiry date.")
                % {"batch": batch.batch_number}
            }
        )
    batch.quantity += quantity
    batch.save(update_fields=["quantity"])
    return batch


@transaction.atomic
def request_replenishment(
    *,
    user: Any,
    institution: Institution,
    lines: Sequence[tuple[Drug, int]],
    supplier: Institution | None = None,
) -> ReplenishmentOrder:
    """An institution's pharmacist orders stock from the central cloud pharmacy."""
    _require(user, institution.pk, PHARMACISTS, _("Only pharmacists may order stock."))
    supplier = supplier or central_pharmacy()
    errors: dict[str, str] = {}
    if supplier is None:
        errors["supplier"] = _("No central cloud pharmacy is configured.")
    elif supplier.pk == institution.pk:
        errors["supplier"] = _("An institution cannot order from itself.")
    if not lines:
        errors["lines"] = _("Order at least one drug.")
    for number, (_drug, quantity) in enumerate(lines, start=1):
        if not isinstance(quantity, int) or quantity < 1:
            errors[f"lines[{number}].quantity"] = _(
                "Row %(row)s: the quantity must be at least 1."
            ) % {"row": number}
    if len({drug.pk for drug, _quantity in lines}) != len(lines):
        errors["lines"] = _("Each drug appears once on an order.")
    if errors:
        raise ValidationError(errors)
    if supplier is None:  # reported above; keeps the type checker informed
        raise ValidationError({"supplier": _("No central cloud pharmacy is configured.")})
    order = ReplenishmentOrder.objects.create(
        institution=institution, supplier=supplier, requested_by=user
    )
    ReplenishmentLine.objects.bulk_create(
        [ReplenishmentLine(order=order, drug=drug, quantity=quantity) for drug, quantity in lines]
    )
    return order


@transaction.atomic
def ship_replenishment(*, user: Any, order: ReplenishmentOrder) -> ReplenishmentOrder:
    """The central pharmacy ships an order from its own stock, first expiring first out; a
    line it cannot fill in full ships what there is."""
    order = ReplenishmentOrder.objects.select_for_update().get(pk=order.pk)
    _require(
        user, order.supplier_id, PHARMACISTS, _("Only the central pharmacy's pharmacists ship.")
    )
    if order.status != ReplenishmentOrder.Status.REQUESTED:
        raise PrescriptionStateConflict(_("The order has already been shipped."))
    today = timezone.localdate()
    shipped: list[ShipmentLine] = []
    for line in order.lines.select_related("drug").order_by("drug_id"):
        remaining = line.quantity
        for batch in batches_for_update(
            institution_id=order.supplier_id, drug_id=line.drug_id, on=today
        ):
            if remaining == 0:
                break
            used = min(batch.quantity, remaining)
            batch.quantity -= used
            batch.save(update_fields=["quantity"])
            shipped.append(
                ShipmentLine(
                    order=order,
                    drug=line.drug,
                    batch_number=batch.batch_number,
                    expires_on=batch.expires_on,
                    quantity=used,
                )
            )
            remaining -= used
    if not shipped:
        raise StockShortage(_("The central pharmacy has none of the ordered drugs in stock."))
    ShipmentLine.objects.bulk_create(shipped)
    order.status = ReplenishmentOrder.Status.SHIPPED
    order.shipped_at = timezone.now()
    order.save(update_fields=["status", "shipped_at"])
    return order


@transaction.atomic
def receive_replenishment(*, user: Any, order: ReplenishmentOrder) -> ReplenishmentOrder:
    """The ordering institution receives a shipment into its stock, batch by batch."""
    order = ReplenishmentOrder.objects.select_for_update().get(pk=order.pk)
    _require(user, order.institution_id, PHARMACISTS, _("Only pharmacists may receive stock."))
    if order.status != ReplenishmentOrder.Status.SHIPPED:
        raise PrescriptionStateConflict(_("Only a shipped order can be received."))
    institution = order.institution
    for line in order.shipped.select_related("drug").order_by("id"):
        _add_stock(
            institution=institution,
            drug=line.drug,
            batch_number=line.batch_number,
            expires_on=line.expires_on,
            quantity=line.quantity,
        )
    order.status = ReplenishmentOrder.Status.RECEIVED
    order.received_at = timezone.now()
    order.save(update_fields=["status", "received_at"])
    return order


def units_for(*, drug: Drug, dose: Decimal, frequency: str, days: int) -> int:
    """Whole dispensing units covering ``days`` (what the quantity rule expects)."""
    exact = dose * PrescriptionLine.PER_DAY[frequency] * days / drug.strength
    return max(1, math.ceil(exact))
