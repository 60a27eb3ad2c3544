"""Every state change of cloud_services (STYLE.md 4.3): book, cancel, assess, confirm, assign a
nurse, record the visit's steps, complete (posting the charge), no-show; generate slots from
the weekly templates; tell patients their results are ready.

The booking's life (ISSUE 5)::

    requested → confirmed → assigned → on_the_way → arrived → [specimen_collected] → completed
    requested | confirmed | assigned → cancelled (the place returns to the slot)
    assigned | on_the_way | arrived → no_show

Capacity is held by the database: booking takes a place with one conditional
``UPDATE … SET booked = booked + 1 WHERE booked < capacity`` (row-locked by the UPDATE itself
on PostgreSQL, serialised writes on SQLite) in the same statement (PostgreSQL) or transaction
(SQLite) as the booking's row, backed by the check constraint ``booked <= capacity``; the
partial unique constraint keeps one active booking per patient per slot. Every step writes a
:class:`VisitEvent` with who and when, and the patient's SMS goes out only after the
transaction commits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from contextlib import nullcontext
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_exams.models import ExamOrder, ExamOrderItem, ExamResult
from cloud_exams.services import collect_specimen, order_exams
from cloud_management.access import roles_at
from cloud_management.models import Institution, Patient, StaffRole
from cloud_management.services import StateConflict
from cloud_services import notifications
from cloud_services.models import (
    Booking,
    FirstVisitAssessment,
    ServiceItem,
    ServiceSlot,
    SlotTemplate,
    VisitEvent,
)
from payments.models import ClaimLine
from payments.services.reimbursement import post_reimbursed_charge

Role = StaffRole.Role
Status = Booking.Status
# Staff of the slot's institution who run the day's bookings.
MANAGING_ROLES = frozenset({Role.NURSE, Role.DOCTOR, Role.HEALTH_MANAGER, Role.INSTITUTION_ADMIN})
MOBILE_PHONE = re.compile(r"^1[3-9]\d{9}$")


class BookingConflict(StateConflict):
    """The action does not fit the current state (a full slot, a cancelled booking…); 409."""


class SlotFull(BookingConflict):
    """No place is left in the slot."""


# --- who may act ----------------------------------------------------------------------------


def may_manage(user: Any, institution_id: int) -> bool:
    """Whether the user runs home services at the institution (or is a platform operator)."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return True
    return bool(roles_at(user, institution_id) & MANAGING_ROLES)


def _require_manager(user: Any, institution_id: int) -> None:
    if not may_manage(user, institution_id):
        raise PermissionDenied(_("Only the institution's staff run its home-service bookings."))


def patient_of(user: Any) -> Patient:
    """The patient record behind a patient's login, or PermissionDenied."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied(_("Log in to book a home service."))
    try:
        # Loaded with the user by the API's token authentication (no query then).
        patient: Patient = user.patient
    except Patient.DoesNotExist:
        raise PermissionDenied(
            _("Only registered residents with a login book home services.")
        ) from None
    return patient


# --- booking --------------------------------------------------------------------------------


def needs_first_visit_assessment(
    *, patient: Patient, institution_id: int, item: ServiceItem
) -> bool:
    """Whether the institution must assess the patient before the first visit for this service
    (the 2019 "Internet + nursing" pilot rules): no suitable assessment is on record yet."""
    return not FirstVisitAssessment.objects.filter(
        patient=patient, institution_id=institution_id, item=item, is_suitable=True
    ).exists()


def _booking_errors(
    *,
    slot: ServiceSlot | None,
    item: ServiceItem | None,
    is_offered: bool,
    address: str,
    phone: str,
    notes: str,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if slot is None:
        errors["slot"] = _("There is no such slot.")
    else:
        now = timezone.localtime()
        if slot.date < now.date() or (slot.date == now.date() and slot.end <= now.time()):
            errors["slot"] = _("This slot is over; choose a later one.")
    if item is None:
        errors["item"] = _("There is no such home service.")
    elif slot is not None and not is_offered:
        errors["item"] = _("This home service is not offered in the chosen slot.")
    if not address.strip():
        errors["address"] = _("Enter the address where the nurse should come.")
    elif len(address) > 200:
        errors["address"] = _("An address has at most 200 characters.")
    if not MOBILE_PHONE.match(phone.strip()):
        errors["phone"] = _("Enter an 11-digit mobile phone number, for example 13912345678.")
    if len(notes) > 500:
        errors["notes"] = _("Notes have at most 500 characters.")
    return errors


def book_home_service(
    *,
    user: Any,
    slot_id: int,
    item_code: str,
    address: str,
    phone: str,
    notes: str = "",
    patient: Patient | None = None,
) -> Booking:
    """Book a home service for the logged-in patient, or, with ``patient``, for a resident who
    telephoned the institution (its staff book for them): take one place in the slot, or
    refuse with :class:`SlotFull` when none is left."""
    try:
        return _book(
            user=user,
            patient=patient,
            slot_id=slot_id,
            item_code=item_code,
            address=address,
            phone=phone,
            notes=notes,
        )
    except IntegrityError as exc:
        # The patient already holds an active booking in the slot (perhaps from a concurrent
        # request): the partial unique constraint refused the second row, and the write's
        # rollback gave the place back. (Caught outside the write, so it needs no savepoint.)
        raise BookingConflict(_("You already have a booking in this time slot.")) from exc


# The booking's statements are written in SQL (the read through ``Model.objects.raw()``): the
# ORM spent about 1.2 ms of CPU compiling them on every booking, a fifth of what a booking may
# cost in all at 300 bookings/s on two cores (docs/benchmarks/booking.md). They run on
# PostgreSQL and SQLite alike.
#
# The slot with its institution's code and, in the same row, the active service of that code
# (NULL when there is none), whether the slot offers it, and whether the patient's first-visit
# assessment for it at the institution is on record. The fee comes as text: SQLite hands extra
# columns over unconverted.
_SLOT_AND_ITEM_SQL = """
    SELECT slot.*, institution.code AS institution_code,
        item.id AS item_pk, CAST(item.fee AS TEXT) AS item_fee,
        EXISTS (
            SELECT 1 FROM cloud_services_serviceslot_items offer
            WHERE offer.serviceslot_id = slot.id AND offer.serviceitem_id = item.id
        ) AS is_offered,
        EXISTS (
            SELECT 1 FROM cloud_services_firstvisitassessment assessment
            WHERE assessment.patient_id = %(patient)s
                AND assessment.institution_id = slot.institution_id
                AND assessment.item_id = item.id AND assessment.is_suitable
        ) AS is_assessed
    FROM cloud_services_serviceslot slot
    JOIN cloud_management_institution institution ON institution.id = slot.institution_id
    LEFT JOIN cloud_services_serviceitem item ON item.code = %(item)s AND item.is_active
    WHERE slot.id = %(slot)s
"""
_TAKE_PLACE_SQL = """
    UPDATE cloud_services_serviceslot SET booked = booked + 1
    WHERE id = %s AND booked < capacity
"""
_CENTS = Decimal("0.01")


def _book(
    *,
    user: Any,
    patient: Patient | None,
    slot_id: int,
    item_code: str,
    address: str,
    phone: str,
    notes: str,
) -> Booking:
    booking_for_resident = patient is not None
    if patient is None:
        patient = patient_of(user)
    # The read needs no transaction: each statement reads committed rows (as it would inside
    # one at READ COMMITTED), and the write below re-checks the places left.
    values = {"slot": slot_id, "item": item_code, "patient": patient.pk}
    slot = next(iter(ServiceSlot.objects.raw(_SLOT_AND_ITEM_SQL, values)), None)
    if slot is None:
        item = ServiceItem.objects.filter(code=item_code, is_active=True).first()
        is_offered = False
    else:
        if booking_for_resident:
            _require_manager(user, slot.institution_id)
        # The institution and the service as far as the booking needs them (their other fields
        # load when read, as deferred fields do).
        db = slot._state.db
        slot.institution = Institution.from_db(
            db,
            ["id", "code"],
            [slot.institution_id, getattr(slot, "institution_code")],  # noqa: B009
        )
        item_pk, fee = getattr(slot, "item_pk"), getattr(slot, "item_fee")  # noqa: B009
        item = (
            None
            if item_pk is None
            else ServiceItem.from_db(
                db, ["id", "code", "fee"], [item_pk, item_code, Decimal(fee).quantize(_CENTS)]
            )
        )
        is_offered = bool(getattr(slot, "is_offered"))  # noqa: B009
    errors = _booking_errors(
        slot=slot,
        item=item,
        is_offered=is_offered,
        address=address,
        phone=phone,
        notes=notes,
    )
    if errors or slot is None or item is None:
        raise ValidationError(errors)
    booking = Booking(
        patient=patient,
        slot=slot,
        item=item,
        address=address.strip(),
        phone=phone.strip(),
        notes=notes.strip(),
        fee=item.fee,
        needs_assessment=not getattr(slot, "is_assessed"),  # noqa: B009 (the query's extra column)
        booked_by=user,
    )
    event = VisitEvent(booking=booking, status=Status.REQUESTED, at=timezone.now(), by=user)
    if not _take_place_and_write(booking, event):
        if _holds_active_booking(patient=patient, slot_id=slot.pk):
            raise BookingConflict(_("You already have a booking in this time slot."))
        raise SlotFull(_("This time slot is fully booked; choose another one."))
    return booking


def _take_place_and_write(booking: Booking, event: VisitEvent) -> bool:
    """Take one place in the booking's slot and write the booking and its first event, all or
    nothing; False when no place is left. A second active booking of the patient in the slot
    is refused by the partial unique constraint (IntegrityError), which gives the place back.

    The conditional UPDATE takes the place atomically: concurrent bookings queue on the slot's
    row and re-check ``booked < capacity`` against the committed value.
    """
    if connection.vendor == "postgresql":
        return _take_place_and_write_in_one_statement(booking, event)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_TAKE_PLACE_SQL, [booking.slot_id])
            if cursor.rowcount != 1:
                return False
        booking.save(force_insert=True)
        event.save(force_insert=True)
    return True


def _take_place_and_write_in_one_statement(booking: Booking, event: VisitEvent) -> bool:
    # PostgreSQL takes the place and writes both rows in one statement, atomic by itself: a
    # booking outside a transaction is one round trip instead of five (BEGIN, UPDATE, two
    # INSERTs, COMMIT) and needs no ORM save; together about 0.7 ms less CPU per booking for
    # the web worker and PostgreSQL (docs/benchmarks/booking.md). The rows get the values
    # save() would write (defaults, auto_now fields).
    booking_columns, booking_values = _insert_columns(booking)
    event_columns, event_values = _insert_columns(event, leave_out="booking_id")
    sql = f"""
        WITH place AS ({_TAKE_PLACE_SQL} RETURNING id),
        new_booking AS (
            INSERT INTO cloud_services_booking ({", ".join(booking_columns)})
            SELECT {", ".join(["%s"] * len(booking_values))} FROM place
            RETURNING id
        )
        INSERT INTO cloud_services_visitevent (booking_id, {", ".join(event_columns)})
        SELECT new_booking.id, {", ".join(["%s"] * len(event_values))} FROM new_booking
        RETURNING booking_id, id
    """
    # Inside a caller's transaction a refused row must not abort it: a savepoint then.
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(sql, [booking.slot_id, *booking_values, *event_values])
        written = cursor.fetchone()
    if written is None:
        return False
    booking.pk, event.pk = written
    event.booking_id = booking.pk
    for row in (booking, event):
        row._state.adding = False
        row._state.db = connection.alias
    return True


def _insert_columns(row: models.Model, *, leave_out: str = "") -> tuple[list[str], list[Any]]:
    """The quoted columns and database values that save() would insert for ``row`` (setting
    its auto_now fields as save() does); a NULL value is left to the column's NULL."""
    columns, values = [], []
    for field in row._meta.local_concrete_fields:
        if field.primary_key or field.attname == leave_out:
            continue
        value = field.get_db_prep_save(field.pre_save(row, True), connection)
        if value is not None:
            columns.append(connection.ops.quote_name(str(field.column)))
            values.append(value)
    return columns, values


def _holds_active_booking(*, patient: Patient, slot_id: int) -> bool:
    return Booking.objects.filter(
        patient=patient, slot_id=slot_id, status__in=Booking.ACTIVE_STATUSES
    ).exists()


def _locked(booking_id: int) -> Booking:
    return (
        Booking.objects.select_for_update(of=("self",))
        .select_related("slot", "slot__institution", "item", "patient")
        .get(pk=booking_id)
    )


def _conflict(booking: Booking) -> BookingConflict:
    return BookingConflict(
        _("This booking is %(status)s; that step is not possible now.")
        % {"status": booking.get_status_display()}
    )


def _advance(
    *,
    booking: Booking,
    user: Any,
    allowed: tuple[str, ...],
    to: str,
    note: str = "",
    check: Callable[[Booking], None] | None = None,
) -> Booking:
    """Move a locked booking from one of ``allowed`` to ``to`` and record the step."""
    locked = _locked(booking.pk)
    _require_manager(user, locked.slot.institution_id)
    if locked.status not in allowed:
        raise _conflict(locked)
    if check is not None:
        check(locked)
    locked.status = to
    locked.save(update_fields=["status", "updated_at"])
    VisitEvent.objects.create(booking=locked, status=to, at=timezone.now(), by=user, note=note)
    return locked


def _return_place(slot_id: int) -> None:
    ServiceSlot.objects.filter(pk=slot_id, booked__gt=0).update(booked=F("booked") - 1)


@transaction.atomic
def cancel_booking(*, user: Any, booking: Booking, reason: str = "") -> Booking:
    """Cancel a booking until a nurse is on the way; the place returns to the slot. The patient
    cancels their own booking, the institution's staff any of its bookings."""
    locked = _locked(booking.pk)
    is_owner = locked.patient.user_id is not None and locked.patient.user_id == getattr(
        user, "pk", None
    )
    if not is_owner:
        _require_manager(user, locked.slot.institution_id)
    if locked.status not in Booking.CANCELLABLE_STATUSES:
        raise _conflict(locked)
    if len(reason) > 200:
        raise ValidationError({"reason": _("A reason has at most 200 characters.")})
    locked.status = Status.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    _return_place(locked.slot_id)
    VisitEvent.objects.create(
        booking=locked, status=Status.CANCELLED, at=timezone.now(), by=user, note=reason
    )
    return locked


@transaction.atomic
def record_first_visit_assessment(
    *, user: Any, booking: Booking, is_suitable: bool, note: str = ""
) -> FirstVisitAssessment:
    """The institution's assessment before the first visit for a service. An unsuitable
    assessment cancels the booking (the place returns) with the assessment's note."""
    locked = _locked(booking.pk)
    _require_manager(user, locked.slot.institution_id)
    if locked.status != Status.REQUESTED:
        raise _conflict(locked)
    if len(note) > 500:
        raise ValidationError({"note": _("An assessment note has at most 500 characters.")})
    if not is_suitable and not note.strip():
        raise ValidationError({"note": _("Say why home service is not suitable.")})
    assessment, _created = FirstVisitAssessment.objects.update_or_create(
        patient=locked.patient,
        institution=locked.slot.institution,
        item=locked.item,
        defaults={
            "is_suitable": is_suitable,
            "note": note.strip(),
            "assessed_by": user,
            "assessed_at": timezone.now(),
            "booking": locked,
        },
    )
    if not is_suitable:
        locked.status = Status.CANCELLED
        locked.save(update_fields=["status", "updated_at"])
        _return_place(locked.slot_id)
        VisitEvent.objects.create(
            booking=locked, status=Status.CANCELLED, at=timezone.now(), by=user, note=note
        )
    return assessment


def _require_assessment(booking: Booking) -> None:
    if booking.needs_assessment and needs_first_visit_assessment(
        patient=booking.patient, institution_id=booking.slot.institution_id, item=booking.item
    ):
        raise BookingConflict(
            _("Record the first-visit assessment before confirming the first booking.")
        )


@transaction.atomic
def confirm_booking(*, user: Any, booking: Booking) -> Booking:
    """The institution accepts the booking (after the first-visit assessment where needed)."""
    confirmed = _advance(
        booking=booking,
        user=user,
        allowed=(Status.REQUESTED,),
        to=Status.CONFIRMED,
        check=_require_assessment,
    )
    notifications.booking_confirmed(confirmed)
    return confirmed


def qualified_nurses(booking: Booking) -> Any:
    """Users who may perform the booking's service at its institution (their StaffRole there
    is the service's performing role)."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        ._default_manager.filter(
            is_active=True,
            pk__in=StaffRole.objects.filter(
                institution_id=booking.slot.institution_id, role=booking.item.performing_role
            ).values("user_id"),
        )
        .order_by("last_name", "first_name", "username")
    )


@transaction.atomic
def assign_nurse(*, user: Any, booking: Booking, nurse: Any) -> Booking:
    """Give the confirmed booking to a qualified nurse (reassigning is allowed until the nurse
    sets off)."""
    locked = _locked(booking.pk)
    _require_manager(user, locked.slot.institution_id)
    if locked.status not in (Status.CONFIRMED, Status.ASSIGNED):
        raise _conflict(locked)
    if nurse is None or not qualified_nurses(locked).filter(pk=nurse.pk).exists():
        raise ValidationError(
            {
                "nurse": _("Choose a %(role)s of %(institution)s to perform this service.")
                % {
                    "role": locked.item.get_performing_role_display(),
                    "institution": locked.slot.institution.name,
                }
            }
        )
    locked.status = Status.ASSIGNED
    locked.nurse = nurse
    locked.save(update_fields=["status", "nurse", "updated_at"])
    VisitEvent.objects.create(
        booking=locked,
        status=Status.ASSIGNED,
        at=timezone.now(),
        by=user,
        note=notifications.display_name(nurse),
    )
    notifications.nurse_assigned(locked)
    return locked


@transaction.atomic
def start_visit(*, user: Any, booking: Booking) -> Booking:
    """The nurse sets off; from now on the patient can no longer cancel."""
    started = _advance(booking=booking, user=user, allowed=(Status.ASSIGNED,), to=Status.ON_THE_WAY)
    notifications.nurse_on_the_way(started)
    return started


@transaction.atomic
def record_arrival(*, user: Any, booking: Booking) -> Booking:
    """The nurse is at the patient's home."""
    return _advance(booking=booking, user=user, allowed=(Status.ON_THE_WAY,), to=Status.ARRIVED)


def _require_specimen_item(booking: Booking) -> None:
    if not booking.item.requires_specimen:
        raise BookingConflict(_("This home service collects no specimen."))


@transaction.atomic
def record_specimen_collected(
    *, user: Any, booking: Booking, collected_at: dt.datetime | None = None
) -> Booking:
    """The nurse has drawn the blood (or taken the sample): the exam order and its specimens
    are created in cloud_exams, collected by the nurse, and their barcodes recorded here."""
    collected = _advance(
        booking=booking,
        user=user,
        allowed=(Status.ARRIVED,),
        to=Status.SPECIMEN_COLLECTED,
        check=_require_specimen_item,
    )
    codes = list(collected.item.exam_items.order_by("code").values_list("code", flat=True))
    order = order_exams(
        ordered_by=None,
        patient=collected.patient,
        ordering_institution=collected.slot.institution,
        item_codes=codes,
        source=ExamOrder.Source.HOME_SERVICE,
        source_ref=f"booking:{collected.pk}",
        clinical_note=collected.item.name,
    )
    barcodes = []
    for specimen in order.specimens.order_by("barcode"):
        collect_specimen(user=user, specimen=specimen, collected_at=collected_at)
        barcodes.append(specimen.barcode)
    collected.exam_order = order
    collected.specimen_barcode = ", ".join(barcodes)
    collected.save(update_fields=["exam_order", "specimen_barcode", "updated_at"])
    VisitEvent.objects.filter(booking=collected, status=Status.SPECIMEN_COLLECTED).update(
        note=collected.specimen_barcode[:200]
    )
    return collected


def _require_specimen_if_needed(booking: Booking) -> None:
    if booking.item.requires_specimen and booking.status != Status.SPECIMEN_COLLECTED:
        raise BookingConflict(_("Record the collected specimen before completing the visit."))


def _post_charge(booking: Booking, service_date: dt.date) -> ClaimLine:
    """The service's charge, once per booking: covered services split by the reimbursement
    ratio in force, self-paid ones with nothing from the fund (STYLE.md 4.6 rule 3)."""
    common: dict[str, Any] = {
        "source": ClaimLine.Source.CLOUD_SERVICES,
        "source_ref": f"booking:{booking.pk}",
        "patient": booking.patient,
        "institution": booking.slot.institution,
        "service_date": service_date,
        "category": ClaimLine.Category.HOME_SERVICE,
        "diagnosis_code": "",
    }
    line, _split = post_reimbursed_charge(
        **common,
        total_amount=booking.fee,
        covered_amount=booking.fee if booking.item.is_covered else Decimal("0.00"),
    )
    return line


@transaction.atomic
def complete_visit(*, user: Any, booking: Booking) -> Booking:
    """The visit is done: the charge goes to the claim ledger in the same transaction."""
    completed = _advance(
        booking=booking,
        user=user,
        allowed=(Status.ARRIVED, Status.SPECIMEN_COLLECTED),
        to=Status.COMPLETED,
        check=_require_specimen_if_needed,
    )
    completed.claim_line = _post_charge(completed, timezone.localdate())
    completed.save(update_fields=["claim_line", "updated_at"])
    return completed


@transaction.atomic
def record_no_show(*, user: Any, booking: Booking, note: str = "") -> Booking:
    """No one was at home; the place is not returned (the nurse's time was spent)."""
    if len(note) > 200:
        raise ValidationError({"note": _("A note has at most 200 characters.")})
    return _advance(
        booking=booking,
        user=user,
        allowed=(Status.ASSIGNED, Status.ON_THE_WAY, Status.ARRIVED),
        to=Status.NO_SHOW,
        note=note,
    )


# --- results ready --------------------------------------------------------------------------


def notify_results_ready() -> int:
    """Text each patient whose home-collected specimens all have verified results, once per
    booking (``result_notified_at``); returns how many were told. Idempotent."""
    unverified = ExamOrderItem.objects.filter(order_id=OuterRef("exam_order_id")).exclude(
        Exists(ExamResult.objects.filter(order_item_id=OuterRef("pk"), verified_at__isnull=False))
    )
    ready_ids = list(
        Booking.objects.filter(exam_order__isnull=False, result_notified_at__isnull=True)
        .exclude(Q(status=Status.CANCELLED) | Q(status=Status.NO_SHOW))
        .exclude(Exists(unverified))
        .values_list("pk", flat=True)
    )
    told = 0
    for booking_id in ready_ids:
        with transaction.atomic():
            booking = (
                Booking.objects.select_for_update(of=("self",))
                .select_related("item")
                .filter(pk=booking_id, result_notified_at__isnull=True)
                .first()
            )
            if booking is None:
                continue
            booking.result_notified_at = timezone.now()
            booking.save(update_fields=["result_notified_at"])
            notifications.result_ready(booking)
            told += 1
    return told


# --- slots ----------------------------------------------------------------------------------


@transaction.atomic
def generate_slots(*, templates: Any, date_from: dt.date, date_to: dt.date) -> list[ServiceSlot]:
    """Create the slots the active weekly templates describe between two dates (inclusive);
    a slot already there for the same institution, day and start is left as it is."""
    if date_to < date_from:
        raise ValidationError({"date_to": _("The last day comes after the first.")})
    if (date_to - date_from).days >= 62:
        raise ValidationError({"date_to": _("Generate at most 62 days of slots at a time.")})
    created: list[ServiceSlot] = []
    template_list = list(
        SlotTemplate.objects.filter(pk__in=[t.pk for t in templates], is_active=True)
        .prefetch_related("items")
        .order_by("institution_id", "weekday", "start")
    )
    day = date_from
    while day <= date_to:
        for template in template_list:
            if template.weekday != day.weekday():
                continue
            slot, was_created = ServiceSlot.objects.get_or_create(
                institution_id=template.institution_id,
                date=day,
                start=template.start,
                defaults={"end": template.end, "capacity": template.capacity, "template": template},
            )
            if was_created:
                slot.items.set(template.items.all())
                created.append(slot)
        day += dt.timedelta(days=1)
    return created
