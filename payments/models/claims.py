"""The claim ledger: medical-insurance settlement lines (CONTRACTS §1 ``claims``)."""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution, Patient


class ClaimLine(models.Model):
    """One settled charge: what it cost and what the insurance fund paid.

    Lines come from the insurance system's ``claims`` file or are posted by a cloud at the point
    of service (``post_claim_line``); ``(source, source_ref)`` names the origin, so a repeated
    posting finds its line instead of adding one (STYLE.md 4.6 rule 3).
    """

    class Category(models.TextChoices):
        OUTPATIENT = "outpatient", _("outpatient")
        INPATIENT = "inpatient", _("inpatient")
        PHARMACY = "pharmacy", _("pharmacy")
        EXAM = "exam", _("exam")
        HOME_SERVICE = "home_service", _("home service")

    class Source(models.TextChoices):
        INSURANCE = "insurance", _("insurance system file")
        CLOUD_EXAMS = "cloud_exams", _("cloud exams")
        CLOUD_SERVICES = "cloud_services", _("cloud services")
        CLOUD_PHARMACY = "cloud_pharmacy", _("cloud pharmacy")

    # Unique by the constraint claimline_claim_id_unique (one index, see Meta).
    claim_id = models.CharField(_("claim ID"), max_length=100)
    # related_name="+": cloud_management is a lower app and grows no reverse accessors.
    # No index of their own: claimline_patient_date and claimline_inst_date lead with these
    # columns and serve every lookup by resident or institution (and the PROTECT checks).
    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("resident"),
        db_index=False,
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("institution where the service was given"),
        db_index=False,
    )
    service_date = models.DateField(_("service date"))
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    diagnosis_code = models.CharField(_("diagnosis code (ICD-10)"), max_length=20, blank=True)
    total_amount = models.DecimalField(_("total amount (CNY)"), max_digits=12, decimal_places=2)
    fund_paid = models.DecimalField(_("paid by the fund (CNY)"), max_digits=12, decimal_places=2)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_ref = models.CharField(_("source reference"), max_length=100)
    # The database defaults serve the claims file's COPY (payments.import_kinds), which then
    # sends no timestamp per line; the ORM always sends its own.
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True, db_default=Now())
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_default=Now())

    class Meta:
        verbose_name = _("claim line")
        verbose_name_plural = _("claim lines")
        ordering = ["-service_date", "-id"]
        constraints = [
            # One index for equality, ON CONFLICT and prefix searches (LIKE 'insurance:%'):
            # unique=True on the field would add a second, varchar_pattern_ops, index on
            # PostgreSQL, which every write and every bulk rebuild pays for.
            models.UniqueConstraint(
                fields=["claim_id"],
                name="claimline_claim_id_unique",
                opclasses=["varchar_pattern_ops"],
            ),
            models.CheckConstraint(
                condition=Q(fund_paid__gte=0) & Q(fund_paid__lte=F("total_amount")),
                name="claimline_fund_paid_within_total",
                violation_error_message=_(
                    "The fund cannot pay less than 0 or more than the total amount."
                ),
            ),
            models.CheckConstraint(
                condition=Q(
                    category__in=["outpatient", "inpatient", "pharmacy", "exam", "home_service"]
                ),
                name="claimline_category_valid",
                violation_error_message=_("Unknown claim category."),
            ),
            models.UniqueConstraint(
                fields=["source", "source_ref"],
                name="claimline_one_per_source_ref",
                violation_error_message=_("This source has already posted this charge."),
            ),
        ]
        indexes = [
            # Settlement: a member's lines on their covered days (CONTRACTS §4 spending).
            models.Index(fields=["patient", "service_date"], name="claimline_patient_date"),
            # Dashboards and drill-down: lines given at an institution in a period.
            models.Index(fields=["institution", "service_date"], name="claimline_inst_date"),
            models.Index(fields=["service_date", "id"], name="claimline_date_id"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} · {self.service_date} · {self.fund_paid}"

    @property
    def self_paid(self) -> Decimal:
        """What the resident paid: the total less the fund's share."""
        return self.total_amount - self.fund_paid
