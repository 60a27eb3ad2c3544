"""The payments screens of the staff admin (DESIGN.md "Who uses it": platform operators
configure schemes and tiers, run settlements and watch jobs; regulators read).

- Schemes with their retention tiers inline: operators edit, regulators read, nobody else sees
  them. Tiers are validated on the form (ratios in [0, 1], thresholds in [0, 100], no threshold
  twice) and held by the database's constraints as well.
- Settlement runs with status and progress, and "Start a settlement run", which calls the same
  service and Celery task as ``run_settlement`` and the API (``payments.tasks``).
- Claim lines, settlement lines and quality assessments: read-only, scoped with
  ``cloud_management.access`` like every list, and paged without counting the whole ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cloud_management.access import scope_of
from cloud_management.admin_scoping import (
    ScopedModelAdmin,
    district_filter,
    institution_filter,
    resident_search_q,
)
from cloud_management.models import Patient
from payments.formulas import (
    DEFAULT_RETENTION_TIERS,
    MAX_QUALITY_SCORE,
    FormulaError,
    RetentionTier,
    validate_retention_tiers,
)
from payments.models import (
    ClaimLine,
    QualityAssessment,
    QualityTier,
    Scheme,
    SettlementLine,
    SettlementRun,
)
from payments.services.schemes import set_retention_tiers
from payments.tasks import start_settlement_run


def _is_operator(request: HttpRequest) -> bool:
    return scope_of(request.user).is_operator


def _is_operator_or_regulator(request: HttpRequest) -> bool:
    scope = scope_of(request.user)
    return scope.is_operator or scope.is_regulator


def _default_tiers_text() -> str:
    return "; ".join(
        f"Q ≥ {tier.min_score:g} → {tier.retention_ratio}" for tier in DEFAULT_RETENTION_TIERS
    )


class _CityWideAdmin(ScopedModelAdmin):
    """Rows that belong to the whole city (schemes, runs): operators and regulators of any
    district see them, clinic staff do not; only operators write."""

    write_access = "operators"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if _is_operator_or_regulator(request) else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_operator_or_regulator(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return _is_operator_or_regulator(request)


class _ReadOnlyScopedAdmin(ScopedModelAdmin):
    """Figures written by imports, the clouds and settlement runs: shown, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


# --- Schemes and their retention tiers -------------------------------------------------------


class QualityTierForm(forms.ModelForm):
    class Meta:
        model = QualityTier
        fields = ("min_score", "retention_ratio")

    def clean_min_score(self) -> Decimal | None:
        score: Decimal | None = self.cleaned_data.get("min_score")
        if score is not None and not 0 <= score <= MAX_QUALITY_SCORE:
            raise ValidationError(_("A threshold lies between 0 and 100."), code="out_of_range")
        return score

    def clean_retention_ratio(self) -> Decimal | None:
        ratio: Decimal | None = self.cleaned_data.get("retention_ratio")
        if ratio is not None and not 0 <= ratio <= 1:
            raise ValidationError(_("A retention ratio lies between 0 and 1."), code="out_of_range")
        return ratio


class QualityTierFormSet(BaseInlineFormSet):
    """The tiers a scheme keeps after the save: no threshold twice, so no two tiers overlap
    (each runs from its threshold up to the next one, CONTRACTS §4)."""

    def clean(self) -> None:
        if any(self.errors):
            return
        kept: list[RetentionTier] = []
        first_row: dict[Decimal, int] = {}
        for number, form in enumerate(self.forms, start=1):
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            score, ratio = data.get("min_score"), data.get("retention_ratio")
            if score is None or ratio is None:
                continue
            if score in first_row:
                raise ValidationError(
                    gettext(
                        "Tiers %(first)d and %(second)d both start at the score %(score)s; "
                        "each tier needs a threshold of its own."
                    )
                    % {"first": first_row[score], "second": number, "score": score},
                    code="overlapping_tiers",
                )
            first_row[score] = number
            kept.append(RetentionTier(min_score=score, retention_ratio=ratio))
        try:
            validate_retention_tiers(kept)
        except FormulaError as exc:
            raise ValidationError(str(exc), code="invalid_tiers") from exc
        super().clean()


class QualityTierInline(admin.TabularInline):
    model = QualityTier
    form = QualityTierForm
    formset = QualityTierFormSet
    extra = 0
    ordering = ("-min_score",)
    verbose_name = _("retention tier")
    verbose_name_plural = _("retention tiers (a new scheme without tiers gets the defaults)")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator_or_regulator(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operator(request)


@admin.register(Scheme)
class SchemeAdmin(_CityWideAdmin):
    list_display = ("code", "name", "kind", "year", "annual_rate", "diagnosis_prefixes", "tiers")
    list_filter = ("year", "kind")
    search_fields = ("code", "name")
    ordering = ("-year", "code")
    inlines = (QualityTierInline,)
    fields = (
        "code",
        "name",
        "kind",
        "year",
        "annual_rate",
        "diagnosis_prefixes",
        "categories",
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("tiers")

    @admin.display(description=_("retention tiers"))
    def tiers(self, obj: Scheme) -> str:
        tiers = sorted(obj.tiers.all(), key=lambda tier: tier.min_score, reverse=True)
        return "; ".join(f"Q ≥ {t.min_score} → {t.retention_ratio}" for t in tiers) or "—"

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is None and "categories" in form.base_fields:
            form.base_fields["categories"].help_text = gettext(
                "Claim categories separated by “;”: %(choices)s."
            ) % {"choices": ", ".join(ClaimLine.Category.values)}
        return form

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        scheme = form.instance
        if not change and not scheme.tiers.exists():
            # CONTRACTS §4's default tiers, as the ``schemes`` import gives a new scheme.
            set_retention_tiers(scheme=scheme, tiers=DEFAULT_RETENTION_TIERS)
            self.message_user(
                request,
                gettext("The scheme got the default retention tiers: %(tiers)s.")
                % {"tiers": _default_tiers_text()},
                messages.INFO,
            )


# --- Settlement runs -------------------------------------------------------------------------


class StartRunForm(forms.Form):
    scheme = forms.ModelChoiceField(
        label=_("scheme"), queryset=Scheme.objects.order_by("-year", "code")
    )
    period = forms.CharField(
        label=_("period"),
        max_length=7,
        help_text=_(
            "YYYY for the final settlement of a year; YYYY-MM or YYYY-Qn for an interim one."
        ),
    )


@admin.register(SettlementRun)
class SettlementRunAdmin(_CityWideAdmin):
    list_display = (
        "id",
        "scheme",
        "period",
        "status",
        "progress_bar",
        "institutions_total",
        "requested_at",
        "started_at",
        "finished_at",
    )
    list_select_related = ("scheme",)
    list_filter = ("status", "scheme")
    search_fields = ("scheme__code", "period")
    ordering = ("-requested_at", "-id")
    readonly_fields = (
        "scheme",
        "period",
        "period_start",
        "period_end",
        "status",
        "progress_bar",
        "institutions_total",
        "annual_rate",
        "days_in_year",
        "parameters",
        "inputs_digest",
        "requested_at",
        "started_at",
        "finished_at",
        "superseded_by",
        "error",
    )
    fields = readonly_fields
    change_list_template = "admin/payments/settlementrun/change_list.html"

    @admin.display(description=_("progress"), ordering="progress")
    def progress_bar(self, obj: SettlementRun) -> str:
        return format_html(
            '<progress max="100" value="{}"></progress> {}%', obj.progress, obj.progress
        )

    # Runs are started with the button (or the command, the API, the schedules); their figures
    # are the service's to write.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "may_start_run": _is_operator(request)}
        return super().changelist_view(request, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        start = path(
            "start/",
            self.admin_site.admin_view(self.start_run_view),
            name="payments_settlementrun_start",
        )
        return [start, *super().get_urls()]

    def start_run_view(self, request: HttpRequest) -> HttpResponse:
        """Start a scheme's run for a period through ``payments.tasks.start_settlement_run``:
        the run's Celery task on the workers, or in this process where no broker is set up.
        A run already under way for the scheme and period is shown instead of a second one."""
        if not _is_operator(request):
            raise PermissionDenied
        form = StartRunForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run, created = start_settlement_run(
                    scheme=form.cleaned_data["scheme"], period=form.cleaned_data["period"]
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                run.refresh_from_db()
                values = {
                    "id": run.pk,
                    "scheme": run.scheme.code,
                    "period": run.period,
                    "status": run.get_status_display(),
                    "progress": run.progress,
                }
                if created:
                    message = gettext(
                        "Settlement run %(id)s for %(scheme)s %(period)s started: "
                        "%(status)s, %(progress)s%%."
                    )
                else:
                    message = gettext(
                        "A run for %(scheme)s %(period)s is already under way: run %(id)s, "
                        "%(status)s, %(progress)s%%."
                    )
                self.message_user(
                    request,
                    message % values,
                    messages.SUCCESS if created else messages.WARNING,
                )
                return HttpResponseRedirect(
                    reverse("admin:payments_settlementrun_change", args=[run.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Start a settlement run"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/payments/settlementrun/start_run.html", context)


# --- The ledger and the figures of runs: read-only, scoped ----------------------------------


@admin.register(ClaimLine)
class ClaimLineAdmin(_ReadOnlyScopedAdmin):
    list_display = (
        "claim_id",
        "patient",
        "institution",
        "service_date",
        "category",
        "diagnosis_code",
        "total_amount",
        "fund_paid",
        "source",
    )
    list_select_related = ("patient", "institution")
    list_filter = (
        district_filter("institution__district_id"),
        institution_filter("institution_id", _("institution where the service was given")),
        "category",
        "source",
    )
    search_fields = ("claim_id",)
    search_help_text = _("A claim ID, or a resident by ID, phone or the start of the name.")
    # Indexed: (service_date, id), and (institution, service_date) under the filter.
    ordering = ("-service_date", "-id")
    sortable_by = ()
    fields = (
        "claim_id",
        "patient",
        "institution",
        "service_date",
        "category",
        "diagnosis_code",
        "total_amount",
        "fund_paid",
        "self_paid",
        "source",
        "source_ref",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description=_("paid by the resident (CNY)"))
    def self_paid(self, obj: ClaimLine) -> Decimal:
        return obj.self_paid

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet[ClaimLine], search_term: str
    ) -> tuple[models.QuerySet[ClaimLine], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # The exact claim ID (unique index), or the lines of the residents found by ID, phone or
        # name prefix (each indexed), through the ledger's (patient, service date) index.
        residents = Patient.objects.filter(resident_search_q(term)).values("pk")
        return queryset.filter(Q(claim_id=term) | Q(patient_id__in=residents)), False


@admin.register(SettlementLine)
class SettlementLineAdmin(_ReadOnlyScopedAdmin):
    list_display = (
        "run",
        "institution",
        "enrolees",
        "member_days",
        "budget",
        "spending",
        "balance",
        "quality_score",
        "retention_ratio",
        "retained",
        "overspend",
        "fund_payable",
    )
    list_select_related = ("run__scheme", "institution")
    list_filter = (
        district_filter("institution__district_id"),
        institution_filter("institution_id"),
        "run__status",
    )
    search_fields = ("institution__code", "run__scheme__code", "run__period")
    ordering = ("-run_id", "institution__code")
    sortable_by = ()
    readonly_fields = (
        "run",
        "institution",
        "enrolees",
        "member_days",
        "budget",
        "claim_lines",
        "spending",
        "balance",
        "quality_score",
        "retention_ratio",
        "retained",
        "overspend",
        "fund_payable",
    )
    fields = readonly_fields


@admin.register(QualityAssessment)
class QualityAssessmentAdmin(_ReadOnlyScopedAdmin):
    list_display = (
        "run",
        "institution",
        "managed_population",
        "smr_value",
        "gcr_value",
        "htr_value",
        "gci_value",
        "score",
    )
    list_select_related = ("run__scheme", "institution")
    list_filter = (
        district_filter("institution__district_id"),
        institution_filter("institution_id"),
    )
    search_fields = ("institution__code", "run__scheme__code", "run__period")
    ordering = ("-run_id", "institution__code")
    sortable_by = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in QualityAssessment._meta.fields if field.name != "id"]
