"""Payment schemes and their retention tiers (CONTRACTS §1 ``schemes``, §4)."""

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.formulas import RetentionTier
from payments.models.claims import ClaimLine

LIST_SEPARATOR = ";"
# An ICD-10 prefix: a letter, then digits, dots or letters (E10, E11.9, E11.900x001).
_DIAGNOSIS_PREFIX = re.compile(r"[A-Z][0-9A-Za-z.]*")


def split_list(text: str) -> tuple[str, ...]:
    """``"E10;E11"`` → ``("E10", "E11")``; empty items are dropped."""
    return tuple(item.strip() for item in text.split(LIST_SEPARATOR) if item.strip())


class Scheme(models.Model):
    """A payment scheme for one year: per disease (门特 diabetes) or per head (family doctor).

    ``diagnosis_prefixes`` and ``categories`` are stored as in the ``schemes`` file,
    ``;``-separated; :meth:`prefix_list` and :meth:`category_list` give them as tuples.
    """

    class Kind(models.TextChoices):
        PER_DISEASE = "per_disease", _("per disease")
        PER_CAPITA = "per_capita", _("per capita")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("year"))
    annual_rate = models.DecimalField(
        _("annual rate per member (CNY)"), max_digits=12, decimal_places=2
    )
    diagnosis_prefixes = models.CharField(
        _("diagnosis prefixes"),
        max_length=200,
        blank=True,
        help_text=_("ICD-10 prefixes separated by “;”, e.g. E10;E11. Empty: every diagnosis."),
    )
    categories = models.CharField(
        _("covered categories"),
        max_length=200,
        help_text=_("Claim categories separated by “;”, e.g. outpatient;pharmacy."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment scheme")
        verbose_name_plural = _("payment schemes")
        ordering = ["-year", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(annual_rate__gte=0),
                name="scheme_annual_rate_not_negative",
                violation_error_message=_("The annual rate cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(year__gte=2000) & Q(year__lte=2100),
                name="scheme_year_plausible",
                violation_error_message=_("The year must lie between 2000 and 2100."),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["per_disease", "per_capita"]),
                name="scheme_kind_valid",
                violation_error_message=_("Unknown scheme kind."),
            ),
            models.CheckConstraint(
                condition=~Q(categories=""),
                name="scheme_has_categories",
                violation_error_message=_("A scheme covers at least one category."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}, {self.year}）"

    def prefix_list(self) -> tuple[str, ...]:
        return split_list(self.diagnosis_prefixes)

    def category_list(self) -> tuple[str, ...]:
        return split_list(self.categories)

    def retention_tiers(self) -> tuple[RetentionTier, ...]:
        """The scheme's tiers, highest threshold first."""
        return tuple(
            RetentionTier(min_score=tier.min_score, retention_ratio=tier.retention_ratio)
            for tier in self.tiers.order_by("-min_score")
        )

    def clean(self) -> None:
        errors: dict[str, str] = {}
        prefixes = split_list(self.diagnosis_prefixes or "")
        bad_prefixes = [p for p in prefixes if not _DIAGNOSIS_PREFIX.fullmatch(p)]
        if bad_prefixes:
            errors["diagnosis_prefixes"] = gettext("Not an ICD-10 prefix: %(prefixes)s.") % {
                "prefixes": ", ".join(bad_prefixes)
            }
        categories = split_list(self.categories or "")
        unknown = [c for c in categories if c not in ClaimLine.Category.values]
        if not categories:
            errors["categories"] = gettext("A scheme covers at least one category.")
        elif unknown:
            errors["categories"] = gettext("Unknown categories: %(categories)s.") % {
                "categories": ", ".join(unknown)
            }
        if errors:
            raise ValidationError(errors)
        # Stored in the file's form, without blanks or repeats.
        self.diagnosis_prefixes = LIST_SEPARATOR.join(dict.fromkeys(prefixes))
        self.categories = LIST_SEPARATOR.join(dict.fromkeys(categories))


class QualityTier(models.Model):
    """From ``min_score`` up to the next tier's threshold, ``retention_ratio`` of a surplus is
    retained (CONTRACTS §4). Thresholds of one scheme never repeat, so tiers cannot overlap."""

    scheme = models.ForeignKey(
        Scheme, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("scheme")
    )
    min_score = models.DecimalField(_("from quality score"), max_digits=5, decimal_places=2)
    retention_ratio = models.DecimalField(_("retention ratio"), max_digits=3, decimal_places=2)

    class Meta:
        verbose_name = _("retention tier")
        verbose_name_plural = _("retention tiers")
        ordering = ["scheme_id", "-min_score"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "min_score"],
                name="qualitytier_one_per_threshold",
                violation_error_message=_("The scheme already has a tier from this score."),
            ),
            models.CheckConstraint(
                condition=Q(min_score__gte=0) & Q(min_score__lte=100),
                name="qualitytier_score_0_100",
                violation_error_message=_("A threshold lies between 0 and 100."),
            ),
            models.CheckConstraint(
                condition=Q(retention_ratio__gte=0) & Q(retention_ratio__lte=1),
                name="qualitytier_ratio_0_1",
                violation_error_message=_("A retention ratio lies between 0 and 1."),
            ),
        ]

    def __str__(self) -> str:
        return f"Q ≥ {self.min_score} → {self.retention_ratio}"
