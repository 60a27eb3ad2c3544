"""Read queries of the regulator settlement dashboards (issue 3, Deliver 6).

Who sees what comes from ``cloud_management.access.scope_of``:
- platform operators and city regulators: every district and institution;
- a district regulator: the institutions of their district; other districts do not exist for
  them (404);
- staff: the lines of their own institutions; the members and claim lines behind a line only
  where they may edit the institution's registry (doctor, nurse, health manager, institution
  administrator);
- patients and users without a role: nothing (404).

Every function here costs a fixed number of queries, however many institutions it covers: the
lines of a run are read in one query and grouped in Python with exact ``Decimal`` sums (a city
has a few hundred lines), and the monthly trend is two grouped queries over the interim runs.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from cloud_management.access import scope_of
from cloud_management.models import District, Institution
from payments import selectors
from payments.formulas import (
    DEFAULT_QUALITY_WEIGHTS,
    Indicator,
    Period,
    budget,
    parse_period,
    round_half_up,
)
from payments.models import ClaimLine, QualityAssessment, Scheme, SettlementLine, SettlementRun

# The spending figure's own SQL building blocks, so that the page joins exactly as it does.
from payments.selectors import _column, _date_param, _in_list, _population, _prefix_filter

Status = SettlementRun.Status


# --- Audience and scope -----------------------------------------------------------------------


class Audience(StrEnum):
    """What a user's settlement pages start from."""

    CITY = "city"  # operators and city regulators: every district
    DISTRICTS = "districts"  # district regulators: their district(s)
    INSTITUTIONS = "institutions"  # staff: their own institutions' lines


def settlement_audience(user: Any) -> Audience | None:
    """The user's audience, or None for patients, anonymous users and users without a role."""
    scope = scope_of(user)
    if scope.is_operator or scope.is_city_regulator:
        return Audience.CITY
    if scope.regulated_district_ids:
        return Audience.DISTRICTS
    if scope.institution_ids:
        return Audience.INSTITUTIONS
    return None


def may_simulate(user: Any) -> bool:
    """The what-if simulation is for regulators and operators."""
    return settlement_audience(user) in (Audience.CITY, Audience.DISTRICTS)


def institutions_for_dashboards(user: Any) -> QuerySet[Institution]:
    """The institutions whose settlement lines the user may see.

    Built from the scope itself rather than ``visible_to``: a member of staff who is also a
    patient must not see their home institution's settlement through their patient record.
    """
    scope = scope_of(user)
    if scope.is_operator or scope.is_city_regulator:
        return Institution.objects.all()
    condition = Q(pk__in=[])
    if scope.regulated_district_ids:
        condition |= Q(district_id__in=sorted(scope.regulated_district_ids))
    if scope.institution_ids:
        condition |= Q(pk__in=sorted(scope.institution_ids))
    return Institution.objects.filter(condition)


def districts_for_dashboards(user: Any) -> QuerySet[District]:
    """The districts whose pages the user may open: none for staff."""
    scope = scope_of(user)
    if scope.is_operator or scope.is_city_regulator:
        return District.objects.all()
    return District.objects.filter(pk__in=sorted(scope.regulated_district_ids))


def may_trace(user: Any, institution: Institution) -> bool:
    """May the user see the members and claim lines behind the institution's line?"""
    scope = scope_of(user)
    if scope.is_operator or scope.is_city_regulator:
        return True
    if institution.district_id in scope.regulated_district_ids:
        return True
    return institution.pk in scope.editable_institution_ids


# --- Schemes, periods and runs ----------------------------------------------------------------


def list_schemes() -> list[Scheme]:
    """Every scheme, the latest year first."""
    return list(Scheme.objects.order_by("-year", "code"))


def finished_periods(*, scheme: Scheme) -> set[str]:
    """The periods of the scheme that have a finished run."""
    return set(
        SettlementRun.objects.filter(scheme=scheme, status=Status.FINISHED).values_list(
            "period", flat=True
        )
    )


def periods_of_year(year: int) -> list[Period]:
    """The year, its quarters and its months: the periods a scheme of that year settles."""
    names = [str(year)]
    names += [f"{year}-Q{quarter}" for quarter in range(1, 5)]
    names += [f"{year}-{month:02d}" for month in range(1, 13)]
    return [parse_period(name) for name in names]


def default_scheme() -> Scheme | None:
    """The scheme of the most recently finished run, else the latest scheme."""
    run = (
        SettlementRun.objects.filter(status=Status.FINISHED)
        .select_related("scheme")
        .order_by("-finished_at", "-id")
        .first()
    )
    if run is not None:
        return run.scheme
    return Scheme.objects.order_by("-year", "code").first()


def default_period(*, scheme: Scheme, finished: Collection[str]) -> str:
    """The final (annual) period when it has a finished run, else the latest finished period,
    else the year."""
    year = str(scheme.year)
    if year in finished or not finished:
        return year
    return max(finished, key=lambda name: parse_period(name).end)


# --- Figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureRow:
    """A settlement line, or the sum of several (a district, the city), for the tables."""

    code: str
    name: str
    institutions: int
    enrolees: int
    member_days: int
    claim_lines: int
    budget: Decimal
    spending: Decimal
    balance: Decimal
    overspend: Decimal
    fund_payable: Decimal
    # Empty on interim lines; for a group, the sum over its final lines.
    retained: Decimal | None
    # An institution's score, or for a group the mean of its institutions' scores.
    quality_score: Decimal | None
    retention_ratio: Decimal | None
    district_code: str = ""
    district_name: str = ""

    @property
    def surplus_rate(self) -> Decimal | None:
        """balance / budget as a percentage with two places; empty without a budget."""
        if self.budget == 0:
            return None
        return round_half_up(Fraction(self.balance) * 100 / Fraction(self.budget), 2)


def lines_for(
    *, run: SettlementRun, institutions: QuerySet[Institution] | None = None
) -> list[SettlementLine]:
    """The run's lines (of ``institutions`` when given), with institution and district, in
    institution-code order: one query."""
    lines = SettlementLine.objects.filter(run=run)
    if institutions is not None:
        lines = lines.filter(institution__in=institutions.values("pk"))
    return list(lines.select_related("institution__district").order_by("institution__code"))


def institution_row(line: SettlementLine) -> FigureRow:
    institution = line.institution
    return FigureRow(
        code=institution.code,
        name=institution.name,
        institutions=1,
        enrolees=line.enrolees,
        member_days=line.member_days,
        claim_lines=line.claim_lines,
        budget=line.budget,
        spending=line.spending,
        balance=line.balance,
        overspend=line.overspend,
        fund_payable=line.fund_payable,
        retained=line.retained,
        quality_score=line.quality_score,
        retention_ratio=line.retention_ratio,
        district_code=institution.district.code,
        district_name=institution.district.name,
    )


def sum_row(lines: Sequence[SettlementLine], *, code: str, name: str) -> FigureRow:
    """The exact sums of ``lines``; the quality score is the mean of the scored lines, rounded
    half-up to two places."""
    scores = [line.quality_score for line in lines if line.quality_score is not None]
    retained = [line.retained for line in lines if line.retained is not None]
    return FigureRow(
        code=code,
        name=name,
        institutions=len(lines),
        enrolees=sum(line.enrolees for line in lines),
        member_days=sum(line.member_days for line in lines),
        claim_lines=sum(line.claim_lines for line in lines),
        budget=sum((line.budget for line in lines), Decimal("0.00")),
        spending=sum((line.spending for line in lines), Decimal("0.00")),
        balance=sum((line.balance for line in lines), Decimal("0.00")),
        overspend=sum((line.overspend for line in lines), Decimal("0.00")),
        fund_payable=sum((line.fund_payable for line in lines), Decimal("0.00")),
        retained=sum(retained, Decimal("0.00")) if retained else None,
        quality_score=(
            round_half_up(Fraction(sum(scores, Decimal(0))) / len(scores), 2) if scores else None
        ),
        retention_ratio=None,
    )


def district_rows(lines: Sequence[SettlementLine]) -> list[FigureRow]:
    """One row per district of the lines, in district-code order."""
    groups: dict[int, list[SettlementLine]] = {}
    for line in lines:
        groups.setdefault(line.institution.district_id, []).append(line)
    rows = []
    for group in groups.values():
        district = group[0].institution.district
        row = sum_row(group, code=district.code, name=district.name)
        rows.append(row)
    return sorted(rows, key=lambda row: row.code)


# --- Quality ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorRow:
    """One quality indicator of an institution: its counts, its share and the points it earns
    (CONTRACTS §5)."""

    indicator: Indicator
    numerator: int
    denominator: int
    value: Decimal | None  # the share as recorded, four places
    weight: Decimal
    target: Decimal
    points: Decimal | None  # weight × min(1, max(0, value) / target), two places


def indicator_rows(
    *, assessment: QualityAssessment, run: SettlementRun | None = None
) -> list[IndicatorRow]:
    """The indicators of an assessment with the weights its run recorded."""
    recorded = (run.parameters if run is not None else {}).get("quality_weights")
    weights = {
        Indicator(row["indicator"]): (Decimal(row["weight"]), Decimal(row["target"]))
        for row in recorded or []
    } or {w.indicator: (w.weight, w.target) for w in DEFAULT_QUALITY_WEIGHTS}
    figures = {
        Indicator.SMR: (
            assessment.smr_numerator,
            assessment.smr_denominator,
            assessment.smr_value,
        ),
        Indicator.GCR: (
            assessment.gcr_numerator,
            assessment.gcr_denominator,
            assessment.gcr_value,
        ),
        Indicator.HTR: (
            assessment.htr_numerator,
            assessment.htr_denominator,
            assessment.htr_value,
        ),
        Indicator.GCI: (
            assessment.gci_numerator,
            assessment.gci_denominator,
            assessment.gci_value,
        ),
    }
    rows = []
    for indicator, (numerator, denominator, value) in figures.items():
        weight, target = weights[indicator]
        points = None
        if denominator:
            share = max(Fraction(0), Fraction(numerator, denominator))
            points = round_half_up(Fraction(weight) * min(Fraction(1), share / Fraction(target)))
        rows.append(
            IndicatorRow(
                indicator=indicator,
                numerator=numerator,
                denominator=denominator,
                value=value,
                weight=weight,
                target=target,
                points=points,
            )
        )
    return rows


def get_assessment(*, run: SettlementRun, institution: Institution) -> QualityAssessment | None:
    return QualityAssessment.objects.filter(run=run, institution=institution).first()


# --- Monthly trend ----------------------------------------------------------------------------


class TrendSource(StrEnum):
    RUN = "run"  # the month's finished interim run
    COMPUTED = "computed"  # computed from the ledger: the month has no finished run
    NONE = "none"  # a month still to come: nothing to show


@dataclass(frozen=True)
class MonthFigures:
    month: int
    period: str
    source: TrendSource
    budget: Decimal | None
    spending: Decimal | None
    fund_payable: Decimal | None


def monthly_trend(
    *,
    scheme: Scheme,
    institution_ids: Collection[int] | None,
    today: dt.date | None = None,
) -> list[MonthFigures]:
    """Budget, spending and fund payable for each month of the scheme's year, summed over the
    institutions (``None``: all of them).

    A month with a finished interim run takes its lines' figures (two queries for the whole
    year). An ended month without one is computed from the ledger with the scheme's current
    rate and rules: two grouped queries per such month (the settlement's own selectors), never
    one per institution. The month under way and later ones have no figures yet. Fund payable
    is only known from a run.
    """
    today = today or timezone.localdate()
    year = scheme.year
    months = [f"{year}-{month:02d}" for month in range(1, 13)]
    runs = dict(
        SettlementRun.objects.filter(
            scheme=scheme, status=Status.FINISHED, period__in=months
        ).values_list("period", "pk")
    )
    from_runs: dict[str, dict[str, Any]] = {}
    if runs:
        lines = SettlementLine.objects.filter(run_id__in=runs.values())
        if institution_ids is not None:
            lines = lines.filter(institution_id__in=sorted(institution_ids))
        for row in (
            lines.order_by()
            .values("run__period")
            .annotate(
                budget=Sum("budget"),
                spending=Sum("spending"),
                fund_payable=Sum("fund_payable"),
                n=Count("pk"),
            )
        ):
            from_runs[row["run__period"]] = dict(row)
    result = []
    for month, name in enumerate(months, start=1):
        if name in runs:
            run_row = from_runs.get(name)
            zero = Decimal("0.00")
            result.append(
                MonthFigures(
                    month=month,
                    period=name,
                    source=TrendSource.RUN,
                    budget=_cents(run_row["budget"]) if run_row else zero,
                    spending=_cents(run_row["spending"]) if run_row else zero,
                    fund_payable=_cents(run_row["fund_payable"]) if run_row else zero,
                )
            )
        elif parse_period(name).end < today:
            # An ended month still waiting for its interim run (the schedule runs on the 1st).
            # The month under way is not computed: its budget would cover days whose claims
            # are not in yet, and at city scale each computed month is a pass over its ledger.
            result.append(_computed_month(scheme, parse_period(name), institution_ids))
        else:
            result.append(
                MonthFigures(
                    month, name, TrendSource.NONE, budget=None, spending=None, fund_payable=None
                )
            )
    return result


def _cents(value: Decimal | float | None) -> Decimal:
    # SQLite sums decimals as floating point; the sums of two-place amounts round back exactly.
    return round_half_up(Decimal(str(value or 0)), 2)


def _computed_month(
    scheme: Scheme, period: Period, institution_ids: Collection[int] | None
) -> MonthFigures:
    members = selectors.membership_figures(
        kind=scheme.kind,
        period_start=period.start,
        period_end=period.end,
        institution_ids=institution_ids,
    )
    spending = selectors.spending_figures(
        kind=scheme.kind,
        period_start=period.start,
        period_end=period.end,
        categories=scheme.category_list(),
        diagnosis_prefixes=scheme.prefix_list(),
        institution_ids=institution_ids,
    )
    # Per institution, rounded, then summed: as an interim run would (CONTRACTS §4).
    month_budget = sum(
        (
            budget(
                annual_rate=scheme.annual_rate,
                member_days=figures.member_days,
                days_in_year=period.days_in_year,
            )
            for figures in members.values()
        ),
        Decimal("0.00"),
    )
    month_spending = sum((figures.spending for figures in spending.values()), Decimal("0.00"))
    return MonthFigures(
        month=period.number or 0,
        period=str(period),
        source=TrendSource.COMPUTED,
        budget=month_budget,
        spending=month_spending,
        fund_payable=None,
    )


# --- Tracing a line -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    masked_resident_id: str
    start: dt.date
    end: dt.date | None
    covered_days: int


def member_rows(memberships: Iterable[Any], *, run: SettlementRun) -> list[MemberRow]:
    """A page of memberships as rows with the covered days inside the run's period."""
    period = parse_period(run.period)
    start_field = (
        "enrolled_on" if run.parameters.get("kind") == Scheme.Kind.PER_DISEASE else ("signed_on")
    )
    rows = []
    for membership in memberships:
        start = getattr(membership, start_field)
        end = membership.ended_on
        first = max(start, period.start)
        last = period.end if end is None else min(end, period.end)
        rows.append(
            MemberRow(
                masked_resident_id=membership.patient.masked_resident_id,
                start=start,
                end=end,
                covered_days=max(0, (last - first).days + 1),
            )
        )
    return rows


def claim_lines_for_trace(*, line: SettlementLine) -> QuerySet[ClaimLine]:
    """The claim lines behind a line (``selectors.claim_lines_behind_line``), also restricted
    to the institution's members so that PostgreSQL can start from the members' index entries
    instead of scanning the period's whole ledger; the result is the same."""
    member_patients = selectors.memberships_behind_line(line=line).order_by().values("patient_id")
    return selectors.claim_lines_behind_line(line=line).filter(patient_id__in=member_patients)


def claim_totals(claims: QuerySet[ClaimLine]) -> tuple[int, Decimal]:
    """How many lines and how much the fund paid for them: one query."""
    totals = claims.order_by().aggregate(n=Count("pk"), paid=Sum("fund_paid"))
    return int(totals["n"] or 0), _cents(totals["paid"])


# --- The claim lines behind a line, page by page ---------------------------------------------


@dataclass(frozen=True)
class ClaimCursor:
    """Where a page of claim lines starts: after this line in (service date, id) order."""

    service_date: dt.date
    pk: int

    def __str__(self) -> str:
        return f"{self.service_date.isoformat()}.{self.pk}"

    @classmethod
    def parse(cls, text: str) -> ClaimCursor:
        """``YYYY-MM-DD.id`` as written by ``str``; ValueError for anything else."""
        day, _, pk = text.partition(".")
        if not pk.isdigit():
            raise ValueError(text)
        return cls(dt.date.fromisoformat(day), int(pk))


@dataclass(frozen=True)
class ClaimPage:
    """A page of the claim lines behind a line, and where the next one starts (None: the last
    page). ``first`` says whether it is the first page."""

    object_list: list[ClaimLine]
    next_cursor: ClaimCursor | None
    first: bool


# The fields the claims page shows, with the resident's and the institution's.
CLAIM_PAGE_FIELDS = (
    "claim_id",
    "service_date",
    "category",
    "diagnosis_code",
    "total_amount",
    "fund_paid",
    "patient__resident_id",
    "institution__code",
)


def claim_page(*, line: SettlementLine, after: ClaimCursor | None, size: int) -> ClaimPage:
    """The ``size`` claim lines behind ``line`` that follow ``after`` in (service date, id)
    order: the same lines as ``selectors.claim_lines_behind_line`` and the same join as the
    spending figure (``selectors.spending_figures``, CONTRACTS §4), without counting them all.

    The run already recorded how many lines there are and what they sum to, so a page does not
    recount them. To find a page without reading every line of the period, the page's ids are
    looked for in a window of days after the cursor, sized from the line's lines per day and
    doubled until it holds a page or reaches the end of the period; each window reads each
    member's lines of those days from the (patient, service date) index. Then the page's lines
    are read by id with the columns shown: at most a few queries per page, however many lines
    the institution has.
    """
    run = line.run
    period_end = run.period_end
    start = run.period_start if after is None else max(run.period_start, after.service_date)
    period_days = (period_end - run.period_start).days + 1
    per_day = max(line.claim_lines, 1) / period_days
    window = max(1, math.ceil(2 * (size + 1) / per_day))
    ids: list[int] = []
    low = start
    while low <= period_end and len(ids) <= size:
        high = min(period_end, low + dt.timedelta(days=window - 1))
        ids += _claim_ids(line=line, low=low, high=high, after=after, limit=size + 1 - len(ids))
        low = high + dt.timedelta(days=1)
        window *= 2
    shown = ids[:size]
    lines = (
        ClaimLine.objects.filter(pk__in=shown)
        .select_related("patient", "institution")
        .only(*CLAIM_PAGE_FIELDS)
        .order_by("service_date", "pk")
    )
    page = list(lines)
    next_cursor = (
        ClaimCursor(page[-1].service_date, page[-1].pk) if len(ids) > size and page else None
    )
    return ClaimPage(object_list=page, next_cursor=next_cursor, first=after is None)


def _claim_ids(
    *, line: SettlementLine, low: dt.date, high: dt.date, after: ClaimCursor | None, limit: int
) -> list[int]:
    """The ids of the first ``limit`` lines behind ``line`` served from ``low`` to ``high``
    (inside the run's period) after ``after``, in (service date, id) order: one query."""
    params_of_run = line.run.parameters
    categories = list(params_of_run["categories"])
    if not categories:
        return []
    p = _population(params_of_run["kind"])
    claims = connection.ops.quote_name(ClaimLine._meta.db_table)
    column = {
        name: _column(ClaimLine, name)
        for name in ("id", "patient", "service_date", "category", "diagnosis_code")
    }
    date = f"c.{column['service_date']}"
    value = _date_param
    category_sql, category_params = _in_list(f"c.{column['category']}", categories)
    prefix_sql, prefix_params = _prefix_filter(
        f"c.{column['diagnosis_code']}", list(params_of_run["diagnosis_prefixes"])
    )
    after_sql = ""
    after_params: list[object] = []
    if after is not None:
        after_sql = f" AND ({date} > %s OR ({date} = %s AND c.{column['id']} > %s))"
        after_params = [value(after.service_date), value(after.service_date), after.pk]
    sql = (
        f"SELECT c.{column['id']} FROM {p.table} m"
        f" JOIN {claims} c ON c.{column['patient']} = m.{p.patient}"
        f" WHERE m.{p.institution} = %s"
        f" AND m.{p.start} <= %s AND (m.{p.end} IS NULL OR m.{p.end} >= %s)"
        f" AND {date} >= %s AND {date} <= %s"
        f" AND {date} >= m.{p.start} AND (m.{p.end} IS NULL OR {date} <= m.{p.end})"
        f" AND {category_sql}{prefix_sql}{after_sql}"
        f" ORDER BY {date}, c.{column['id']} LIMIT %s"
    )
    params = [
        line.institution_id,
        value(high),
        value(low),
        value(low),
        value(high),
        *category_params,
        *prefix_params,
        *after_params,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
