"""Quality assessments: the indicator figures a final settlement run used (CONTRACTS §5)."""

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution
from payments.models.settlements import SettlementRun

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _count(label: "StrOrPromise") -> models.PositiveIntegerField:
    return models.PositiveIntegerField(label, default=0)


def _share(label: "StrOrPromise") -> models.DecimalField:
    # A share of the managed population; GCI is a difference of shares, so it may be negative.
    return models.DecimalField(label, max_digits=7, decimal_places=4, null=True, blank=True)


class QualityAssessment(models.Model):
    """An institution's quality figures for a final run, copied from the registered provider so
    that audits and dashboards read them here (STYLE.md 4.6 rule 4).

    Every indicator's denominator is the managed population; the values are the shares rounded
    to four places for display, while ``score`` was computed from the exact shares and rounded
    half-up to two places (CONTRACTS §4-5).
    """

    run = models.ForeignKey(
        SettlementRun,
        on_delete=models.CASCADE,
        related_name="quality_assessments",
        verbose_name=_("run"),
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    managed_population = _count(_("managed population"))
    baseline_controlled = _count(_("baseline fasting glucose below 7.0"))
    smr_numerator = _count(_("SMR numerator"))
    smr_denominator = _count(_("SMR denominator"))
    smr_value = _share(_("SMR"))
    gcr_numerator = _count(_("GCR numerator"))
    gcr_denominator = _count(_("GCR denominator"))
    gcr_value = _share(_("GCR"))
    htr_numerator = _count(_("HbA1c testing numerator"))
    htr_denominator = _count(_("HbA1c testing denominator"))
    htr_value = _share(_("HbA1c testing rate"))
    gci_numerator = models.IntegerField(_("glucose control improvement numerator"), default=0)
    gci_denominator = _count(_("glucose control improvement denominator"))
    gci_value = _share(_("glucose control improvement"))
    score = models.DecimalField(
        _("quality score"), max_digits=5, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("quality assessment")
        verbose_name_plural = _("quality assessments")
        ordering = ["run_id", "institution__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "institution"], name="qualityassessment_one_per_institution"
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=100)),
                name="qualityassessment_score_0_100",
            ),
            # An empty managed population has no score (CONTRACTS §4).
            models.CheckConstraint(
                condition=Q(managed_population=0, score__isnull=True)
                | Q(managed_population__gt=0, score__isnull=False),
                name="qualityassessment_score_iff_population",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} · {self.institution_id} · Q {self.score}"
