"""Reimbursement ratios: the fund's share of a charge at the point of service, by year, insurance
type and claim category (issue 3, Deliver 2)."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Patient
from payments.models.claims import ClaimLine


class ReimbursementRatio(models.Model):
    """From ``year`` on, until a later year has its own ratio, the insurance fund pays
    ``fund_ratio`` of a charge in ``category`` for a resident insured under ``insurance_type``;
    the resident pays the rest (``payments.services.reimbursement.split_charge``)."""

    year = models.PositiveSmallIntegerField(
        _("year"), validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    insurance_type = models.CharField(
        _("insurance type"), max_length=10, choices=Patient.InsuranceType.choices
    )
    category = models.CharField(_("category"), max_length=20, choices=ClaimLine.Category.choices)
    fund_ratio = models.DecimalField(
        _("fund ratio"),
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("The share of a charge the fund pays, from 0 to 1 (0.75 is 75 %)."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reimbursement ratio")
        verbose_name_plural = _("reimbursement ratios")
        ordering = ["-year", "insurance_type", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["year", "insurance_type", "category"],
                name="reimbursementratio_one_per_year_type_category",
                violation_error_message=_(
                    "This year already has a ratio for this insurance type and category."
                ),
            ),
            models.CheckConstraint(
                condition=Q(fund_ratio__gte=0) & Q(fund_ratio__lte=1),
                name="reimbursementratio_ratio_0_1",
                violation_error_message=_("A fund ratio lies between 0 and 1."),
            ),
            models.CheckConstraint(
                condition=Q(year__gte=2000) & Q(year__lte=2100),
                name="reimbursementratio_year_plausible",
                violation_error_message=_("The year must lie between 2000 and 2100."),
            ),
            models.CheckConstraint(
                condition=Q(insurance_type__in=["employee", "resident"]),
                name="reimbursementratio_insurance_type_valid",
                violation_error_message=_("Unknown insurance type."),
            ),
            models.CheckConstraint(
                condition=Q(
                    category__in=["outpatient", "inpatient", "pharmacy", "exam", "home_service"]
                ),
                name="reimbursementratio_category_valid",
                violation_error_message=_("Unknown claim category."),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.year} · {self.get_insurance_type_display()} · "
            f"{self.get_category_display()} · {self.fund_ratio}"
        )
