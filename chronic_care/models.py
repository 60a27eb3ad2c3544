"""Diabetes follow-ups by the national basic public-health service standard (BPHS, 3rd ed.,
"type 2 diabetes patient health management"): mode, symptoms, fasting glucose, HbA1c, blood
pressure, weight and height, medication adherence, outcome class, next date and referral.

Ranges and the urgent-referral flag are held by the database: the flag is a generated column,
so no writer (the admin, the import's COPY path, a shell) can store a flag that disagrees with
the values.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution, Patient

# Plausible ranges (values outside them are typing errors, not patients); the same bounds as
# the enrolment baselines of cloud_management.services.
FBG_RANGE = (Decimal("1.0"), Decimal("50.0"))
HBA1C_RANGE = (Decimal("3.0"), Decimal("20.0"))
SYSTOLIC_RANGE = (50, 300)
DIASTOLIC_RANGE = (30, 200)
WEIGHT_RANGE = (Decimal("20.0"), Decimal("300.0"))
HEIGHT_RANGE = (Decimal("100.0"), Decimal("250.0"))

# BPHS: refer urgently when fasting glucose is ≥ 16.7 or ≤ 3.9 mmol/L, or blood pressure is
# ≥ 180/110 mmHg (systolic ≥ 180 or diastolic ≥ 110).
URGENT_FBG_HIGH = Decimal("16.7")
URGENT_FBG_LOW = Decimal("3.9")
URGENT_SYSTOLIC = 180
URGENT_DIASTOLIC = 110

URGENT_REFERRAL_CONDITION = (
    Q(fbg__gte=URGENT_FBG_HIGH)
    | Q(fbg__lte=URGENT_FBG_LOW)
    | Q(systolic__gte=URGENT_SYSTOLIC)
    | Q(diastolic__gte=URGENT_DIASTOLIC)
)


def _between(field: str, bounds: tuple[object, object]) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(
        **{f"{field}__gte": bounds[0], f"{field}__lte": bounds[1]}
    )


class FollowUp(models.Model):
    """One diabetes follow-up (随访) of a resident, wherever it was given. A resident has at
    most one follow-up a day: the natural key of the ``followups`` import (CONTRACTS §1)."""

    class Mode(models.TextChoices):
        CLINIC = "clinic", _("clinic visit")
        HOME = "home", _("home visit")
        PHONE = "phone", _("phone call")
        ONLINE = "online", _("online")

    # BPHS counts only face-to-face contact (CONTRACTS §5).
    FACE_TO_FACE_MODES = (Mode.CLINIC, Mode.HOME)

    class Outcome(models.TextChoices):
        CONTROLLED = "controlled", _("controlled")
        UNCONTROLLED = "uncontrolled", _("uncontrolled")
        ADVERSE_REACTION = "adverse_reaction", _("adverse drug reaction")
        COMPLICATION = "complication", _("new or worsening complication")

    class Adherence(models.TextChoices):
        REGULAR = "regular", _("takes medication regularly")
        INTERMITTENT = "intermittent", _("takes medication intermittently")
        NONE = "none", _("does not take medication")

    class Symptom(models.TextChoices):
        """The symptoms the BPHS follow-up form lists."""

        POLYDIPSIA = "polydipsia", _("excessive thirst")
        POLYPHAGIA = "polyphagia", _("excessive hunger")
        POLYURIA = "polyuria", _("frequent urination")
        BLURRED_VISION = "blurred_vision", _("blurred vision")
        INFECTION = "infection", _("infection")
        NUMBNESS = "numbness", _("numb hands or feet")
        OEDEMA = "oedema", _("swollen legs")
        WEIGHT_LOSS = "weight_loss", _("marked weight loss")

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="+", verbose_name=_("resident")
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("institution"),
        help_text=_("Where the follow-up was given."),
    )
    date = models.DateField(_("date"))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices)
    symptoms = models.CharField(
        _("symptoms"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated symptom codes; empty when there are none."),
    )
    fbg = models.DecimalField(
        _("fasting glucose (mmol/L)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    hba1c = models.DecimalField(
        _("HbA1c (%)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    systolic = models.PositiveSmallIntegerField(_("systolic (mmHg)"), null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(_("diastolic (mmHg)"), null=True, blank=True)
    weight_kg = models.DecimalField(
        _("weight (kg)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    height_cm = models.DecimalField(
        _("height (cm)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    medication_adherence = models.CharField(
        _("medication adherence"), max_length=12, choices=Adherence.choices, blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    next_date = models.DateField(_("next follow-up"), null=True, blank=True)
    is_referred = models.BooleanField(_("referred"), default=False)
    referral_to = models.CharField(_("referred to"), max_length=100, blank=True)
    referral_reason = models.CharField(_("referral reason"), max_length=200, blank=True)
    needs_urgent_referral = models.GeneratedField(
        expression=models.Case(
            models.When(URGENT_REFERRAL_CONDITION, then=models.Value(True)),
            default=models.Value(False),
            output_field=models.BooleanField(),
        ),
        output_field=models.BooleanField(),
        db_persist=True,
        verbose_name=_("urgent referral"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        verbose_name = _("diabetes follow-up")
        verbose_name_plural = _("diabetes follow-ups")
        ordering = ["-date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "date"], name="followup_one_per_day"),
            models.CheckConstraint(
                condition=_between("fbg", FBG_RANGE),
                name="followup_fbg_range",
                violation_error_message=_("Fasting glucose must be from 1.0 to 50.0 mmol/L."),
            ),
            models.CheckConstraint(
                condition=_between("hba1c", HBA1C_RANGE),
                name="followup_hba1c_range",
                violation_error_message=_("HbA1c must be from 3.0 to 20.0 %."),
            ),
            models.CheckConstraint(
                condition=_between("systolic", SYSTOLIC_RANGE),
                name="followup_systolic_range",
                violation_error_message=_("Systolic pressure must be from 50 to 300 mmHg."),
            ),
            models.CheckConstraint(
                condition=_between("diastolic", DIASTOLIC_RANGE),
                name="followup_diastolic_range",
                violation_error_message=_("Diastolic pressure must be from 30 to 200 mmHg."),
            ),
            models.CheckConstraint(
                condition=Q(systolic__isnull=True, diastolic__isnull=True)
                | Q(
                    systolic__isnull=False,
                    diastolic__isnull=False,
                    systolic__gt=models.F("diastolic"),
                ),
                name="followup_blood_pressure_pair",
                violation_error_message=_(
                    "Record both blood pressures, the systolic above the diastolic, or neither."
                ),
            ),
            models.CheckConstraint(
                condition=_between("weight_kg", WEIGHT_RANGE),
                name="followup_weight_range",
                violation_error_message=_("Weight must be from 20.0 to 300.0 kg."),
            ),
            models.CheckConstraint(
                condition=_between("height_cm", HEIGHT_RANGE),
                name="followup_height_range",
                violation_error_message=_("Height must be from 100.0 to 250.0 cm."),
            ),
            models.CheckConstraint(
                condition=Q(next_date__isnull=True) | Q(next_date__gt=models.F("date")),
                name="followup_next_after_date",
                violation_error_message=_("The next follow-up must come after this one."),
            ),
            models.CheckConstraint(
                condition=Q(is_referred=True) | Q(referral_to="", referral_reason=""),
                name="followup_referral_details_need_referral",
                violation_error_message=_("Referral details need the referral to be marked."),
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "date"], name="followup_institution_date"),
            models.Index(fields=["date", "patient"], name="followup_date_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.date} · {self.get_mode_display()}"

    @property
    def is_face_to_face(self) -> bool:
        return self.mode in self.FACE_TO_FACE_MODES

    @property
    def bmi(self) -> Decimal | None:
        """Body-mass index, kg/m², to one place (half-up)."""
        if self.weight_kg is None or self.height_cm is None or self.height_cm <= 0:
            return None
        metres = Decimal(self.height_cm) / 100
        return (Decimal(self.weight_kg) / (metres * metres)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )

    @property
    def symptom_codes(self) -> list[str]:
        return [code for code in self.symptoms.split(",") if code]

    def symptom_labels(self) -> list[str]:
        labels = dict(self.Symptom.choices)
        return [str(labels.get(code, code)) for code in self.symptom_codes]


def needs_urgent_referral(
    *,
    fbg: Decimal | None,
    systolic: int | None,
    diastolic: int | None,
) -> bool:
    """The BPHS urgent-referral rule in Python, the same as the generated column's."""
    return (
        (fbg is not None and (fbg >= URGENT_FBG_HIGH or fbg <= URGENT_FBG_LOW))
        or (systolic is not None and systolic >= URGENT_SYSTOLIC)
        or (diastolic is not None and diastolic >= URGENT_DIASTOLIC)
    )


class QualitySnapshot(models.Model):
    """The CONTRACTS §5 counts of one institution for a year as of one day (a month end, the
    running month's day of computation, or 31 December for the whole year), stored so the
    quality dashboards read instead of recomputing (``chronic_care.snapshots``). Every
    institution gets a row, an empty managed population included, so a missing row means
    "not computed yet"."""

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="quality_snapshots"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    as_of = models.DateField(_("as of"))
    managed_population = models.PositiveIntegerField(_("managed population"))
    standardized_managed = models.PositiveIntegerField(_("standardized management"))
    glucose_controlled = models.PositiveIntegerField(_("glucose controlled"))
    hba1c_tested = models.PositiveIntegerField(_("HbA1c tested"))
    baseline_controlled = models.PositiveIntegerField(_("controlled at baseline"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("quality snapshot")
        verbose_name_plural = _("quality snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "as_of", "institution"], name="quality_snapshot_unique"
            ),
            models.CheckConstraint(
                condition=Q(as_of__year=models.F("year")), name="quality_snapshot_in_year"
            ),
        ]
        indexes = [models.Index(fields=["institution", "year"], name="quality_snapshot_inst")]

    def __str__(self) -> str:
        return f"{self.institution_id} {self.as_of}"
