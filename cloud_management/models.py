"""The shared registry every cloud stands on (DESIGN.md "The data")."""

import datetime as dt
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cloud_management.identifiers import (
    ResidentIdError,
    birth_date_of,
    mask_resident_id,
    sex_of,
    validate_resident_id,
)


class District(models.Model):
    """An administrative district (区) with its six-digit division code (GB/T 2260)."""

    code = models.CharField(_("division code"), max_length=6, unique=True)
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class Institution(models.Model):
    """A primary-care institution of the health community, or a hospital that leads it."""

    class Kind(models.TextChoices):
        COMMUNITY_CENTRE = "community_centre", _("community health service centre")
        TOWNSHIP_CENTRE = "township_centre", _("township health centre")
        VILLAGE_CLINIC = "village_clinic", _("village clinic")
        DIGITAL_HOSPITAL = "digital_hospital", _("digital hospital")
        GENERAL_HOSPITAL = "general_hospital", _("general hospital")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="institutions", verbose_name=_("district")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    is_chronic_care_centre = models.BooleanField(_("chronic-care centre"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["district", "code"], name="institution_district_code"),
            models.Index(fields=["kind", "code"], name="institution_kind_code"),
            models.Index(fields=["name"], name="institution_name"),
        ]

    def __str__(self) -> str:
        return self.name


class StaffRole(models.Model):
    """What one user may do and see: a role at one institution, or a regulator's scope.

    Staff roles carry an institution; regulator roles carry a district, or none for the city.
    """

    class Role(models.TextChoices):
        DOCTOR = "doctor", _("doctor")
        NURSE = "nurse", _("nurse")
        PHARMACIST = "pharmacist", _("pharmacist")
        LAB_TECHNICIAN = "lab_technician", _("lab technician")
        HEALTH_MANAGER = "health_manager", _("health manager")
        INSTITUTION_ADMIN = "institution_admin", _("institution administrator")
        REGULATOR = "regulator", _("regulator")

    class Agency(models.TextChoices):
        HEALTH_COMMISSION = "health_commission", _("health commission")
        INSURANCE_BUREAU = "insurance_bureau", _("medical insurance bureau")

    # Roles that may register residents and record contracts and enrolments.
    REGISTRY_EDITORS = frozenset(
        {Role.DOCTOR, Role.NURSE, Role.HEALTH_MANAGER, Role.INSTITUTION_ADMIN}
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_roles",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_roles",
        verbose_name=_("institution"),
    )
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="regulator_roles",
        verbose_name=_("regulated district"),
        help_text=_("Regulators only: empty means the whole city."),
    )
    agency = models.CharField(_("agency"), max_length=20, choices=Agency.choices, blank=True)

    class Meta:
        verbose_name = _("staff role")
        verbose_name_plural = _("staff roles")
        ordering = ["user_id", "role"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="regulator", institution__isnull=True) & ~Q(agency="")
                    | (~Q(role="regulator") & Q(institution__isnull=False, district__isnull=True))
                ),
                name="staffrole_staff_has_institution_regulator_has_agency",
                violation_error_message=_(
                    "Staff roles need an institution; regulator roles need an agency and no "
                    "institution."
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "institution"],
                condition=Q(institution__isnull=False),
                name="staffrole_one_role_per_institution",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(role="regulator"),
                name="staffrole_one_regulator_scope_per_user",
            ),
        ]

    def __str__(self) -> str:
        where = self.institution or self.district or _("whole city")
        return f"{self.user} · {self.get_role_display()} · {where}"

    @property
    def is_regulator(self) -> bool:
        return self.role == self.Role.REGULATOR


class Patient(models.Model):
    """A resident of the community. ``resident_id`` is never shown whole outside its record."""

    class Sex(models.TextChoices):
        MALE = "M", _("male")
        FEMALE = "F", _("female")

    class InsuranceType(models.TextChoices):
        EMPLOYEE = "employee", _("employee basic medical insurance")
        RESIDENT = "resident", _("urban and rural resident medical insurance")

    resident_id = models.CharField(_("resident ID"), max_length=18, unique=True)
    # A person's name (姓名), not a thing's (名称).
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="patients", verbose_name=_("district")
    )
    home_institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="registered_patients",
        verbose_name=_("home institution"),
    )
    insurance_type = models.CharField(
        _("insurance type"), max_length=10, choices=InsuranceType.choices
    )
    insurance_number = models.CharField(_("insurance number"), max_length=32, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        verbose_name=_("patient login"),
    )

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["-id"]
        indexes = [
            # Every admin filter and ordering has an index that ends in the ordering column.
            models.Index(fields=["home_institution", "id"], name="patient_institution_id"),
            models.Index(fields=["district", "id"], name="patient_district_id"),
            models.Index(fields=["insurance_type", "id"], name="patient_insurance_id"),
            models.Index(fields=["sex", "id"], name="patient_sex_id"),
            # varchar_pattern_ops serves the admin's name-prefix search (LIKE 'x%') on
            # PostgreSQL under any collation, as well as equality; other databases ignore it.
            models.Index(
                fields=["name"], name="patient_name_prefix", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["phone"], name="patient_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.masked_resident_id}）"

    @property
    def masked_resident_id(self) -> str:
        return mask_resident_id(self.resident_id)

    def clean(self) -> None:
        try:
            self.resident_id = validate_resident_id(self.resident_id)
        except ResidentIdError as exc:
            # The reasons are marked with gettext_noop in identifiers.py.
            reason = _(str(exc))
            raise ValidationError(
                {"resident_id": _("The resident ID %(reason)s.") % {"reason": reason}}
            ) from exc
        errors = {}
        if self.birth_date and self.birth_date != birth_date_of(self.resident_id):
            errors["birth_date"] = _("The birth date does not agree with the resident ID.")
        if self.sex and self.sex != sex_of(self.resident_id):
            errors["sex"] = _("The sex does not agree with the resident ID.")
        if errors:
            raise ValidationError(errors)


_Span = TypeVar("_Span", bound=models.QuerySet[Any])


def _overlapping(
    rows: _Span, *, start_field: str, patient_id: int, start: dt.date, end: dt.date | None
) -> _Span:
    """The patient's rows running from ``start_field`` to ``ended_on`` (both included; no end:
    still running) that share at least one day with [start, end]."""
    qs = rows.filter(patient_id=patient_id).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=start)
    )
    if end is not None:
        qs = qs.filter(**{f"{start_field}__lte": end})
    return qs


class FamilyDoctorContractQuerySet(models.QuerySet["FamilyDoctorContract"]):
    def overlapping(
        self, *, patient_id: int, start: dt.date, end: dt.date | None
    ) -> "FamilyDoctorContractQuerySet":
        """Contracts of the patient sharing at least one day with [start, end]."""
        return _overlapping(
            self, start_field="signed_on", patient_id=patient_id, start=start, end=end
        )


class DiabetesEnrollmentQuerySet(models.QuerySet["DiabetesEnrollment"]):
    def overlapping(
        self, *, patient_id: int, start: dt.date, end: dt.date | None
    ) -> "DiabetesEnrollmentQuerySet":
        """Enrolments of the patient sharing at least one day with [start, end]."""
        return _overlapping(
            self, start_field="enrolled_on", patient_id=patient_id, start=start, end=end
        )


class FamilyDoctorContract(models.Model):
    """A family-doctor signing (家庭医生签约) of a resident with an institution. A resident holds
    one contract at a time: an exclusion constraint on PostgreSQL and triggers on SQLite
    (migration 0004) hold it in the database."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="contracts", verbose_name=_("resident")
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="contracts",
        verbose_name=_("institution"),
    )
    signed_on = models.DateField(_("signed on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)

    objects = FamilyDoctorContractQuerySet.as_manager()

    class Meta:
        verbose_name = _("family-doctor contract")
        verbose_name_plural = _("family-doctor contracts")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "signed_on"], name="contract_one_per_patient_start"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("signed_on")),
                name="contract_ends_after_start",
                violation_error_message=_("A contract cannot end before it is signed."),
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "id"], name="contract_institution_id"),
            models.Index(fields=["institution", "patient"], name="contract_institution_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.institution} · {self.signed_on}"

    def is_active_on(self, day: dt.date) -> bool:
        return self.signed_on <= day and (self.ended_on is None or day <= self.ended_on)

    def clean(self) -> None:
        """A resident holds one contract at a time, wherever it is signed (the database holds
        the rule too: migration 0004)."""
        if self.patient_id is None or self.signed_on is None:
            return
        if self.ended_on is not None and self.ended_on < self.signed_on:
            raise ValidationError({"ended_on": _("A contract cannot end before it is signed.")})
        overlapping = FamilyDoctorContract.objects.overlapping(
            patient_id=self.patient_id, start=self.signed_on, end=self.ended_on
        )
        if overlapping.exclude(pk=self.pk).exists():
            raise ValidationError(
                {
                    "signed_on": _(
                        "The resident already has a family-doctor contract on one of these days."
                    )
                }
            )


class DiabetesEnrollment(models.Model):
    """A diabetes outpatient-special-disease (门特) enrolment under health-supervisor
    responsibility. A resident has at most one enrolment on any day: an exclusion constraint on
    PostgreSQL and triggers on SQLite (migration 0002) hold it in the database."""

    class DiabetesType(models.TextChoices):
        TYPE_1 = "T1", _("type 1 diabetes")
        TYPE_2 = "T2", _("type 2 diabetes")
        OTHER = "other", _("other diabetes")

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="enrolments", verbose_name=_("resident")
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("responsible institution"),
    )
    responsible_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("responsible doctor"),
    )
    health_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("health manager"),
    )
    diabetes_type = models.CharField(_("diabetes type"), max_length=5, choices=DiabetesType.choices)
    diagnosis_code = models.CharField(_("ICD-10 code"), max_length=10)
    enrolled_on = models.DateField(_("enrolled on"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    end_reason = models.CharField(_("end reason"), max_length=200, blank=True)
    baseline_fbg = models.DecimalField(
        _("baseline fasting glucose (mmol/L)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
    )
    baseline_hba1c = models.DecimalField(
        _("baseline HbA1c (%)"), max_digits=4, decimal_places=1, null=True, blank=True
    )

    objects = DiabetesEnrollmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("diabetes enrolment")
        verbose_name_plural = _("diabetes enrolments")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "enrolled_on"], name="enrolment_one_per_patient_start"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("enrolled_on")),
                name="enrolment_ends_after_start",
                violation_error_message=_("An enrolment cannot end before it starts."),
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "id"], name="enrolment_institution_id"),
            models.Index(fields=["institution", "patient"], name="enrolment_institution_patient"),
            models.Index(fields=["diabetes_type", "id"], name="enrolment_type_id"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.institution} · {self.enrolled_on}"

    def is_active_on(self, day: dt.date) -> bool:
        return self.enrolled_on <= day and (self.ended_on is None or day <= self.ended_on)

    def clean(self) -> None:
        if self.patient_id is None or self.enrolled_on is None:
            return
        if self.ended_on is not None and self.ended_on < self.enrolled_on:
            raise ValidationError({"ended_on": _("An enrolment cannot end before it starts.")})
        overlapping = DiabetesEnrollment.objects.overlapping(
            patient_id=self.patient_id, start=self.enrolled_on, end=self.ended_on
        ).exclude(pk=self.pk)
        if overlapping.exists():
            raise ValidationError(
                {"enrolled_on": _("The resident already has an enrolment on one of these days.")}
            )
