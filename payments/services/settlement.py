"""Settlement runs (CONTRACTS §4): a scheme's settlement for a period, institution by institution.

A run goes pending → running → finished (or failed). The steps are separate services so that
the Celery tasks can fan a run out per institution and the in-process path can run it whole:

1. :func:`request_settlement_run` creates the pending run, or returns the one under way;
2. :func:`begin_settlement_run` copies the scheme's parameters into the run, checks the inputs
   and lists the institutions with at least one member day;
3. :func:`settle_institutions` computes and stores the lines of some of those institutions;
   repeating it for institutions already settled writes nothing;
4. :func:`finish_settlement_run` records the inputs digest, marks the earlier finished run
   superseded and this one finished, in one transaction.

A run that fails is marked failed (:func:`fail_settlement_run`); earlier runs are only ever
touched in step 4, so a failure changes no earlier result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from payments import selectors
from payments.formulas import (
    DEFAULT_QUALITY_WEIGHTS,
    FormulaError,
    Indicator,
    IndicatorFigures,
    Period,
    PeriodError,
    QualityWeight,
    parse_period,
    quality_score,
    round_half_up,
    settle,
    tiers_from_mapping,
    tiers_to_mapping,
    validate_retention_tiers,
)
from payments.models import QualityAssessment, Scheme, SettlementLine, SettlementRun
from payments.registry import QualityProviderError, collect_quality_figures, get_quality_provider

logger = logging.getLogger(__name__)

Status = SettlementRun.Status
# An in-process run settles its institutions in this many steps (each two grouped queries),
# so that progress shows while it runs.
PROGRESS_STEPS = 10


class SettlementError(Exception):
    """A run cannot go on; the message is user-facing and is stored as the run's error."""


# Errors that fail a run with a message for the operator; anything else is a defect and is
# re-raised after the run is marked failed.
EXPECTED_ERRORS = (SettlementError, QualityProviderError, FormulaError)


def _period_for(scheme: Scheme, text: str) -> Period:
    try:
        period = parse_period(text)
    except PeriodError as exc:
        raise ValidationError({"period": str(exc)}) from exc
    if period.year != scheme.year:
        raise ValidationError(
            {
                "period": _("The scheme %(code)s is for %(year)s; %(period)s is another year.")
                % {"code": scheme.code, "year": scheme.year, "period": text}
            }
        )
    return period


@transaction.atomic
def request_settlement_run(*, scheme: Scheme, period: str) -> tuple[SettlementRun, bool]:
    """A pending run for the scheme and period, or the run already under way for them.

    Returns the run and whether it was created. Two requests while a run is pending or running
    give that one run (a partial unique constraint holds it under concurrency).
    """
    parsed = _period_for(scheme, period)
    active = SettlementRun.objects.filter(
        scheme=scheme, period=str(parsed), status__in=SettlementRun.ACTIVE_STATUSES
    )
    existing = active.first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            run = SettlementRun.objects.create(
                scheme=scheme,
                period=str(parsed),
                period_start=parsed.start,
                period_end=parsed.end,
            )
    except IntegrityError:
        # Another request created it between the lookup and the insert.
        return active.get(), False
    return run, True


def _weights_to_mapping(weights: Sequence[QualityWeight]) -> list[dict[str, str]]:
    return [
        {"indicator": str(w.indicator), "weight": str(w.weight), "target": str(w.target)}
        for w in weights
    ]


def _weights_from_mapping(rows: Sequence[dict[str, str]]) -> tuple[QualityWeight, ...]:
    return tuple(
        QualityWeight(Indicator(row["indicator"]), Decimal(row["weight"]), Decimal(row["target"]))
        for row in rows
    )


@transaction.atomic
def begin_settlement_run(*, run_id: int) -> SettlementRun:
    """Start a pending run: copy the scheme's parameters, check the inputs and list the
    institutions to settle. Beginning a running run again returns it unchanged."""
    return _begin(run_id)[0]


def _begin(
    run_id: int,
) -> tuple[SettlementRun, dict[int, selectors.MembershipFigures] | None]:
    """:func:`begin_settlement_run`, also returning the membership figures it listed the
    institutions from (``None`` for a run that had already begun)."""
    run = SettlementRun.objects.select_for_update().select_related("scheme").get(pk=run_id)
    if run.status == Status.RUNNING:
        return run, None
    if run.status != Status.PENDING:
        raise SettlementError(
            _("Run %(id)s is %(status)s and cannot start.")
            % {"id": run.pk, "status": run.get_status_display()}
        )
    scheme = run.scheme
    period = parse_period(run.period)
    if period.year != scheme.year:
        raise SettlementError(
            _("The scheme %(code)s is for %(year)s, not %(period)s.")
            % {"code": scheme.code, "year": scheme.year, "period": run.period}
        )
    categories = scheme.category_list()
    if not categories:
        raise SettlementError(_("The scheme covers no claim category."))
    tiers = scheme.retention_tiers()
    validate_retention_tiers(tiers)
    if period.is_final and get_quality_provider() is None:
        raise SettlementError(
            _("No quality-indicator provider is registered; a final settlement needs one.")
        )
    members = selectors.membership_figures(
        kind=scheme.kind, period_start=period.start, period_end=period.end
    )
    institution_ids = sorted(members)
    run.annual_rate = scheme.annual_rate
    run.days_in_year = period.days_in_year
    run.parameters = {
        "kind": scheme.kind,
        "categories": list(categories),
        "diagnosis_prefixes": list(scheme.prefix_list()),
        "tiers": tiers_to_mapping(tiers),
        "quality_weights": _weights_to_mapping(DEFAULT_QUALITY_WEIGHTS),
        "institution_ids": institution_ids,
    }
    run.institutions_total = len(institution_ids)
    run.status = Status.RUNNING
    run.progress = 0
    run.started_at = timezone.now()
    run.error = ""
    run.save()
    return run, members


def _assessment(
    run: SettlementRun, institution_id: int, figures: IndicatorFigures, score: Decimal | None
) -> QualityAssessment:
    values = figures.values()
    numerators = figures.numerators()

    def share(indicator: Indicator) -> Decimal | None:
        return None if values is None else round_half_up(values[indicator], 4)

    population = figures.managed_population
    return QualityAssessment(
        run=run,
        institution_id=institution_id,
        managed_population=population,
        baseline_controlled=figures.baseline_controlled,
        smr_numerator=numerators[Indicator.SMR],
        smr_denominator=population,
        smr_value=share(Indicator.SMR),
        gcr_numerator=numerators[Indicator.GCR],
        gcr_denominator=population,
        gcr_value=share(Indicator.GCR),
        htr_numerator=numerators[Indicator.HTR],
        htr_denominator=population,
        htr_value=share(Indicator.HTR),
        gci_numerator=numerators[Indicator.GCI],
        gci_denominator=population,
        gci_value=share(Indicator.GCI),
        score=score,
    )


@dataclass(frozen=True)
class SettlementInputs:
    """The figures a run settles from, for some institutions: members, spending and (for a
    year) the quality figures. Gathered once for many institutions, they cost one pass over
    the claim ledger however the institutions are then written in steps."""

    institution_ids: frozenset[int]
    members: dict[int, selectors.MembershipFigures]
    spending: dict[int, selectors.SpendingFigures]
    quality: dict[int, IndicatorFigures]


def gather_settlement_inputs(
    *,
    run: SettlementRun,
    institution_ids: Collection[int],
    members: dict[int, selectors.MembershipFigures] | None = None,
) -> SettlementInputs:
    """Members, spending and quality figures of these institutions for a running run, by the
    parameters the run recorded: one grouped query each, whatever the number of institutions.
    ``members`` already computed for the same period (by the run's beginning) are reused."""
    params = run.parameters
    period = parse_period(run.period)
    ids = sorted({int(i) for i in institution_ids})
    kind = params["kind"]
    if members is None:
        members = selectors.membership_figures(
            kind=kind, period_start=period.start, period_end=period.end, institution_ids=ids
        )
    else:
        wanted = set(ids)
        members = {i: figures for i, figures in members.items() if i in wanted}
    spending = selectors.spending_figures(
        kind=kind,
        period_start=period.start,
        period_end=period.end,
        categories=params["categories"],
        diagnosis_prefixes=params["diagnosis_prefixes"],
        institution_ids=ids,
    )
    quality = collect_quality_figures(period.year, ids) if period.is_final else {}
    return SettlementInputs(
        institution_ids=frozenset(ids), members=members, spending=spending, quality=quality
    )


@transaction.atomic
def settle_institutions(
    *,
    run_id: int,
    institution_ids: Collection[int],
    inputs: SettlementInputs | None = None,
) -> int:
    """Compute and store the lines (and, for a year, the quality assessments) of these
    institutions in a running run; returns the number of lines written.

    ``inputs`` gathered beforehand for these institutions (or more) are used as they are;
    otherwise they are gathered here. Idempotent per ``(run, institution)``: an institution
    that already has its line in this run is skipped. A run that has already finished is left
    as it is.
    """
    run = SettlementRun.objects.select_related("scheme").get(pk=run_id)
    if run.status in (Status.FINISHED, Status.SUPERSEDED):
        return 0
    if run.status != Status.RUNNING:
        raise SettlementError(
            _("Run %(id)s is %(status)s; only a running run settles institutions.")
            % {"id": run.pk, "status": run.get_status_display()}
        )
    params = run.parameters
    ids = sorted({int(i) for i in institution_ids})
    unexpected = set(ids) - set(params["institution_ids"])
    if unexpected:
        raise SettlementError(
            _("Institutions %(ids)s have no members in run %(run)s.")
            % {"ids": sorted(unexpected), "run": run.pk}
        )
    # A (run, institution) settled once stays as it is: a repeated child writes nothing. Two
    # children racing on one institution meet the unique constraint; the loser's task retries
    # and then finds the line.
    settled = set(
        SettlementLine.objects.filter(run=run, institution_id__in=ids).values_list(
            "institution_id", flat=True
        )
    )
    ids = [i for i in ids if i not in settled]
    if not ids:
        return 0
    period = parse_period(run.period)
    if inputs is None or not inputs.institution_ids.issuperset(ids):
        inputs = gather_settlement_inputs(run=run, institution_ids=ids)
    members, spending, quality = inputs.members, inputs.spending, inputs.quality
    vanished = [i for i in ids if i not in members]
    if vanished:
        raise SettlementError(
            _("The members of institutions %(ids)s changed while run %(run)s was under way.")
            % {"ids": vanished, "run": run.pk}
        )
    weights = _weights_from_mapping(params["quality_weights"])
    tiers = tiers_from_mapping(params["tiers"])
    annual_rate = run.annual_rate
    if annual_rate is None:
        raise SettlementError(_("Run %(id)s has no annual rate recorded.") % {"id": run.pk})

    lines: list[SettlementLine] = []
    assessments: list[QualityAssessment] = []
    for institution_id in ids:
        membership = members[institution_id]
        spent = spending.get(institution_id)
        raw_score = quality_score(quality[institution_id], weights) if period.is_final else None
        figures = settle(
            period=period,
            annual_rate=annual_rate,
            enrolees=membership.enrolees,
            member_days=membership.member_days,
            spending=spent.spending if spent else Decimal("0.00"),
            quality_score=raw_score,
            tiers=tiers,
        )
        lines.append(
            SettlementLine(
                run=run,
                institution_id=institution_id,
                claim_lines=spent.claim_lines if spent else 0,
                **asdict(figures),
            )
        )
        if period.is_final:
            assessments.append(
                _assessment(run, institution_id, quality[institution_id], figures.quality_score)
            )
    SettlementLine.objects.bulk_create(lines)
    QualityAssessment.objects.bulk_create(assessments)
    _record_progress(run)
    return len(lines)


def _record_progress(run: SettlementRun) -> None:
    done = SettlementLine.objects.filter(run=run).count()
    total = run.institutions_total
    # 100 is kept for the finished run.
    percent = 99 if total == 0 else min(99, done * 100 // total)
    SettlementRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
        progress=Greatest(F("progress"), percent)
    )


def pending_institutions(*, run: SettlementRun) -> list[int]:
    """The institutions of a running run that have no line yet (for resuming a run)."""
    settled = set(SettlementLine.objects.filter(run=run).values_list("institution_id", flat=True))
    return [i for i in run.parameters.get("institution_ids", []) if i not in settled]


def inputs_digest(run: SettlementRun) -> str:
    """SHA-256 of the parameters a run used and of every figure behind its lines.

    Two runs over the same data and parameters have the same digest, however their work was
    split among workers; any change in members, claim lines counted or quality figures changes
    it.
    """
    lines = SettlementLine.objects.filter(run=run).order_by("institution_id")
    assessments = QualityAssessment.objects.filter(run=run).order_by("institution_id")
    payload = {
        "scheme": run.scheme.code,
        "period": run.period,
        "annual_rate": str(run.annual_rate),
        "days_in_year": run.days_in_year,
        "parameters": run.parameters,
        "lines": [
            [
                line.institution_id,
                line.enrolees,
                line.member_days,
                line.claim_lines,
                str(line.spending),
            ]
            for line in lines
        ],
        "quality": [
            [
                a.institution_id,
                a.managed_population,
                a.smr_numerator,
                a.gcr_numerator,
                a.htr_numerator,
                a.baseline_controlled,
            ]
            for a in assessments
        ],
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


@transaction.atomic
def finish_settlement_run(*, run_id: int) -> SettlementRun:
    """Complete a running run whose institutions are all settled: record its digest and make
    it the result, marking the earlier finished run superseded (CONTRACTS §4)."""
    run = SettlementRun.objects.select_for_update().select_related("scheme").get(pk=run_id)
    if run.status in (Status.FINISHED, Status.SUPERSEDED):
        return run
    if run.status != Status.RUNNING:
        raise SettlementError(
            _("Run %(id)s is %(status)s and cannot finish.")
            % {"id": run.pk, "status": run.get_status_display()}
        )
    missing = pending_institutions(run=run)
    if missing:
        raise SettlementError(
            _("%(count)s institutions of run %(id)s are not settled yet.")
            % {"count": len(missing), "id": run.pk}
        )
    earlier = list(
        SettlementRun.objects.select_for_update()
        .filter(scheme_id=run.scheme_id, period=run.period, status=Status.FINISHED)
        .exclude(pk=run.pk)
    )
    SettlementRun.objects.filter(pk__in=[r.pk for r in earlier]).update(
        status=Status.SUPERSEDED, superseded_by=run
    )
    run.inputs_digest = inputs_digest(run)
    run.status = Status.FINISHED
    run.progress = 100
    run.finished_at = timezone.now()
    run.save()
    return run


@transaction.atomic
def fail_settlement_run(*, run_id: int, error: str) -> SettlementRun:
    """Mark a pending or running run failed with ``error``; a finished run stays finished."""
    run = SettlementRun.objects.select_for_update().get(pk=run_id)
    if run.status in SettlementRun.ACTIVE_STATUSES:
        run.status = Status.FAILED
        run.error = error
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
    return run


def _batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def execute_settlement_run(
    *,
    run_id: int,
    batch_size: int | None = None,
    on_progress: Callable[[SettlementRun], None] | None = None,
) -> SettlementRun:
    """Run a requested run to its end in this process: begin, gather every institution's
    figures in one pass, write their lines in batches, finish. Each step commits, so progress
    is visible while it runs; on an error the run is marked failed and nothing earlier
    changes."""
    try:
        with transaction.atomic():
            run, members = _begin(run_id)
        pending = pending_institutions(run=run)
        # One pass over the ledger for all of them; the steps then only write.
        inputs = None
        if pending:
            with transaction.atomic():
                inputs = gather_settlement_inputs(run=run, institution_ids=pending, members=members)
        size = batch_size or max(1, math.ceil(len(pending) / PROGRESS_STEPS))
        for batch in _batches(pending, size):
            settle_institutions(run_id=run_id, institution_ids=batch, inputs=inputs)
            if on_progress is not None:
                on_progress(SettlementRun.objects.get(pk=run_id))
        return finish_settlement_run(run_id=run_id)
    except EXPECTED_ERRORS as exc:
        return fail_settlement_run(run_id=run_id, error=str(exc))
    except Exception as exc:
        # A defect, not bad input: the run must not stay "running" and block the next request.
        logger.exception("settlement run %s failed", run_id)
        fail_settlement_run(run_id=run_id, error=_("Internal error: %(error)s") % {"error": exc})
        raise


def run_settlement(
    *,
    scheme: Scheme,
    period: str,
    on_progress: Callable[[SettlementRun], None] | None = None,
) -> SettlementRun:
    """Settle a scheme for a period in this process and return the run, finished or failed.
    A run already under way for them is joined rather than duplicated."""
    run, _created = request_settlement_run(scheme=scheme, period=period)
    return execute_settlement_run(run_id=run.pk, on_progress=on_progress)
