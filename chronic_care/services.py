"""Every change chronic care makes: recording follow-ups, and enrolling, transferring and ending
diabetes enrolments.

DiabetesEnrollment belongs to cloud_management, which holds its invariants (one enrolment per
resident on any day, the diagnosis code, the staff of the institution) in its own services
(enrolling is ``cloud_management.services.enrol_patient``, on the enrolment admin's add form);
the transfer and end services here are the care programme's entry points to them and add what
the programme needs on top (an end reason from the BPHS list). Each service is keyword-only, runs in
one transaction, and raises ``ValidationError`` naming the field, or ``PermissionDenied``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chronic_care.models import FollowUp
from chronic_care.snapshots import invalidate_follow_ups, invalidate_institutions
from cloud_management import services as registry_services
from cloud_management.access import editable_by, institutions_editable_by, may_see, scope_of
from cloud_management.models import DiabetesEnrollment, Institution, Patient

Actor = User | AnonymousUser


class EndReason(models.TextChoices):
    """Why a resident leaves diabetes management (BPHS: death, moving away, loss to follow-up,
    refusal, a revised diagnosis)."""

    DIED = "died", gettext_lazy("died")
    MOVED_AWAY = "moved_away", gettext_lazy("moved out of the area")
    LOST_TO_FOLLOW_UP = "lost", gettext_lazy("lost to follow-up")
    DECLINED = "declined", gettext_lazy("declined management")
    DIAGNOSIS_REVISED = "diagnosis_revised", gettext_lazy("diagnosis revised")
    OTHER = "other", gettext_lazy("other reason")


# --- Follow-ups ---------------------------------------------------------------------------------


def _check_recorder(user: Actor, *, patient: Patient, institution: Institution) -> None:
    if not scope_of(user).may_write:
        raise PermissionDenied(_("You may not record follow-ups."))
    if not institutions_editable_by(user).filter(pk=institution.pk).exists():
        raise ValidationError(
            {"institution": _("You may not record follow-ups at this institution.")}
        )
    if not may_see(user, patient):
        # Worded the same whether the resident exists elsewhere or not at all.
        raise ValidationError({"patient": _("Select a valid choice.")})


def _validate(follow_up: FollowUp) -> None:
    errors: dict[str, list[str]] = {}
    if follow_up.date is not None and follow_up.date > timezone.localdate():
        errors.setdefault("date", []).append(_("A follow-up cannot be in the future."))
    unknown = set(follow_up.symptom_codes) - set(FollowUp.Symptom.values)
    if unknown:
        errors.setdefault("symptoms", []).append(_("Choose symptoms from the list."))
    if errors:
        raise ValidationError(errors)
    follow_up.full_clean()


@transaction.atomic
def record_follow_up(
    *,
    user: Actor,
    patient: Patient,
    institution: Institution,
    date: dt.date,
    mode: str,
    outcome: str,
    symptoms: list[str] | tuple[str, ...] = (),
    fbg: Decimal | None = None,
    hba1c: Decimal | None = None,
    systolic: int | None = None,
    diastolic: int | None = None,
    weight_kg: Decimal | None = None,
    height_cm: Decimal | None = None,
    medication_adherence: str = "",
    next_date: dt.date | None = None,
    is_referred: bool = False,
    referral_to: str = "",
    referral_reason: str = "",
) -> FollowUp:
    """Record a diabetes follow-up given at ``institution``; the urgent-referral flag follows
    from the values (BPHS, held by the database)."""
    _check_recorder(user, patient=patient, institution=institution)
    follow_up = FollowUp(
        patient=patient,
        institution=institution,
        date=date,
        mode=mode,
        outcome=outcome,
        symptoms=",".join(dict.fromkeys(symptoms)),
        fbg=fbg,
        hba1c=hba1c,
        systolic=systolic,
        diastolic=diastolic,
        weight_kg=weight_kg,
        height_cm=height_cm,
        medication_adherence=medication_adherence,
        next_date=next_date,
        is_referred=is_referred,
        referral_to=referral_to.strip(),
        referral_reason=referral_reason.strip(),
        recorded_by=user if isinstance(user, User) else None,
    )
    _validate(follow_up)
    try:
        with transaction.atomic():
            follow_up.save()
    except IntegrityError as exc:
        # Another follow-up of the resident that day was saved since full_clean() looked.
        raise ValidationError(
            {"date": _("The resident already has a follow-up on this day.")}
        ) from exc
    follow_up.refresh_from_db(fields=["needs_urgent_referral"])
    invalidate_follow_ups([(patient.pk, date)])
    return follow_up


# Fields a follow-up's record may change afterwards; the resident and the date are its key.
CHANGEABLE_FIELDS = (
    "institution",
    "mode",
    "outcome",
    "symptoms",
    "fbg",
    "hba1c",
    "systolic",
    "diastolic",
    "weight_kg",
    "height_cm",
    "medication_adherence",
    "next_date",
    "is_referred",
    "referral_to",
    "referral_reason",
)


@transaction.atomic
def update_follow_up(*, user: Actor, follow_up: FollowUp, **changes: object) -> FollowUp:
    """Correct a recorded follow-up (not its resident or date)."""
    unknown = set(changes) - set(CHANGEABLE_FIELDS)
    if unknown:
        raise ValidationError(
            {name: _("This field cannot be changed.") for name in sorted(unknown)}
        )
    if not editable_by(user, FollowUp.objects.filter(pk=follow_up.pk)).exists():
        raise PermissionDenied(_("You may not change this follow-up."))
    current = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    for name, value in changes.items():
        if name == "symptoms" and isinstance(value, list | tuple):
            value = ",".join(dict.fromkeys(str(code) for code in value))
        setattr(current, name, value)
    if "institution" in changes:
        _check_recorder(user, patient=current.patient, institution=current.institution)
    _validate(current)
    current.save()
    current.refresh_from_db(fields=["needs_urgent_referral"])
    invalidate_follow_ups([(current.patient_id, current.date)])
    return current


# --- Enrolments ---------------------------------------------------------------------------------


def transfer_enrolment(
    *,
    user: Actor,
    enrolment: DiabetesEnrollment,
    to_institution: Institution,
    transfer_on: dt.date,
    responsible_doctor: User | None = None,
    health_manager: User | None = None,
    reason: str = "",
) -> DiabetesEnrollment:
    """Transfer a running enrolment to another institution on ``transfer_on``: the old
    enrolment's last day is the day before, the new one starts that day, so the resident is
    enrolled exactly once on every day (the database's no-overlap rule). Returns the new
    enrolment."""
    with transaction.atomic():
        new = registry_services.transfer_enrolment(
            user=user,
            enrolment=enrolment,
            to_institution=to_institution,
            transfer_on=transfer_on,
            responsible_doctor=responsible_doctor,
            health_manager=health_manager,
            reason=reason,
        )
        # The old enrolment's figures change from its new last day on, the new one's from its
        # first.
        invalidate_institutions(
            {enrolment.institution_id, new.institution_id}, transfer_on - dt.timedelta(days=1)
        )
    return new


def end_enrolment(
    *,
    user: Actor,
    enrolment: DiabetesEnrollment,
    ended_on: dt.date,
    reason: str,
    note: str = "",
) -> DiabetesEnrollment:
    """End a running enrolment on ``ended_on`` (its last covered day) for one of the
    :class:`EndReason` reasons; ``other`` needs a note."""
    if reason not in EndReason.values:
        raise ValidationError({"reason": _("Choose why the enrolment ends.")})
    note = note.strip()
    if reason == EndReason.OTHER and not note:
        raise ValidationError({"note": _("Say why the enrolment ends.")})
    label = str(EndReason(reason).label)
    text = f"{label}: {note}" if note else label
    limit = DiabetesEnrollment._meta.get_field("end_reason").max_length or 200
    if len(text) > limit:
        raise ValidationError(
            {"note": _("Keep the note under %(count)d characters.") % {"count": limit - 20}}
        )
    with transaction.atomic():
        # Only a running enrolment can be ended (the registry refuses the rest): the stored
        # figures change from its new last day on.
        ended = registry_services.end_enrolment(
            user=user, enrolment=enrolment, ended_on=ended_on, reason=text
        )
        invalidate_institutions([ended.institution_id], ended_on)
    return ended
