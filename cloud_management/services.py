"""Every change to the registry's residents, contracts and enrolments, and patient logins.

Each service is keyword-only, runs in one transaction, checks the acting user's rights through
:mod:`cloud_management.access` (``editable_by`` / ``institutions_editable_by``) and validates the
rows (``full_clean``) before it writes them. Bad input raises ``ValidationError`` naming the
field; a user without the right raises ``PermissionDenied``. The staff admin, the API and the
management commands all call these functions.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from cloud_management.access import (
    editable_by,
    institutions_editable_by,
    may_see,
    scope_of,
)
from cloud_management.identifiers import normalize_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)

# The acting user, as request.user types it (the project keeps Django's User model).
Actor = User | AnonymousUser


class StateConflict(ValidationError):
    """The request conflicts with the record's current state (a full slot, a cancelled booking,
    a blocked prescription): the API answers 409 (CONTRACTS §3). Apps' own conflicts subclass
    it, so every API maps them the same way (cloud_management.api.service_calls)."""


# Mobile (11 digits) or landline numbers, optionally with a country code and hyphens.
_PHONE = re.compile(r"^\+?[0-9][0-9-]{5,19}$")
# ICD-10 diabetes mellitus codes by diabetes type: E10 type 1, E11 type 2, and E12-E14 and
# O24 (in pregnancy) for the other kinds (ICD-10 chapter IV, WHO 2019).
_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,2})?$")
_DIAGNOSIS_PREFIXES: dict[str, tuple[str, ...]] = {
    DiabetesEnrollment.DiabetesType.TYPE_1: ("E10",),
    DiabetesEnrollment.DiabetesType.TYPE_2: ("E11",),
    DiabetesEnrollment.DiabetesType.OTHER: ("E12", "E13", "E14", "O24"),
}
# Plausible baseline ranges; values outside them are typing errors, not patients.
_FBG_RANGE = (Decimal("1.0"), Decimal("50.0"))
_HBA1C_RANGE = (Decimal("3.0"), Decimal("20.0"))


# --- Rights ----------------------------------------------------------------------------------


def _require_writer(user: Actor) -> None:
    if not scope_of(user).may_write:
        raise PermissionDenied(_("You may not change the registry."))


def _require_editable(user: Actor, obj: models.Model) -> None:
    """The row must be one the user may change; regulators and patients change nothing."""
    _require_writer(user)
    if not editable_by(user, type(obj)._default_manager.filter(pk=obj.pk)).exists():
        raise PermissionDenied(_("You may not change this record."))


def _check_institution(user: Actor, institution: Institution, *, field: str) -> None:
    if not institutions_editable_by(user).filter(pk=institution.pk).exists():
        raise ValidationError(
            {field: _("You may not record residents, contracts or enrolments at this institution.")}
        )
    if not institution.is_active:
        raise ValidationError({field: _("The institution is no longer active.")})


def _check_visible(user: Actor, obj: models.Model, *, field: str) -> None:
    # Worded the same whether the row exists elsewhere or not at all.
    if not may_see(user, obj):
        raise ValidationError({field: _("Select a valid choice.")})


def _check_phone(phone: str) -> None:
    if phone and not _PHONE.match(phone):
        raise ValidationError(
            {
                "phone": _(
                    "Enter a phone number of 6 to 20 digits (hyphens and a leading + allowed)."
                )
            }
        )


def _check_range(value: Decimal | None, bounds: tuple[Decimal, Decimal], *, field: str) -> None:
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise ValidationError(
            {
                field: _("Enter a value from %(low)s to %(high)s.")
                % {"low": bounds[0], "high": bounds[1]}
            }
        )


def _check_staff(
    user: User | None, *, institution: Institution, roles: Iterable[str], field: str
) -> None:
    if user is None:
        return
    if not StaffRole.objects.filter(
        user=user, institution=institution, role__in=list(roles)
    ).exists():
        raise ValidationError(
            {field: _("Choose a member of the institution's staff with this role.")}
        )


def _locked(queryset: models.QuerySet[Any], pk: Any) -> Any:
    """The row, locked until the transaction ends (a no-op on SQLite, which locks the file)."""
    return queryset.select_for_update().get(pk=pk)


# --- Residents -------------------------------------------------------------------------------


def register_patient(
    *,
    user: Actor,
    resident_id: str,
    name: str,
    sex: str,
    birth_date: dt.date,
    home_institution: Institution,
    insurance_type: str,
    district: District | None = None,
    phone: str = "",
    address: str = "",
    insurance_number: str = "",
) -> Patient:
    """Register a resident at an institution the user may edit; the district defaults to the
    institution's. The resident ID must verify and agree with the birth date and sex."""
    _require_writer(user)
    with transaction.atomic():
        _check_institution(user, home_institution, field="home_institution")
        district = district or home_institution.district
        _check_visible(user, district, field="district")
        phone = phone.strip()
        _check_phone(phone)
        patient = Patient(
            resident_id=normalize_resident_id(resident_id),
            name=name.strip(),
            sex=sex,
            birth_date=birth_date,
            phone=phone,
            address=address.strip(),
            district=district,
            home_institution=home_institution,
            insurance_type=insurance_type,
            insurance_number=insurance_number.strip(),
        )
        patient.full_clean()
        patient.save()
    return patient


def update_patient(
    *,
    user: Actor,
    patient: Patient,
    resident_id: str | None = None,
    name: str | None = None,
    sex: str | None = None,
    birth_date: dt.date | None = None,
    phone: str | None = None,
    address: str | None = None,
    district: District | None = None,
    home_institution: Institution | None = None,
    insurance_type: str | None = None,
    insurance_number: str | None = None,
) -> Patient:
    """Change a resident's record; ``None`` leaves a field as it is. Moving the resident to
    another home institution needs the right to edit there too."""
    _require_editable(user, patient)
    with transaction.atomic():
        current: Patient = _locked(Patient.objects.all(), patient.pk)
        if home_institution is not None and home_institution.pk != current.home_institution_id:
            _check_institution(user, home_institution, field="home_institution")
            current.home_institution = home_institution
        if district is not None and district.pk != current.district_id:
            _check_visible(user, district, field="district")
            current.district = district
        if phone is not None:
            phone = phone.strip()
            _check_phone(phone)
            if current.user_id is not None and phone != current.phone:
                # The login's username is the phone number (CONTRACTS §2).
                raise ValidationError(
                    {"phone": _("The resident has a login named after this phone number.")}
                )
            current.phone = phone
        if resident_id is not None:
            current.resident_id = normalize_resident_id(resident_id)
        for field, value in (
            ("name", name),
            ("address", address),
            ("insurance_number", insurance_number),
        ):
            if value is not None:
                setattr(current, field, value.strip())
        for field, raw in (
            ("sex", sex),
            ("birth_date", birth_date),
            ("insurance_type", insurance_type),
        ):
            if raw is not None:
                setattr(current, field, raw)
        current.full_clean()
        current.save()
    return current


# --- Family-doctor contracts -----------------------------------------------------------------


def sign_contract(
    *,
    user: Actor,
    patient: Patient,
    institution: Institution,
    signed_on: dt.date,
    ended_on: dt.date | None = None,
) -> FamilyDoctorContract:
    """Sign a family-doctor contract (家庭医生签约). A resident holds one contract at a time."""
    _require_writer(user)
    with transaction.atomic():
        _check_visible(user, patient, field="patient")
        _check_institution(user, institution, field="institution")
        _locked(Patient.objects.all(), patient.pk)
        contract = FamilyDoctorContract(
            patient=patient, institution=institution, signed_on=signed_on, ended_on=ended_on
        )
        # clean() refuses a contract sharing a day with another one of the resident's.
        contract.full_clean()
        contract.save()
    return contract


def end_contract(
    *, user: Actor, contract: FamilyDoctorContract, ended_on: dt.date
) -> FamilyDoctorContract:
    """End a running contract on ``ended_on`` (the last day it covers)."""
    _require_editable(user, contract)
    with transaction.atomic():
        current: FamilyDoctorContract = _locked(FamilyDoctorContract.objects.all(), contract.pk)
        if current.ended_on is not None:
            raise ValidationError(
                {
                    "ended_on": _("The contract already ended on %(day)s.")
                    % {"day": current.ended_on}
                }
            )
        if ended_on < current.signed_on:
            raise ValidationError({"ended_on": _("A contract cannot end before it is signed.")})
        current.ended_on = ended_on
        current.full_clean()
        current.save(update_fields=["ended_on"])
    return current


# --- Diabetes enrolments ---------------------------------------------------------------------


def _normalize_diagnosis(diagnosis_code: str, diabetes_type: str) -> str:
    code = diagnosis_code.strip().upper()
    if not _ICD10.match(code):
        raise ValidationError({"diagnosis_code": _("Enter an ICD-10 code such as E11.9.")})
    prefixes = _DIAGNOSIS_PREFIXES.get(diabetes_type)
    if prefixes is not None and not code.startswith(prefixes):
        raise ValidationError(
            {
                "diagnosis_code": _(
                    "The ICD-10 code must start with %(prefixes)s for this diabetes type."
                )
                % {"prefixes": " / ".join(prefixes)}
            }
        )
    return code


def enrol_patient(
    *,
    user: Actor,
    patient: Patient,
    institution: Institution,
    diabetes_type: str,
    diagnosis_code: str,
    enrolled_on: dt.date,
    ended_on: dt.date | None = None,
    responsible_doctor: User | None = None,
    health_manager: User | None = None,
    baseline_fbg: Decimal | None = None,
    baseline_hba1c: Decimal | None = None,
) -> DiabetesEnrollment:
    """Enrol a resident in the diabetes outpatient special disease (门特) programme at an
    institution, under a responsible doctor and health manager of that institution. One
    enrolment per resident on any day (checked here and held by the database)."""
    _require_writer(user)
    with transaction.atomic():
        _check_visible(user, patient, field="patient")
        _check_institution(user, institution, field="institution")
        _locked(Patient.objects.all(), patient.pk)
        code = _normalize_diagnosis(diagnosis_code, diabetes_type)
        _check_staff(
            responsible_doctor,
            institution=institution,
            roles=[StaffRole.Role.DOCTOR],
            field="responsible_doctor",
        )
        _check_staff(
            health_manager,
            institution=institution,
            roles=[StaffRole.Role.HEALTH_MANAGER],
            field="health_manager",
        )
        _check_range(baseline_fbg, _FBG_RANGE, field="baseline_fbg")
        _check_range(baseline_hba1c, _HBA1C_RANGE, field="baseline_hba1c")
        enrolment = DiabetesEnrollment(
            patient=patient,
            institution=institution,
            diabetes_type=diabetes_type,
            diagnosis_code=code,
            enrolled_on=enrolled_on,
            ended_on=ended_on,
            responsible_doctor=responsible_doctor,
            health_manager=health_manager,
            baseline_fbg=baseline_fbg,
            baseline_hba1c=baseline_hba1c,
        )
        enrolment.full_clean()
        enrolment.save()
    return enrolment


def end_enrolment(
    *, user: Actor, enrolment: DiabetesEnrollment, ended_on: dt.date, reason: str = ""
) -> DiabetesEnrollment:
    """End a running enrolment on ``ended_on`` (the last day it covers)."""
    _require_editable(user, enrolment)
    with transaction.atomic():
        current: DiabetesEnrollment = _locked(DiabetesEnrollment.objects.all(), enrolment.pk)
        if current.ended_on is not None:
            raise ValidationError(
                {
                    "ended_on": _("The enrolment already ended on %(day)s.")
                    % {"day": current.ended_on}
                }
            )
        if ended_on < current.enrolled_on:
            raise ValidationError({"ended_on": _("An enrolment cannot end before it starts.")})
        current.ended_on = ended_on
        current.end_reason = reason.strip()
        current.full_clean()
        current.save(update_fields=["ended_on", "end_reason"])
    return current


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
    """Move a running enrolment to another institution: the old one ends the day before
    ``transfer_on`` and the new one starts that day, so the resident is enrolled exactly once
    on every day. Returns the new enrolment; the user must be able to edit both sides."""
    _require_editable(user, enrolment)
    with transaction.atomic():
        current: DiabetesEnrollment = _locked(DiabetesEnrollment.objects.all(), enrolment.pk)
        _check_institution(user, to_institution, field="to_institution")
        if to_institution.pk == current.institution_id:
            raise ValidationError(
                {"to_institution": _("The enrolment is already at this institution.")}
            )
        if transfer_on <= current.enrolled_on or not current.is_active_on(transfer_on):
            raise ValidationError(
                {
                    "transfer_on": _(
                        "The transfer date must fall after the enrolment starts and while it runs."
                    )
                }
            )
        _check_staff(
            responsible_doctor,
            institution=to_institution,
            roles=[StaffRole.Role.DOCTOR],
            field="responsible_doctor",
        )
        _check_staff(
            health_manager,
            institution=to_institution,
            roles=[StaffRole.Role.HEALTH_MANAGER],
            field="health_manager",
        )
        planned_end = current.ended_on
        current.ended_on = transfer_on - dt.timedelta(days=1)
        current.end_reason = reason.strip() or _("Transferred to %(institution)s.") % {
            "institution": to_institution.name
        }
        current.full_clean()
        successor = DiabetesEnrollment(
            patient_id=current.patient_id,
            institution=to_institution,
            diabetes_type=current.diabetes_type,
            diagnosis_code=current.diagnosis_code,
            enrolled_on=transfer_on,
            ended_on=planned_end,
            responsible_doctor=responsible_doctor,
            health_manager=health_manager,
            baseline_fbg=current.baseline_fbg,
            baseline_hba1c=current.baseline_hba1c,
        )
        # The successor is validated once the current row is shortened (its overlap check
        # would see the old end otherwise); a failure rolls both back.
        current.save(update_fields=["ended_on", "end_reason"])
        successor.full_clean()
        successor.save()
    return successor


# --- Patient logins --------------------------------------------------------------------------


def create_patient_account(*, patient: Patient, password: str, user: Actor | None = None) -> User:
    """Create the login a registered resident uses on the patient pages: the username is the
    resident's phone number (CONTRACTS §2). ``user`` is the acting staff member, if any; the
    management command acts as the platform operator."""
    if user is not None:
        _require_editable(user, patient)
    user_model = get_user_model()
    with transaction.atomic():
        current: Patient = _locked(Patient.objects.all(), patient.pk)
        if current.user_id is not None:
            raise ValidationError({"user": _("The resident already has a login.")})
        phone = current.phone.strip()
        if not phone:
            raise ValidationError(
                {"phone": _("The resident has no phone number; the login is named after it.")}
            )
        if user_model._default_manager.filter(**{user_model.USERNAME_FIELD: phone}).exists():
            raise ValidationError({"phone": _("A login with this phone number already exists.")})
        account = user_model(**{user_model.USERNAME_FIELD: phone})
        try:
            validate_password(password, account)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        account.set_password(password)
        account.full_clean(exclude=["password"])
        account.save()
        current.user = account
        current.save(update_fields=["user"])
    patient.user = account
    return account
