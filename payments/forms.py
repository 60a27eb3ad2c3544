"""Forms of the settlement dashboards: choosing a scheme and period, and the what-if inputs."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.dashboard_selectors import periods_of_year
from payments.formulas import PeriodKind, RetentionTier
from payments.models import Scheme
from payments.whatif import Source

TIER_ROWS = 5


def period_label(name: str, kind: PeriodKind, *, has_run: bool) -> str:
    if kind == PeriodKind.YEAR:
        label = gettext("%(period)s (year, final settlement)") % {"period": name}
    elif kind == PeriodKind.QUARTER:
        label = gettext("%(period)s (quarter, interim)") % {"period": name}
    else:
        label = gettext("%(period)s (month, interim)") % {"period": name}
    if not has_run:
        label = gettext("%(label)s: no finished run") % {"label": label}
    return label


class SettlementChoiceForm(forms.Form):
    """Which scheme and period the dashboards show; read from the query string."""

    scheme = forms.ModelChoiceField(
        label=_("Scheme"),
        queryset=Scheme.objects.order_by("-year", "code"),
        to_field_name="code",
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of the schemes in the list.")},
    )
    period = forms.ChoiceField(label=_("Period"), choices=())

    def __init__(
        self, *args: Any, scheme: Scheme | None, finished: Collection[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if scheme is not None:
            choices = [
                (str(p), period_label(str(p), p.kind, has_run=str(p) in finished))
                for p in periods_of_year(scheme.year)
            ]
            period_field = cast(forms.ChoiceField, self.fields["period"])
            period_field.choices = choices
            period_field.error_messages["invalid_choice"] = gettext(
                "Choose a period of %(year)s, the year of the scheme."
            ) % {"year": scheme.year}
        else:
            # No scheme to take the periods from: only the scheme's error is worth showing.
            self.fields["period"] = forms.CharField(label=_("Period"), required=False)


def _rate_field() -> forms.DecimalField:
    return forms.DecimalField(
        label=_("Annual rate per member (CNY)"),
        max_digits=12,
        decimal_places=2,
        validators=[
            MinValueValidator(Decimal(0), message=_("The annual rate cannot be negative."))
        ],
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )


def _score_field(row: int) -> forms.DecimalField:
    return forms.DecimalField(
        label=_("Tier %(row)s: from quality score") % {"row": row},
        required=False,
        max_digits=5,
        decimal_places=2,
        validators=[
            MinValueValidator(Decimal(0), message=_("A threshold lies between 0 and 100.")),
            MaxValueValidator(Decimal(100), message=_("A threshold lies between 0 and 100.")),
        ],
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "100"}),
    )


def _ratio_field(row: int) -> forms.DecimalField:
    return forms.DecimalField(
        label=_("Tier %(row)s: retention ratio") % {"row": row},
        required=False,
        max_digits=3,
        decimal_places=2,
        validators=[
            MinValueValidator(Decimal(0), message=_("A retention ratio lies between 0 and 1.")),
            MaxValueValidator(Decimal(1), message=_("A retention ratio lies between 0 and 1.")),
        ],
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
    )


class SchemeChoiceForm(forms.Form):
    """Which scheme the what-if simulation projects; read from the query string."""

    scheme = forms.ModelChoiceField(
        label=_("Scheme"),
        queryset=Scheme.objects.order_by("-year", "code"),
        to_field_name="code",
        empty_label=None,
        error_messages={"invalid_choice": _("Choose one of the schemes in the list.")},
    )


class WhatIfForm(forms.Form):
    """A regulator's what-if inputs for the chosen scheme: the figures to project from, the
    annual rate and up to five retention tiers (threshold and ratio). Empty tier rows are
    ignored."""

    scheme = forms.ModelChoiceField(
        queryset=Scheme.objects.order_by("-year", "code"),
        to_field_name="code",
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("Choose one of the schemes in the list.")},
    )
    source = forms.ChoiceField(
        label=_("Figures to project from"),
        choices=[
            (Source.RUN.value, _("The latest finished annual run (as recorded)")),
            (Source.LEDGER.value, _("The members and claim lines as they are now")),
        ],
        initial=Source.RUN.value,
    )
    annual_rate = _rate_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in range(1, TIER_ROWS + 1):
            self.fields[f"tier_{row}_min_score"] = _score_field(row)
            self.fields[f"tier_{row}_ratio"] = _ratio_field(row)

    def tier_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """The tier fields in pairs, for the template."""
        return [
            (self[f"tier_{row}_min_score"], self[f"tier_{row}_ratio"])
            for row in range(1, TIER_ROWS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        seen: dict[Decimal, int] = {}
        for row in range(1, TIER_ROWS + 1):
            score_name, ratio_name = f"tier_{row}_min_score", f"tier_{row}_ratio"
            if score_name in self.errors or ratio_name in self.errors:
                continue
            score, ratio = cleaned.get(score_name), cleaned.get(ratio_name)
            if score is None and ratio is None:
                continue
            if score is None:
                self.add_error(
                    score_name,
                    gettext("Tier %(row)s has a ratio but no threshold.") % {"row": row},
                )
                continue
            if ratio is None:
                self.add_error(
                    ratio_name,
                    gettext("Tier %(row)s has a threshold but no ratio.") % {"row": row},
                )
                continue
            if score in seen:
                # Tiers are ranges from their threshold up to the next one: two tiers from
                # one threshold would overlap.
                self.add_error(
                    score_name,
                    gettext(
                        "Tier %(row)s starts at %(score)s, as tier %(other)s does: tiers "
                        "must not overlap."
                    )
                    % {"row": row, "score": score, "other": seen[score]},
                )
                continue
            seen[score] = row
        return cleaned

    def tiers(self) -> tuple[RetentionTier, ...]:
        """The valid form's tiers, highest threshold first."""
        rows = []
        for row in range(1, TIER_ROWS + 1):
            score = self.cleaned_data.get(f"tier_{row}_min_score")
            ratio = self.cleaned_data.get(f"tier_{row}_ratio")
            if score is not None and ratio is not None:
                rows.append(RetentionTier(score, ratio))
        return tuple(sorted(rows, key=lambda tier: tier.min_score, reverse=True))

    @staticmethod
    def initial_for(
        *, scheme: Scheme, annual_rate: Decimal, tiers: tuple[RetentionTier, ...], source: str
    ) -> dict[str, Any]:
        """Initial values: the current rate and tiers, highest threshold first."""
        initial: dict[str, Any] = {
            "scheme": scheme.code,
            "source": source,
            "annual_rate": annual_rate,
        }
        ordered = sorted(tiers, key=lambda tier: tier.min_score, reverse=True)
        for row, tier in enumerate(ordered[:TIER_ROWS], start=1):
            initial[f"tier_{row}_min_score"] = tier.min_score
            initial[f"tier_{row}_ratio"] = tier.retention_ratio
        return initial
