"""Every state change of cloud_exams: order, collect, receive, enter a result, verify it,
acknowledge a critical value (STYLE.md 4.3). The admin, the API and the apps above
(cloud_services books a home blood draw, chronic_care orders from a follow-up) call these.

Each service checks who may act (their StaffRoles at the institution concerned), validates
before writing, and runs in one transaction. Performing an exam posts its insurance charge to
the payments ledger inside the same transaction (STYLE.md 4.6 rule 3, "charges flow down").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_exams import reference_ranges
from cloud_exams.models import (
    CriticalValueAlert,
    ExamItem,
    ExamOrder,
    ExamOrderItem,
    ExamResult,
    ReferenceRange,
    Specimen,
)
from cloud_management.access import may_see, roles_at
from cloud_management.models import Institution, Patient, StaffRole
from cloud_management.services import StateConflict
from payments.models import ClaimLine
from payments.services.reimbursement import post_reimbursed_charge

Role = StaffRole.Role
ORDERING_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.HEALTH_MANAGER, Role.INSTITUTION_ADMIN})
COLLECTING_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.LAB_TECHNICIAN})
CLINICAL_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.HEALTH_MANAGER, Role.INSTITUTION_ADMIN})

CREATININE_CODE = "CREA"
EGFR_CODE = "EGFR"
# Barcode digit per specimen type: one specimen of each type per order.
_SPECIMEN_DIGIT = {
    ExamItem.SpecimenType.SERUM: "1",
    ExamItem.SpecimenType.PLASMA: "2",
    ExamItem.SpecimenType.WHOLE_BLOOD: "3",
    ExamItem.SpecimenType.URINE: "4",
}
_MAX_VALUE = Decimal("99999999.9999")


class ExamStateConflict(StateConflict):
    """The action does not fit the current state (already collected, already verified…);
    the API answers 409."""


# --- who may act --------------------------------------------------------------------------------


def _require_role(
    user: Any, institution_ids: Sequence[int], roles: frozenset[str], message: str
) -> None:
    for institution_id in institution_ids:
        if roles_at(user, institution_id) & roles:
            return
    raise PermissionDenied(message)


# --- ordering ------------------------------------------------------------------------------------


def barcode_for(order: ExamOrder, specimen_type: str) -> str:
    """``EX`` + the order number in ten digits + one digit for the specimen type: unique
    because an order has one specimen of each type, and scannable as Code 128."""
    return f"EX{order.pk:010d}{_SPECIMEN_DIGIT[ExamItem.SpecimenType(specimen_type)]}"


@transaction.atomic
def order_exams(
    *,
    ordered_by: Any,
    patient: Patient,
    ordering_institution: Institution,
    item_codes: Sequence[str],
    source: str,
    source_ref: str = "",
    performing_institution: Institution | None = None,
    clinical_note: str = "",
) -> ExamOrder:
    """Order exam items for a patient, with one specimen (and barcode) per specimen type.

    ``ordered_by`` must hold a clinical role at the ordering institution; only a home-service
    booking (``source="home_service"``, made by the patient) may order without a user.
    Creatinine brings its calculated eGFR (CKD-EPI 2021) along.
    """
    if ordered_by is not None or source != ExamOrder.Source.HOME_SERVICE:
        _require_role(
            ordered_by,
            [ordering_institution.pk],
            ORDERING_ROLES,
            _("Only clinicians of the ordering institution may order exams."),
        )
        if not may_see(ordered_by, patient):
            raise PermissionDenied(_("This resident is not on your institution's register."))
    errors: dict[str, str] = {}
    if source not in ExamOrder.Source.values:
        errors["source"] = _("Unknown order source “%(source)s”.") % {"source": source}
    codes = list(dict.fromkeys(item_codes))
    if not codes:
        errors["items"] = _("Choose at least one exam item.")
    if len(codes) != len(item_codes):
        errors["items"] = _("Each exam item may be ordered once per order.")
    items = {item.code: item for item in ExamItem.objects.filter(code__in=codes, is_active=True)}
    unknown = [code for code in codes if code not in items]
    if unknown:
        errors["items"] = _("Unknown or inactive exam items: %(codes)s.") % {
            "codes": ", ".join(unknown)
        }
    calculated = [code for code in codes if code in items and items[code].is_calculated]
    if calculated:
        errors["items"] = _("%(codes)s is calculated from other results and is not ordered.") % {
            "codes": ", ".join(calculated)
        }
    if len(source_ref) > 100:
        errors["source_ref"] = _("A source reference has at most 100 characters.")
    if len(clinical_note) > 200:
        errors["clinical_note"] = _("A clinical note has at most 200 characters.")
    if errors:
        raise ValidationError(errors)
    if CREATININE_CODE in items:
        egfr = ExamItem.objects.filter(code=EGFR_CODE, is_active=True).first()
        if egfr is not None:
            items[EGFR_CODE] = egfr
            codes.append(EGFR_CODE)
    order = ExamOrder.objects.create(
        patient=patient,
        ordering_institution=ordering_institution,
        performing_institution=performing_institution or ordering_institution,
        source=source,
        source_ref=source_ref,
        ordered_by=ordered_by,
        ordered_at=timezone.now(),
        clinical_note=clinical_note,
    )
    specimens: dict[str, Specimen] = {}
    lines: list[ExamOrderItem] = []
    for code in codes:
        item = items[code]
        specimen = None
        if item.needs_specimen:
            specimen = specimens.get(item.specimen_type)
            if specimen is None:
                specimen = Specimen.objects.create(
                    order=order,
                    specimen_type=item.specimen_type,
                    barcode=barcode_for(order, item.specimen_type),
                )
                specimens[item.specimen_type] = specimen
        lines.append(ExamOrderItem(order=order, item=item, specimen=specimen, price=item.price))
    # One INSERT for the order's lines, in the order the items were asked for.
    ExamOrderItem.objects.bulk_create(lines)
    return order


# --- chain of custody -------------------------------------------------------------------------


def _locked_specimen(specimen: Specimen) -> Specimen:
    return (
        Specimen.objects.select_for_update(of=("self",)).select_related("order").get(pk=specimen.pk)
    )


@transaction.atomic
def collect_specimen(
    *, user: Any, specimen: Specimen, collected_at: dt.datetime | None = None
) -> Specimen:
    """Record who collected the specimen and when (now by default)."""
    specimen = _locked_specimen(specimen)
    order = specimen.order
    _require_role(
        user,
        [order.ordering_institution_id, order.performing_institution_id],
        COLLECTING_ROLES,
        _("Only doctors, nurses and lab technicians of the institutions concerned collect."),
    )
    if specimen.collected_at is not None:
        raise ExamStateConflict(_("This specimen has already been collected."))
    when = collected_at or timezone.now()
    if when > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"collected_at": _("A specimen cannot be collected in the future.")})
    if when < order.ordered_at - dt.timedelta(minutes=5):
        raise ValidationError(
            {"collected_at": _("A specimen cannot be collected before it was ordered.")}
        )
    specimen.collected_by = user
    specimen.collected_at = when
    specimen.save(update_fields=["collected_by", "collected_at"])
    return specimen


@transaction.atomic
def receive_specimen(
    *, user: Any, specimen: Specimen, received_at: dt.datetime | None = None
) -> Specimen:
    """The performing lab takes the collected specimen in."""
    specimen = _locked_specimen(specimen)
    _require_role(
        user,
        [specimen.order.performing_institution_id],
        frozenset({Role.LAB_TECHNICIAN}),
        _("Only lab technicians of the performing institution receive specimens."),
    )
    if specimen.collected_at is None:
        raise ExamStateConflict(_("This specimen has not been collected yet."))
    if specimen.received_at is not None:
        raise ExamStateConflict(_("This specimen has already been received."))
    when = received_at or timezone.now()
    if when < specimen.collected_at:
        raise ValidationError({"received_at": _("A specimen is received after it is collected.")})
    specimen.received_by = user
    specimen.received_at = when
    specimen.save(update_fields=["received_by", "received_at"])
    return specimen


# --- results ------------------------------------------------------------------------------------


def limits_of(item: ExamItem) -> list[reference_ranges.Limits]:
    return [
        reference_ranges.Limits(
            sex=r.sex,
            age_from_years=r.age_from_years,
            age_to_years=r.age_to_years,
            low=r.low,
            high=r.high,
            critical_low=r.critical_low,
            critical_high=r.critical_high,
        )
        for r in ReferenceRange.objects.filter(item=item)
    ]


def flag_result(
    *, value: Decimal, limits: Sequence[reference_ranges.Limits], sex: str, age_years: int
) -> tuple[str, str]:
    """``(flag, reference text)`` for a numeric value of a patient of this sex and age."""
    applicable = reference_ranges.applicable_limits(limits, sex=sex, age_years=age_years)
    flag = reference_ranges.flag_for(value, applicable)
    return flag, applicable.describe() if applicable else ""


def _parse_value(value: object) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"value": _("Enter the value as a number such as 7.5.")}) from None
    if not number.is_finite() or number < 0 or number > _MAX_VALUE:
        raise ValidationError({"value": _("Enter a value between 0 and 99,999,999.")})
    if number != number.quantize(Decimal("0.0001")):
        raise ValidationError({"value": _("A value has at most four decimal places.")})
    return number


def _post_charge(order_item: ExamOrderItem, service_date: dt.date) -> None:
    """The performed item's charge, once per ordered item: covered items split by the
    reimbursement ratio in force, self-paid ones with nothing from the fund."""
    item = order_item.item
    if item.is_calculated:
        return
    order = order_item.order
    common: dict[str, Any] = {
        "source": ClaimLine.Source.CLOUD_EXAMS,
        "source_ref": f"exam-item:{order_item.pk}",
        "patient": order.patient,
        "institution": order.performing_institution,
        "service_date": service_date,
        "category": ClaimLine.Category.EXAM,
        "diagnosis_code": "",
    }
    covered = item.insurance_category == ExamItem.InsuranceCategory.COVERED
    post_reimbursed_charge(
        **common,
        total_amount=order_item.price,
        covered_amount=order_item.price if covered else Decimal("0.00"),
    )


@transaction.atomic
def enter_result(
    *,
    user: Any,
    order_item: ExamOrderItem,
    value: object = None,
    finding: str = "",
    is_abnormal: bool = False,
) -> ExamResult:
    """A lab technician of the performing institution records the result of an ordered item:
    ``value`` for a numeric item (flagged by the patient's sex and age at collection),
    ``finding`` and ``is_abnormal`` for an examination such as an ECG. An unverified result
    may be entered again to correct it; a verified one is final.

    The exam now counts as performed: its charge is posted in this transaction. Creatinine
    also gives the order's eGFR (CKD-EPI 2021) for adults.
    """
    order_item = (
        ExamOrderItem.objects.select_for_update(of=("self",))
        .select_related("order__patient", "order__performing_institution", "item", "specimen")
        .get(pk=order_item.pk)
    )
    order, item = order_item.order, order_item.item
    _require_role(
        user,
        [order.performing_institution_id],
        frozenset({Role.LAB_TECHNICIAN}),
        _("Only lab technicians of the performing institution enter results."),
    )
    if item.is_calculated:
        raise ExamStateConflict(_("A calculated item is not entered; it follows its source."))
    existing = ExamResult.objects.filter(order_item=order_item).first()
    if existing is not None and existing.verified_at is not None:
        raise ExamStateConflict(_("This result has been verified and can no longer change."))
    specimen = order_item.specimen
    if item.needs_specimen:
        if specimen is None or specimen.received_at is None or specimen.collected_at is None:
            raise ExamStateConflict(_("The specimen has not been received by the lab yet."))
        collected_on = timezone.localdate(specimen.collected_at)
    else:
        collected_on = timezone.localdate()
    patient = order.patient
    values: dict[str, Any] = {
        "patient": patient,
        "item": item,
        "ordering_institution_id": order.ordering_institution_id,
        "performing_institution_id": order.performing_institution_id,
        "collected_on": collected_on,
        "unit": item.unit,
        "origin": ExamResult.Origin.ENTERED,
        "entered_by": user,
        "entered_at": timezone.now(),
    }
    age = reference_ranges.age_in_years(patient.birth_date, collected_on)
    if item.result_type == ExamItem.ResultType.NUMERIC:
        number = _parse_value(value)
        flag, reference = flag_result(
            value=number, limits=limits_of(item), sex=patient.sex, age_years=age
        )
        values.update(value=number, value_text="", flag=flag, reference_text=reference)
    else:
        text = (finding or "").strip()
        if not text:
            raise ValidationError({"finding": _("Describe the finding.")})
        if len(text) > 500:
            raise ValidationError({"finding": _("A finding has at most 500 characters.")})
        flag = ExamResult.Flag.ABNORMAL if is_abnormal else ExamResult.Flag.NORMAL
        values.update(value=None, value_text=text, flag=flag, reference_text="")
    result, _created = ExamResult.objects.update_or_create(
        entry_key=f"item:{order_item.pk}", order_item=order_item, defaults=values
    )
    _post_charge(order_item, collected_on)
    if item.code == CREATININE_CODE:
        _derive_egfr(result=result, order=order, age_years=age)
    return result


def _derive_egfr(*, result: ExamResult, order: ExamOrder, age_years: int) -> None:
    """The order's eGFR from its creatinine, entered by the same person so that the same
    second person verifies both."""
    egfr_item = (
        ExamOrderItem.objects.filter(order=order, item__code=EGFR_CODE)
        .select_related("item")
        .first()
    )
    if egfr_item is None or age_years < 18 or result.value is None:
        return
    patient = order.patient
    egfr = reference_ranges.egfr_ckd_epi_2021(
        creatinine_umol_l=result.value, sex=patient.sex, age_years=age_years
    )
    flag, reference = flag_result(
        value=egfr, limits=limits_of(egfr_item.item), sex=patient.sex, age_years=age_years
    )
    ExamResult.objects.update_or_create(
        entry_key=f"item:{egfr_item.pk}",
        order_item=egfr_item,
        defaults={
            "patient": patient,
            "item": egfr_item.item,
            "ordering_institution_id": order.ordering_institution_id,
            "performing_institution_id": order.performing_institution_id,
            "collected_on": result.collected_on,
            "value": egfr,
            "value_text": "",
            "unit": egfr_item.item.unit,
            "flag": flag,
            "reference_text": reference,
            "origin": ExamResult.Origin.CALCULATED,
            "entered_by": result.entered_by,
            "entered_at": result.entered_at,
        },
    )


@transaction.atomic
def verify_result(*, user: Any, result: ExamResult) -> ExamResult:
    """A second lab technician of the performing institution releases the result: from now
    on the ordering institution, the regulators and the patient see it. A critical value
    raises an alert on the ordering institution's worklist. A creatinine's eGFR is released
    with it."""
    result = ExamResult.objects.select_for_update().get(pk=result.pk)
    _require_role(
        user,
        [result.performing_institution_id],
        frozenset({Role.LAB_TECHNICIAN}),
        _("Only lab technicians of the performing institution verify results."),
    )
    if result.origin == ExamResult.Origin.CALCULATED:
        raise ExamStateConflict(_("A calculated result is verified with its source result."))
    if result.verified_at is not None:
        raise ExamStateConflict(_("This result has already been verified."))
    if result.entered_by_id is not None and result.entered_by_id == user.pk:
        raise ValidationError(
            {
                "verified_by": _(
                    "A result is verified by a second person, not the one who entered it."
                )
            }
        )
    now = timezone.now()
    released = [result]
    order_item = result.order_item
    if order_item is not None and result.item.code == CREATININE_CODE:
        released += list(
            ExamResult.objects.select_for_update().filter(
                order_item__order_id=order_item.order_id,
                item__code=EGFR_CODE,
                verified_at__isnull=True,
            )
        )
    for row in released:
        row.verified_by = user
        row.verified_at = now
        row.save(update_fields=["verified_by", "verified_at"])
        if row.is_critical:
            CriticalValueAlert.objects.get_or_create(
                result=row,
                defaults={"institution_id": row.ordering_institution_id, "raised_at": now},
            )
    return result


@transaction.atomic
def verify_results(*, user: Any, result_ids: Sequence[int]) -> int:
    """Release many results at once (a lab system's import, the worklist's "verify selected"):
    the same rules as :func:`verify_result`, checked for the whole set before anything is
    written, in a few queries however many results. Results already verified are left as they
    are. Returns how many were released, creatinine's eGFRs included."""
    rows = list(
        ExamResult.objects.select_for_update(of=("self",))
        .filter(pk__in=list(result_ids), verified_at__isnull=True)
        .exclude(origin=ExamResult.Origin.CALCULATED)
        .select_related("item", "order_item")
    )
    for institution_id in sorted({row.performing_institution_id for row in rows}):
        _require_role(
            user,
            [institution_id],
            frozenset({Role.LAB_TECHNICIAN}),
            _("Only lab technicians of the performing institution verify results."),
        )
    if any(row.entered_by_id is not None and row.entered_by_id == user.pk for row in rows):
        raise ValidationError(
            {
                "verified_by": _(
                    "A result is verified by a second person, not the one who entered it."
                )
            }
        )
    orders = [
        row.order_item.order_id
        for row in rows
        if row.order_item is not None and row.item.code == CREATININE_CODE
    ]
    egfrs = list(
        ExamResult.objects.select_for_update(of=("self",)).filter(
            order_item__order_id__in=orders, item__code=EGFR_CODE, verified_at__isnull=True
        )
    )
    released = rows + egfrs
    now = timezone.now()
    ExamResult.objects.filter(pk__in=[row.pk for row in released]).update(
        verified_by=user, verified_at=now
    )
    CriticalValueAlert.objects.bulk_create(
        [
            CriticalValueAlert(
                result_id=row.pk, institution_id=row.ordering_institution_id, raised_at=now
            )
            for row in released
            if row.is_critical
        ],
        ignore_conflicts=True,
    )
    return len(released)


@transaction.atomic
def acknowledge_critical_alert(
    *, user: Any, alert: CriticalValueAlert, action_taken: str
) -> CriticalValueAlert:
    """A clinician of the ordering institution records what was done about a critical value;
    the alert then leaves the worklist."""
    alert = CriticalValueAlert.objects.select_for_update().get(pk=alert.pk)
    _require_role(
        user,
        [alert.institution_id],
        CLINICAL_ROLES,
        _("Only clinicians of the ordering institution acknowledge critical values."),
    )
    if alert.acknowledged_at is not None:
        raise ExamStateConflict(_("This critical value has already been acknowledged."))
    text = (action_taken or "").strip()
    if not text:
        raise ValidationError(
            {"action_taken": _("Say what was done: the patient informed, treatment changed…")}
        )
    if len(text) > 300:
        raise ValidationError({"action_taken": _("At most 300 characters.")})
    alert.acknowledged_by = user
    alert.acknowledged_at = timezone.now()
    alert.action_taken = text
    alert.save(update_fields=["acknowledged_by", "acknowledged_at", "action_taken"])
    return alert
