"""Settlement runs and their lines (CONTRACTS §4)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cloud_management.models import Institution
from payments.formulas import parse_period
from payments.models.schemes import Scheme


class SettlementRun(models.Model):
    """One computation of a scheme's settlement for a period.

    A run records the parameters it used (``annual_rate``, ``days_in_year``, ``parameters``:
    kind, prefixes, categories, tiers, quality weights) and a digest of its inputs. The newest
    finished run of a scheme and period is the result; earlier ones stay, marked superseded.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        FINISHED = "finished", _("finished")
        FAILED = "failed", _("failed")
        SUPERSEDED = "superseded", _("superseded")

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)

    scheme = models.ForeignKey(
        Scheme, on_delete=models.PROTECT, related_name="runs", verbose_name=_("scheme")
    )
    period = models.CharField(_("period"), max_length=7)
    period_start = models.DateField(_("first day"))
    period_end = models.DateField(_("last day"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    institutions_total = models.PositiveIntegerField(_("institutions to settle"), default=0)
    # Copied from the scheme when the run starts, so a later edit never changes a result.
    annual_rate = models.DecimalField(
        _("annual rate (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    days_in_year = models.PositiveSmallIntegerField(_("days in the year"), null=True, blank=True)
    parameters = models.JSONField(_("parameters used"), default=dict, blank=True)
    inputs_digest = models.CharField(_("inputs digest (SHA-256)"), max_length=64, blank=True)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("superseded by"),
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("settlement run")
        verbose_name_plural = _("settlement runs")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # Two requests for one scheme and period while a run is under way give one run.
            models.UniqueConstraint(
                fields=["scheme", "period"],
                condition=Q(status__in=["pending", "running"]),
                name="settlementrun_one_active_per_period",
                violation_error_message=_("A run for this scheme and period is under way."),
            ),
            # The result of a scheme and period is one finished run; earlier ones are superseded.
            models.UniqueConstraint(
                fields=["scheme", "period"],
                condition=Q(status="finished"),
                name="settlementrun_one_finished_per_period",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="settlementrun_progress_0_100"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "finished", "failed", "superseded"]),
                name="settlementrun_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="settlementrun_period_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=["scheme", "period", "status"], name="settlementrun_lookup"),
            models.Index(fields=["status", "requested_at"], name="settlementrun_status"),
        ]

    def __str__(self) -> str:
        return f"{self.scheme.code} {self.period} #{self.pk} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        """A year's run is the final settlement; a month's or a quarter's is interim."""
        return parse_period(self.period).is_final

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class SettlementLine(models.Model):
    """One institution's figures in a run: CONTRACTS §4's export columns, plus the count of the
    claim lines its spending sums, for tracing."""

    run = models.ForeignKey(
        SettlementRun, on_delete=models.CASCADE, related_name="lines", verbose_name=_("run")
    )
    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="+", verbose_name=_("institution")
    )
    enrolees = models.PositiveIntegerField(_("enrolees"))
    member_days = models.PositiveBigIntegerField(_("member days"))
    budget = models.DecimalField(_("budget (CNY)"), max_digits=14, decimal_places=2)
    claim_lines = models.PositiveIntegerField(_("claim lines counted"), default=0)
    spending = models.DecimalField(_("spending (CNY)"), max_digits=14, decimal_places=2)
    balance = models.DecimalField(_("balance (CNY)"), max_digits=14, decimal_places=2)
    quality_score = models.DecimalField(
        _("quality score"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    retention_ratio = models.DecimalField(
        _("retention ratio"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    retained = models.DecimalField(
        _("retained (CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    overspend = models.DecimalField(_("overspend (CNY)"), max_digits=14, decimal_places=2)
    fund_payable = models.DecimalField(_("fund payable (CNY)"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("settlement line")
        verbose_name_plural = _("settlement lines")
        ordering = ["run_id", "institution__code"]
        constraints = [
            # A child task settles one (run, institution); repeating it replaces, never adds.
            models.UniqueConstraint(
                fields=["run", "institution"], name="settlementline_one_per_institution"
            ),
            models.CheckConstraint(
                condition=Q(budget__gte=0)
                & Q(spending__gte=0)
                & Q(overspend__gte=0)
                & Q(fund_payable__gte=0),
                name="settlementline_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(quality_score__isnull=True)
                | (Q(quality_score__gte=0) & Q(quality_score__lte=100)),
                name="settlementline_score_0_100",
            ),
            models.CheckConstraint(
                condition=Q(retention_ratio__isnull=True)
                | (Q(retention_ratio__gte=0) & Q(retention_ratio__lte=1)),
                name="settlementline_ratio_0_1",
            ),
        ]
        indexes = [
            models.Index(fields=["institution", "run"], name="settlementline_inst_run"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} · {self.institution_id} · {self.fund_payable}"
