"""云药房 tables: the formulary and its rules as data, prescriptions with their review findings
and audited decisions, circulation events, stock by batch, dispensing and replenishment.

Invariants the database can hold are constraints here: stock never below zero, a prescription
with a blocking finding or an unanswered warning never reaches an approved or dispensed state,
a prescription is dispensed at most once.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Abs
from django.db.models.lookups import LessThan
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution, Patient
from payments.models import ClaimLine

ATC_CODE = RegexValidator(
    r"^[A-Z]\d{2}[A-Z]{2}\d{2}$", _("An ATC code has seven characters, such as A10BA02.")
)
ICD10_PREFIX = RegexValidator(
    r"^[A-Z]\d{2}(\.\d{0,2})?$", _("Enter an ICD-10 code or prefix, such as N18 or E11.9.")
)


class Severity(models.TextChoices):
    INFO = "info", _("information")
    WARN = "warn", _("warning")
    BLOCK = "block", _("block")


class IssueCode(models.TextChoices):
    """HL7 v3 ActCode values of the FHIR DetectedIssue categories used by the review rules."""

    DRG = "DRG", _("drug interaction alert")
    DUPTHPY = "DUPTHPY", _("duplicate therapy alert")
    DOSEH = "DOSEH", _("high dose alert")
    DOSEDUR = "DOSEDUR", _("dose-duration alert")
    DOSEDURH = "DOSEDURH", _("dose-duration high alert")
    COND = "COND", _("condition alert")
    LAB = "LAB", _("lab alert")
    AGE = "AGE", _("age alert")
    PREG = "PREG", _("pregnancy alert")
    COMPLY = "COMPLY", _("compliance alert")


class Drug(models.Model):
    """One product of the formulary: a substance in one form and strength."""

    class Form(models.TextChoices):
        TABLET = "tablet", _("tablet")
        SUSTAINED_RELEASE_TABLET = "sr_tablet", _("sustained-release tablet")
        CAPSULE = "capsule", _("capsule")
        INJECTION_PEN = "pen", _("prefilled injection pen")
        INJECTION = "injection", _("injection")

    class StrengthUnit(models.TextChoices):
        MG = "mg", "mg"
        IU = "IU", "IU"

    class InsuranceCategory(models.TextChoices):
        A = "A", _("category A (甲类)")
        B = "B", _("category B (乙类)")
        NONE = "none", _("not covered")

    class PregnancyRisk(models.TextChoices):
        NONE = "none", _("no known risk")
        CAUTION = "caution", _("use with caution")
        CONTRAINDICATED = "contraindicated", _("contraindicated")

    code = models.CharField(_("code"), max_length=32, unique=True)
    generic_name = models.CharField(_("generic name"), max_length=100)
    brand_name = models.CharField(_("brand name"), max_length=100, blank=True)
    atc_code = models.CharField(_("ATC code"), max_length=7, validators=[ATC_CODE], db_index=True)
    form = models.CharField(_("form"), max_length=12, choices=Form.choices)
    strength = models.DecimalField(
        _("strength per unit"),
        max_digits=10,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001"))],
    )
    strength_unit = models.CharField(_("strength unit"), max_length=4, choices=StrengthUnit.choices)
    unit = models.CharField(
        _("dispensing unit"), max_length=10, help_text=_("片, 粒 or 支: what is counted in stock.")
    )
    price = models.DecimalField(
        _("price per unit (CNY)"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    insurance_category = models.CharField(
        _("insurance category"), max_length=4, choices=InsuranceCategory.choices
    )
    max_daily_dose = models.DecimalField(
        _("maximum daily dose"),
        max_digits=10,
        decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text=_("In the strength unit."),
    )
    is_controlled = models.BooleanField(_("controlled (narcotic or psychotropic)"), default=False)
    is_toxic = models.BooleanField(_("toxic drug for medical use"), default=False)
    is_antimicrobial = models.BooleanField(_("antimicrobial"), default=False)
    pregnancy_risk = models.CharField(
        _("pregnancy risk"), max_length=16, choices=PregnancyRisk.choices, default="none"
    )
    min_age_years = models.PositiveSmallIntegerField(
        _("minimum age (years)"), null=True, blank=True
    )
    elderly_caution_age = models.PositiveSmallIntegerField(
        _("caution from age (years)"), null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("drug")
        verbose_name_plural = _("drugs")
        ordering = ["atc_code", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(strength__gt=0) & Q(max_daily_dose__gt=0) & Q(price__gte=0),
                name="drug_positive_amounts",
            )
        ]

    def __str__(self) -> str:
        return f"{self.generic_name} {self.strength.normalize():f}{self.strength_unit}"


class Contraindication(models.Model):
    """A diagnosis (ICD-10 prefix) or a recent lab value that contraindicates a drug."""

    class Kind(models.TextChoices):
        DIAGNOSIS = "diagnosis", _("diagnosis")
        LAB = "lab", _("lab result")

    class Comparator(models.TextChoices):
        BELOW = "lt", _("below")
        ABOVE = "gt", _("above")

    drug = models.ForeignKey(
        Drug, on_delete=models.CASCADE, related_name="contraindications", verbose_name=_("drug")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    icd10_prefix = models.CharField(
        _("ICD-10 prefix"), max_length=8, blank=True, validators=[ICD10_PREFIX]
    )
    lab_item_code = models.CharField(_("lab item code"), max_length=20, blank=True)
    comparator = models.CharField(
        _("comparator"), max_length=2, choices=Comparator.choices, blank=True
    )
    limit = models.DecimalField(_("limit"), max_digits=10, decimal_places=2, null=True, blank=True)
    lookback_days = models.PositiveSmallIntegerField(_("lab values from the last days"), default=90)
    severity = models.CharField(_("severity"), max_length=5, choices=Severity.choices)
    note = models.CharField(_("clinical note"), max_length=200)

    class Meta:
        verbose_name = _("contraindication")
        verbose_name_plural = _("contraindications")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="diagnosis", lab_item_code="", comparator="", limit__isnull=True)
                    & ~Q(icd10_prefix="")
                )
                | (
                    Q(kind="lab", icd10_prefix="", limit__isnull=False)
                    & ~Q(lab_item_code="")
                    & ~Q(comparator="")
                ),
                name="contraindication_kind_fields",
            ),
            models.CheckConstraint(
                condition=~Q(severity="info"), name="contraindication_warn_or_block"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.DIAGNOSIS:
            return f"{self.drug.generic_name}: {self.icd10_prefix}"
        return f"{self.drug.generic_name}: {self.lab_item_code} {self.comparator} {self.limit}"


class Interaction(models.Model):
    """A drug–drug interaction between two substances (ATC level 5), stored once per pair with
    ``atc_a < atc_b``."""

    atc_a = models.CharField(_("substance A (ATC)"), max_length=7, validators=[ATC_CODE])
    atc_b = models.CharField(_("substance B (ATC)"), max_length=7, validators=[ATC_CODE])
    severity = models.CharField(_("severity"), max_length=5, choices=Severity.choices)
    effect = models.CharField(_("effect"), max_length=200)
    source = models.CharField(_("source"), max_length=100)

    class Meta:
        verbose_name = _("drug interaction")
        verbose_name_plural = _("drug interactions")
        constraints = [
            models.UniqueConstraint(fields=["atc_a", "atc_b"], name="interaction_one_per_pair"),
            models.CheckConstraint(condition=Q(atc_a__lt=F("atc_b")), name="interaction_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.atc_a} + {self.atc_b}"


class Prescription(models.Model):
    """A prescription written at one institution and dispensed there, at another, at the central
    cloud pharmacy, or delivered (处方流转)."""

    class Status(models.TextChoices):
        PENDING_REVIEW = "pending_review", _("awaiting pharmacist review")
        BLOCKED = "blocked", _("blocked by review")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        DISPENSED = "dispensed", _("dispensed")
        IN_DELIVERY = "in_delivery", _("out for delivery")
        DELIVERED = "delivered", _("delivered")
        CANCELLED = "cancelled", _("cancelled")

    class Fulfilment(models.TextChoices):
        ON_SITE = "on_site", _("dispensed where written")
        OTHER_INSTITUTION = "other_institution", _("dispensed at another institution")
        CENTRAL_PHARMACY = "central_pharmacy", _("dispensed by the central cloud pharmacy")
        DELIVERY = "delivery", _("delivered to the patient")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("writing institution"),
    )
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("prescriber"),
    )
    written_at = models.DateTimeField(_("written at"), default=timezone.now)
    diagnosis_codes = models.CharField(
        _("diagnoses (ICD-10)"), max_length=200, help_text=_("Semicolon-separated, e.g. E11.9;I10.")
    )
    is_pregnant = models.BooleanField(_("pregnant"), default=False)
    is_long = models.BooleanField(_("long prescription"), default=False)
    extended_reason = models.CharField(_("reason for more than 7 days"), max_length=200, blank=True)
    fulfilment = models.CharField(
        _("fulfilment"), max_length=20, choices=Fulfilment.choices, default="on_site"
    )
    dispensing_institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("dispensing institution"),
    )
    delivery_address = models.CharField(_("delivery address"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default="pending_review"
    )
    blocking_findings = models.PositiveSmallIntegerField(_("blocking findings"), default=0)
    open_warnings = models.PositiveSmallIntegerField(_("unanswered warnings"), default=0)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    total_amount = models.DecimalField(
        _("total (CNY)"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )

    class Meta:
        verbose_name = _("prescription")
        verbose_name_plural = _("prescriptions")
        ordering = ["-written_at", "-id"]
        indexes = [
            models.Index(fields=["institution", "-written_at"], name="rx_institution_written"),
            models.Index(fields=["dispensing_institution", "status"], name="rx_dispensing_status"),
            models.Index(fields=["patient", "-written_at"], name="rx_patient_written"),
        ]
        constraints = [
            # The database's own guard: nothing with an open block or warning is ever cleared
            # for dispensing, whatever path writes the row.
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "dispensed", "in_delivery", "delivered"])
                | Q(blocking_findings=0, open_warnings=0),
                name="rx_cleared_without_open_findings",
            ),
            models.CheckConstraint(
                condition=~Q(status="blocked") | Q(blocking_findings__gt=0),
                name="rx_blocked_has_block",
            ),
            models.CheckConstraint(
                condition=~Q(fulfilment="delivery") | ~Q(delivery_address=""),
                name="rx_delivery_has_address",
            ),
            models.CheckConstraint(
                condition=~Q(fulfilment="on_site") | Q(dispensing_institution=F("institution")),
                name="rx_on_site_same_institution",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Prescription %(id)s") % {"id": self.pk}

    @property
    def diagnoses(self) -> list[str]:
        return [code for code in self.diagnosis_codes.split(";") if code]


class PrescriptionLine(models.Model):
    class Frequency(models.TextChoices):
        QD = "qd", _("once a day")
        BID = "bid", _("twice a day")
        TID = "tid", _("three times a day")
        QID = "qid", _("four times a day")
        QN = "qn", _("every night")
        QW = "qw", _("once a week")

    # Administrations a day of each frequency.
    PER_DAY = {
        "qd": Decimal(1),
        "bid": Decimal(2),
        "tid": Decimal(3),
        "qid": Decimal(4),
        "qn": Decimal(1),
        "qw": Decimal(1) / Decimal(7),
    }

    class Route(models.TextChoices):
        ORAL = "oral", _("by mouth")
        SUBCUTANEOUS = "sc", _("subcutaneous")
        INTRAVENOUS = "iv", _("intravenous")
        INTRAMUSCULAR = "im", _("intramuscular")

    prescription = models.ForeignKey(
        Prescription, on_delete=models.CASCADE, related_name="lines", verbose_name=_("prescription")
    )
    drug = models.ForeignKey(
        Drug, on_delete=models.PROTECT, related_name="+", verbose_name=_("drug")
    )
    dose = models.DecimalField(_("dose"), max_digits=10, decimal_places=3)
    frequency = models.CharField(_("frequency"), max_length=4, choices=Frequency.choices)
    route = models.CharField(_("route"), max_length=4, choices=Route.choices)
    days = models.PositiveSmallIntegerField(_("days"))
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price (CNY)"), max_digits=10, decimal_places=2)
    amount = models.DecimalField(_("amount (CNY)"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("prescription line")
        verbose_name_plural = _("prescription lines")
        ordering = ["prescription", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dose__gt=0) & Q(quantity__gt=0) & Q(days__gte=1) & Q(days__lte=84),
                name="rx_line_positive_and_at_most_12_weeks",
            ),
            models.UniqueConstraint(fields=["prescription", "drug"], name="rx_line_drug_once"),
        ]

    def __str__(self) -> str:
        return f"{self.drug} × {self.quantity}"

    @property
    def daily_dose(self) -> Decimal:
        return self.dose * self.PER_DAY[self.frequency]


class ReviewFinding(models.Model):
    """One issue the review engine found. ``message`` is an English msgid translated when shown;
    ``params`` fills it."""

    prescription = models.ForeignKey(
        Prescription, on_delete=models.CASCADE, related_name="findings"
    )
    line = models.ForeignKey(
        PrescriptionLine, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    rule = models.CharField(_("rule"), max_length=40)
    code = models.CharField(_("code (HL7 v3 ActCode)"), max_length=10, choices=IssueCode.choices)
    severity = models.CharField(_("severity"), max_length=5, choices=Severity.choices)
    message = models.CharField(_("message"), max_length=300)
    params = models.JSONField(_("details"), default=dict)
    is_overridden = models.BooleanField(_("overridden"), default=False)

    class Meta:
        verbose_name = _("review finding")
        verbose_name_plural = _("review findings")
        ordering = ["prescription", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(severity="block", is_overridden=True),
                name="finding_block_never_overridden",
            )
        ]

    def __str__(self) -> str:
        return self.reason

    @property
    def reason(self) -> str:
        text = gettext(self.message)
        try:
            return text % self.params if self.params else text
        except (KeyError, TypeError, ValueError):
            return text


class ReviewDecision(models.Model):
    """The audit trail of review: every approval, rejection and override, never changed."""

    class Action(models.TextChoices):
        AUTOMATED = "automated", _("automated review")
        APPROVE = "approve", _("approve")
        REJECT = "reject", _("reject")
        OVERRIDE = "override", _("override a warning")

    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="decisions"
    )
    finding = models.ForeignKey(
        ReviewFinding, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    justification = models.TextField(_("justification"), blank=True)
    status_before = models.CharField(_("status before"), max_length=16)
    status_after = models.CharField(_("status after"), max_length=16)
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["prescription", "decided_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(action="override") | (Q(finding__isnull=False) & ~Q(justification="")),
                name="decision_override_justified",
            ),
            models.CheckConstraint(
                condition=~Q(action="reject") | ~Q(justification=""),
                name="decision_reject_justified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prescription_id} {self.action}"


class PrescriptionEvent(models.Model):
    """The circulation timeline the prescriber and the patient follow."""

    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=16, choices=Prescription.Status.choices)
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("prescription event")
        verbose_name_plural = _("prescription events")
        ordering = ["prescription", "at", "id"]

    def __str__(self) -> str:
        return f"{self.prescription_id} {self.status}"


class StockBatch(models.Model):
    """Units of one drug batch held at one institution. Never negative (a constraint)."""

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    drug = models.ForeignKey(
        Drug, on_delete=models.PROTECT, related_name="batches", verbose_name=_("drug")
    )
    batch_number = models.CharField(_("batch number"), max_length=40)
    expires_on = models.DateField(_("expires on"))
    quantity = models.IntegerField(_("quantity"))
    received_on = models.DateField(_("received on"), default=timezone.localdate)

    class Meta:
        verbose_name = _("stock batch")
        verbose_name_plural = _("stock batches")
        ordering = ["institution", "drug", "expires_on", "id"]
        indexes = [
            models.Index(fields=["institution", "drug", "expires_on"], name="stock_fefo"),
            models.Index(fields=["expires_on"], name="stock_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stock_never_negative"),
            models.UniqueConstraint(
                fields=["institution", "drug", "batch_number"], name="stock_batch_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.batch_number} ({self.quantity})"


class Dispensing(models.Model):
    """A prescription handed over (or sent out), once, with its insurance split."""

    prescription = models.OneToOneField(
        Prescription, on_delete=models.PROTECT, related_name="dispensing"
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    pharmacist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    dispensed_at = models.DateTimeField(_("dispensed at"), default=timezone.now)
    total_amount = models.DecimalField(_("total (CNY)"), max_digits=12, decimal_places=2)
    fund_paid = models.DecimalField(_("paid by the fund (CNY)"), max_digits=12, decimal_places=2)
    self_paid = models.DecimalField(
        _("paid by the resident (CNY)"), max_digits=12, decimal_places=2
    )
    claim_line = models.ForeignKey(
        ClaimLine, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name = _("dispensing")
        verbose_name_plural = _("dispensings")
        ordering = ["-dispensed_at", "-id"]
        constraints = [
            # Within half a fen rather than equal: SQLite adds decimals as floating point
            # (9.71 + 3.24 != 12.95 there); amounts are whole fen, so this is exact equality.
            models.CheckConstraint(
                condition=LessThan(
                    Abs(F("total_amount") - F("fund_paid") - F("self_paid")),
                    Value(Decimal("0.005")),
                ),
                name="dispensing_split_adds_up",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prescription_id} @ {self.dispensed_at:%Y-%m-%d}"


class DispensingLine(models.Model):
    dispensing = models.ForeignKey(Dispensing, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(PrescriptionLine, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(StockBatch, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("dispensed batch")
        verbose_name_plural = _("dispensed batches")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="dispensing_line_positive")
        ]

    def __str__(self) -> str:
        return f"{self.batch} × {self.quantity}"


class ReplenishmentOrder(models.Model):
    """An institution's order to the central cloud pharmacy, shipped by batch and received."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("requested")
        SHIPPED = "shipped", _("shipped")
        RECEIVED = "received", _("received")

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    supplier = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("central pharmacy"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default="requested"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        verbose_name = _("replenishment order")
        verbose_name_plural = _("replenishment orders")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(institution=F("supplier")), name="replenishment_not_from_itself"
            )
        ]

    def __str__(self) -> str:
        return gettext("Replenishment %(id)s") % {"id": self.pk}


class ReplenishmentLine(models.Model):
    order = models.ForeignKey(ReplenishmentOrder, on_delete=models.CASCADE, related_name="lines")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity requested"))

    class Meta:
        verbose_name = _("replenishment line")
        verbose_name_plural = _("replenishment lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="replenishment_positive"),
            models.UniqueConstraint(fields=["order", "drug"], name="replenishment_drug_once"),
        ]

    def __str__(self) -> str:
        return f"{self.drug} × {self.quantity}"


class ShipmentLine(models.Model):
    """What the central pharmacy sent for one order, batch by batch (first expiring first)."""

    order = models.ForeignKey(ReplenishmentOrder, on_delete=models.CASCADE, related_name="shipped")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    batch_number = models.CharField(_("batch number"), max_length=40)
    expires_on = models.DateField(_("expires on"))
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipment_positive")
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.batch_number} × {self.quantity}"
