"""What-if simulation for regulators (issue 3, Deliver 8): the fund payable per institution if a
scheme's annual rate or retention tiers were different, beside the current figure.

A projection is pure: it reads either the figures a finished annual run recorded (members,
member days, spending, quality score) or fresh figures from the settlement selectors, and applies
CONTRACTS §4 through ``payments.formulas.settle``, the function the settlement runs use. It never
writes a run, a line or anything else.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.utils.translation import gettext as _

from cloud_management.models import Institution
from payments import selectors
from payments.formulas import (
    DEFAULT_QUALITY_WEIGHTS,
    FormulaError,
    Period,
    RetentionTier,
    SettlementFigures,
    parse_period,
    quality_score,
    round_quality_score,
    settle,
    tiers_from_mapping,
    validate_retention_tiers,
)
from payments.models import Scheme, SettlementRun
from payments.registry import collect_quality_figures, get_quality_provider


class WhatIfError(Exception):
    """A projection cannot be made; the message is user-facing."""


class Source(StrEnum):
    RUN = "run"  # the latest finished annual run's recorded figures
    LEDGER = "ledger"  # fresh figures from the members and the claim ledger


@dataclass(frozen=True)
class Parameters:
    """What a regulator may change: the annual rate and the retention tiers."""

    annual_rate: Decimal
    tiers: tuple[RetentionTier, ...]

    def __post_init__(self) -> None:
        if self.annual_rate < 0:
            raise WhatIfError(_("The annual rate cannot be negative."))
        try:
            validate_retention_tiers(self.tiers)
        except FormulaError as exc:
            raise WhatIfError(str(exc)) from exc

    @property
    def ordered_tiers(self) -> tuple[RetentionTier, ...]:
        return tuple(sorted(self.tiers, key=lambda tier: tier.min_score, reverse=True))


@dataclass(frozen=True)
class ProjectedLine:
    institution: Institution
    quality_score: Decimal | None
    current: SettlementFigures
    projected: SettlementFigures

    @property
    def difference(self) -> Decimal:
        """Projected minus current fund payable."""
        return self.projected.fund_payable - self.current.fund_payable


@dataclass(frozen=True)
class Projection:
    scheme: Scheme
    period: Period
    source: Source
    run: SettlementRun | None
    current_parameters: Parameters
    parameters: Parameters
    lines: tuple[ProjectedLine, ...]
    # Set when the ledger was read without a quality-indicator provider: every Q is empty.
    has_quality: bool = True

    @property
    def current_budget(self) -> Decimal:
        return sum((line.current.budget for line in self.lines), Decimal("0.00"))

    @property
    def projected_budget(self) -> Decimal:
        return sum((line.projected.budget for line in self.lines), Decimal("0.00"))

    @property
    def current_fund_payable(self) -> Decimal:
        return sum((line.current.fund_payable for line in self.lines), Decimal("0.00"))

    @property
    def projected_fund_payable(self) -> Decimal:
        return sum((line.projected.fund_payable for line in self.lines), Decimal("0.00"))

    @property
    def difference(self) -> Decimal:
        return self.projected_fund_payable - self.current_fund_payable


def latest_final_run(*, scheme: Scheme) -> SettlementRun | None:
    """The scheme's finished annual run, if any."""
    return selectors.get_latest_finished_run(scheme=scheme, period=str(scheme.year))


def current_parameters(*, scheme: Scheme, run: SettlementRun | None) -> Parameters:
    """The rate and tiers a run used, or the scheme's own when there is no run."""
    if run is not None and run.annual_rate is not None and "tiers" in run.parameters:
        return Parameters(run.annual_rate, tiers_from_mapping(run.parameters["tiers"]))
    return Parameters(scheme.annual_rate, scheme.retention_tiers())


def project(
    *,
    scheme: Scheme,
    parameters: Parameters,
    source: Source = Source.RUN,
    institution_ids: Collection[int] | None = None,
) -> Projection:
    """The projection of the scheme's year under ``parameters``, for ``institution_ids``
    (``None``: every institution with members). From the latest finished annual run when
    ``source`` is RUN and there is one; otherwise from the ledger."""
    run = latest_final_run(scheme=scheme) if source == Source.RUN else None
    if run is not None:
        return project_from_run(run=run, parameters=parameters, institution_ids=institution_ids)
    return project_from_ledger(
        scheme=scheme, parameters=parameters, institution_ids=institution_ids
    )


def _settle(
    period: Period,
    parameters: Parameters,
    *,
    enrolees: int,
    member_days: int,
    spending: Decimal,
    score: Decimal | None,
) -> SettlementFigures:
    return settle(
        period=period,
        annual_rate=parameters.annual_rate,
        enrolees=enrolees,
        member_days=member_days,
        spending=spending,
        quality_score=score,
        tiers=parameters.tiers,
    )


def project_from_run(
    *,
    run: SettlementRun,
    parameters: Parameters,
    institution_ids: Collection[int] | None = None,
) -> Projection:
    """Apply ``parameters`` to the figures a finished annual run recorded; the current figures
    are the run's lines as they stand. One query for the lines."""
    period = parse_period(run.period)
    if not period.is_final:
        raise WhatIfError(
            _("A what-if projection needs a year's run, not %(period)s.") % {"period": run.period}
        )
    lines = run.lines.select_related("institution__district").order_by("institution__code")
    if institution_ids is not None:
        lines = lines.filter(institution_id__in=sorted(institution_ids))
    projected = []
    for line in lines:
        current = SettlementFigures(
            enrolees=line.enrolees,
            member_days=line.member_days,
            budget=line.budget,
            spending=line.spending,
            balance=line.balance,
            quality_score=line.quality_score,
            retention_ratio=line.retention_ratio,
            retained=line.retained,
            overspend=line.overspend,
            fund_payable=line.fund_payable,
        )
        projected.append(
            ProjectedLine(
                institution=line.institution,
                quality_score=line.quality_score,
                current=current,
                projected=_settle(
                    period,
                    parameters,
                    enrolees=line.enrolees,
                    member_days=line.member_days,
                    spending=line.spending,
                    score=line.quality_score,
                ),
            )
        )
    return Projection(
        scheme=run.scheme,
        period=period,
        source=Source.RUN,
        run=run,
        current_parameters=current_parameters(scheme=run.scheme, run=run),
        parameters=parameters,
        lines=tuple(projected),
    )


def project_from_ledger(
    *,
    scheme: Scheme,
    parameters: Parameters,
    institution_ids: Collection[int] | None = None,
) -> Projection:
    """Apply the scheme's current parameters and ``parameters`` to fresh figures of its year:
    members and spending from the settlement selectors (one grouped query each) and quality
    from the registered provider. Without a provider every quality score is empty."""
    period = parse_period(str(scheme.year))
    members = selectors.membership_figures(
        kind=scheme.kind,
        period_start=period.start,
        period_end=period.end,
        institution_ids=institution_ids,
    )
    ids = sorted(members)
    spending = selectors.spending_figures(
        kind=scheme.kind,
        period_start=period.start,
        period_end=period.end,
        categories=scheme.category_list(),
        diagnosis_prefixes=scheme.prefix_list(),
        institution_ids=ids,
    )
    has_quality = get_quality_provider() is not None
    quality = collect_quality_figures(period.year, ids) if has_quality and ids else {}
    institutions = Institution.objects.select_related("district").in_bulk(ids)
    current = current_parameters(scheme=scheme, run=None)
    projected = []
    for institution_id in sorted(ids, key=lambda pk: institutions[pk].code):
        membership = members[institution_id]
        spent = spending.get(institution_id)
        amount = spent.spending if spent is not None else Decimal("0.00")
        figures = quality.get(institution_id)
        score = (
            round_quality_score(quality_score(figures, DEFAULT_QUALITY_WEIGHTS))
            if figures is not None
            else None
        )
        figures_under = [
            _settle(
                period,
                chosen,
                enrolees=membership.enrolees,
                member_days=membership.member_days,
                spending=amount,
                score=score,
            )
            for chosen in (current, parameters)
        ]
        projected.append(
            ProjectedLine(
                institution=institutions[institution_id],
                quality_score=score,
                current=figures_under[0],
                projected=figures_under[1],
            )
        )
    return Projection(
        scheme=scheme,
        period=period,
        source=Source.LEDGER,
        run=None,
        current_parameters=current,
        parameters=parameters,
        lines=tuple(projected),
        has_quality=has_quality,
    )
