"""Home services for the small demo (ISSUE 5), appended to ``small.STEPS``.

- Nurses: two home-visit nurses beside the ``nurse`` login at the demo institution, and one at
  each other community centre of its district (no password, like the institutions' doctors).
- Slots: weekly templates at those institutions (mornings for blood draws and specimens,
  afternoons for nursing care, Monday to Saturday) and the slots they give from today for two
  weeks.
- Bookings at the demo institution in every status, made through the same services the
  patients and staff use (so the places, visit events, exam orders and claim lines are real;
  the other residents telephoned the centre, whose nurse booked for them, so no logins are
  added):
  requested, confirmed, assigned, on the way, arrived, specimen collected, completed, cancelled
  and no-show. The visits in progress use the earliest slot still open (today's, or
  tomorrow's late in the evening).
- The demo patient: a completed tacrolimus blood draw whose result the laboratory has verified
  (so the whole path shows on their pages) and a blood draw booked for next week.

Running it again adds nothing: templates and slots are keyed by institution, day and start,
and the bookings are made only when the demo institution has none yet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db.models import F
from django.test import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_exams.models import ExamOrderItem, ExamResult, Specimen
from cloud_exams.services import enter_result, receive_specimen, verify_result
from cloud_management.models import Institution, Patient, StaffRole
from cloud_services import services
from cloud_services.models import Booking, ServiceItem, ServiceSlot, SlotTemplate
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE
from healthcommunity.demo.steps import SeedContext, Step

SLOT_DAYS = 14
OTHER_CENTRES = 2
# (start, end, places, services): Monday to Saturday.
WINDOWS = (
    (
        dt.time(7, 30),
        dt.time(10, 0),
        6,
        (
            "HS-BLD-TAC",
            "HS-BLD-CSA",
            "HS-BLD-DM",
            "HS-BLD-RENAL",
            "HS-BLD-LIPID",
            "HS-BLD-LIVER",
            "HS-URINE",
            "HS-GLU",
        ),
    ),
    (
        dt.time(14, 0),
        dt.time(17, 0),
        4,
        (
            "HS-WOUND",
            "HS-PICC",
            "HS-FOLEY-CARE",
            "HS-NGT-CARE",
            "HS-PU",
            "HS-STOMA",
            "HS-IM",
            "HS-INSULIN",
            "HS-GLU",
            "HS-REHAB-LIMB",
        ),
    ),
)
# (username, surname, given name) of the home-visit nurses at the demo institution.
DEMO_NURSES = (("home_nurse_1", "孙", "晓燕"), ("home_nurse_2", "周", "静"))
DEMO_ADDRESS = "天津市南开区长江道{n}号{b}-{f}0{u}"
TAC_TROUGH = "7.8"


def _institutions() -> list[Institution]:
    demo = Institution.objects.filter(code=DEMO_INSTITUTION_CODE).first()
    if demo is None:
        return []
    others = list(
        Institution.objects.filter(
            district_id=demo.district_id, kind=Institution.Kind.COMMUNITY_CENTRE, is_active=True
        )
        .exclude(pk=demo.pk)
        .order_by("code")[:OTHER_CENTRES]
    )
    return [demo, *others]


def _nurse(username: str, last_name: str, first_name: str, institution: Institution) -> Any:
    user, _created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "password": make_password(None),
            "last_name": last_name,
            "first_name": first_name,
            "is_staff": True,
        },
    )
    StaffRole.objects.get_or_create(user=user, role=StaffRole.Role.NURSE, institution=institution)
    return user


def seed_home_service_slots(ctx: SeedContext) -> None:
    institutions = _institutions()
    if not institutions:
        ctx.log(_("Home services: no demo institution; skipped."))
        return
    demo, *others = institutions
    for username, last_name, first_name in DEMO_NURSES:
        _nurse(username, last_name, first_name, demo)
    for other in others:
        _nurse(f"home_nurse_{other.code.lower()}", "吴", "丽", other)
    items = {item.code: item for item in ServiceItem.objects.filter(is_active=True)}
    templates = []
    for institution in institutions:
        for weekday in range(6):
            for start, end, places, codes in WINDOWS:
                template, created = SlotTemplate.objects.get_or_create(
                    institution=institution,
                    weekday=weekday,
                    start=start,
                    defaults={"end": end, "capacity": places},
                )
                if created:
                    template.items.set([items[code] for code in codes if code in items])
                templates.append(template)
    today = timezone.localdate()
    created_slots = services.generate_slots(
        templates=templates, date_from=today, date_to=today + dt.timedelta(days=SLOT_DAYS - 1)
    )
    ctx.log(
        _("Home services: %(templates)d weekly templates, %(slots)d new slots.")
        % {"templates": len(templates), "slots": len(created_slots)}
    )


def _open_slots(institution: Institution, code: str) -> list[ServiceSlot]:
    now = timezone.localtime()
    return [
        slot
        for slot in ServiceSlot.objects.filter(
            institution=institution,
            date__gte=now.date(),
            items__code=code,
            booked__lt=F("capacity"),
        ).order_by("date", "start")
        if slot.date > now.date() or slot.end > now.time()
    ]


def _book(
    patient: Patient, slot: ServiceSlot, code: str, n: int, staff: Any, notes: str = ""
) -> Booking:
    """The demo patient books on their phone; other residents telephoned the centre, whose
    nurse booked for them (so the demo adds no logins)."""
    by_phone = patient.user_id is None
    return services.book_home_service(
        user=staff if by_phone else patient.user,
        patient=patient if by_phone else None,
        slot_id=slot.pk,
        item_code=code,
        address=patient.address or DEMO_ADDRESS.format(n=10 + n, b=1 + n % 6, f=1 + n % 7, u=1),
        phone=patient.phone,
        notes=notes,
    )


def _advance(booking: Booking, status: str, staff: Any, nurse: Any) -> Booking:
    """Take a requested booking through the staff's steps up to ``status``."""
    order = [
        Booking.Status.CONFIRMED,
        Booking.Status.ASSIGNED,
        Booking.Status.ON_THE_WAY,
        Booking.Status.ARRIVED,
        Booking.Status.SPECIMEN_COLLECTED,
        Booking.Status.COMPLETED,
    ]
    if status == Booking.Status.CANCELLED:
        services.cancel_booking(user=staff, booking=booking, reason="家属来电取消。")
        return booking
    if status == Booking.Status.NO_SHOW:
        status_path = order[:3]
    else:
        status_path = order[: order.index(Booking.Status(status)) + 1] if status in order else []
    for step in status_path:
        if step == Booking.Status.CONFIRMED:
            if booking.needs_assessment:
                services.record_first_visit_assessment(
                    user=staff,
                    booking=booking,
                    is_suitable=True,
                    note="电话评估：病情稳定，居家条件适合。",
                )
            services.confirm_booking(user=staff, booking=booking)
        elif step == Booking.Status.ASSIGNED:
            services.assign_nurse(user=staff, booking=booking, nurse=nurse)
        elif step == Booking.Status.ON_THE_WAY:
            services.start_visit(user=nurse, booking=booking)
        elif step == Booking.Status.ARRIVED:
            services.record_arrival(user=nurse, booking=booking)
        elif step == Booking.Status.SPECIMEN_COLLECTED:
            if booking.item.requires_specimen:
                services.record_specimen_collected(user=nurse, booking=booking)
        elif step == Booking.Status.COMPLETED:
            services.complete_visit(user=nurse, booking=booking)
    if status == Booking.Status.NO_SHOW:
        services.record_no_show(user=nurse, booking=booking, note="电话无人接听，敲门无人应答。")
    return booking


# (status, service) of the other residents' bookings at the demo institution.
PLAN = (
    (Booking.Status.REQUESTED, "HS-BLD-DM"),
    (Booking.Status.REQUESTED, "HS-WOUND"),
    (Booking.Status.CONFIRMED, "HS-BLD-RENAL"),
    (Booking.Status.ASSIGNED, "HS-PICC"),
    (Booking.Status.ON_THE_WAY, "HS-BLD-LIPID"),
    (Booking.Status.ARRIVED, "HS-PU"),
    (Booking.Status.SPECIMEN_COLLECTED, "HS-BLD-CSA"),
    (Booking.Status.COMPLETED, "HS-FOLEY-CARE"),
    (Booking.Status.COMPLETED, "HS-BLD-DM"),
    (Booking.Status.CANCELLED, "HS-IM"),
    (Booking.Status.NO_SHOW, "HS-GLU"),
)


def seed_home_service_bookings(ctx: SeedContext) -> None:
    # The demo texts nobody: its phone numbers are made up.
    with override_settings(SMS_BACKEND="cloud_services.sms.dummy.SmsBackend"):
        _seed_bookings(ctx)


def _seed_bookings(ctx: SeedContext) -> None:
    institutions = _institutions()
    if not institutions:
        return
    demo = institutions[0]
    if Booking.objects.filter(slot__institution=demo).exists():
        ctx.log(_("Home services: the demo institution already has bookings; none added."))
        return
    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=["nurse", "lab_technician", DEMO_NURSES[0][0], DEMO_NURSES[1][0]]
        )
    }
    staff = users.get("nurse")
    if staff is None:
        ctx.log(_("Home services: the demo nurse login is missing; no bookings added."))
        return
    nurses = [users[name] for name, _s, _g in DEMO_NURSES if name in users] or [staff]
    demo_patient = (
        Patient.objects.filter(resident_id=ctx.demo_patient_resident_id).first()
        if ctx.demo_patient_resident_id
        else None
    )
    # The demo institution's residents first, then its district's.
    candidates = Patient.objects.exclude(phone="")
    if demo_patient is not None:
        candidates = candidates.exclude(pk=demo_patient.pk)
    residents = list(candidates.filter(home_institution=demo).order_by("pk")[: len(PLAN)])
    if len(residents) < len(PLAN):
        residents += list(
            candidates.filter(district_id=demo.district_id)
            .exclude(home_institution=demo)
            .order_by("pk")[: len(PLAN) - len(residents)]
        )
    made = 0
    for n, ((status, code), resident) in enumerate(zip(PLAN, residents, strict=False)):
        slots = _open_slots(demo, code)
        if not slots:
            continue
        # Work in progress and done today: the earliest open slot; waiting ones later.
        slot = (
            slots[0]
            if status not in (Booking.Status.REQUESTED, Booking.Status.CONFIRMED)
            else (slots[min(len(slots) - 1, 2 + n)])
        )
        booking = _book(resident, slot, code, n, staff)
        _advance(booking, status, staff, nurses[n % len(nurses)])
        made += 1
    if demo_patient is not None:
        made += _demo_patient_blood_draws(demo, demo_patient, staff, nurses[0], users)
    ctx.log(_("Home services: %(count)d bookings in every status.") % {"count": made})


def _demo_patient_blood_draws(
    demo: Institution, patient: Patient, staff: Any, nurse: Any, users: dict[str, Any]
) -> int:
    """A completed tacrolimus blood draw with its verified result, and the next one booked."""
    slots = _open_slots(demo, "HS-BLD-TAC")
    if len(slots) < 2:
        return 0
    done = _book(
        patient, slots[0], "HS-BLD-TAC", 0, staff, notes="肺移植术后，复查他克莫司谷浓度。"
    )
    _advance(done, Booking.Status.COMPLETED, staff, nurse)
    done.refresh_from_db()
    lab = users.get("lab_technician")
    verifier = get_user_model().objects.filter(username=f"lab_verifier_{demo.code.lower()}").first()
    if lab is not None and verifier is not None and done.exam_order_id:
        for specimen in Specimen.objects.filter(order_id=done.exam_order_id):
            receive_specimen(user=lab, specimen=specimen)
        for order_item in ExamOrderItem.objects.filter(order_id=done.exam_order_id):
            result = enter_result(user=lab, order_item=order_item, value=TAC_TROUGH)
            verify_result(user=verifier, result=ExamResult.objects.get(pk=result.pk))
        services.notify_results_ready()
    later = [s for s in slots if s.date >= timezone.localdate() + dt.timedelta(days=5)]
    upcoming = _book(patient, (later or slots)[0], "HS-BLD-TAC", 1, staff)
    _advance(upcoming, Booking.Status.ASSIGNED, staff, nurse)
    return 2


STEPS: list[Step] = [seed_home_service_slots, seed_home_service_bookings]
