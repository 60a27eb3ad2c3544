"""The diabetes quality indicators SMR, GCR, HTR and GCI and the quality score, exactly as
CONTRACTS §5, for any institutions and year, set-based: one SQL statement however many
residents, institutions or readings there are.

For institution *i* and a year:

- a resident's *covered days* are the days of the year on which one of their enrolments at *i*
  runs (both ends included; re-enrolments at *i* add up, days at another institution do not);
- the managed population *M* holds the residents with at least 90 covered days;
- ``required`` = ceil(4 × covered_days / days_in_year);
- SMR counts residents with at least ``required`` face-to-face (clinic or home) follow-ups that
  record a fasting glucose, on distinct covered days (wherever they were given);
- GCR counts residents whose latest fasting glucose on a covered day (follow-ups of any mode and
  verified ``FBG`` lab results, read together through :func:`chronic_care.selectors.measurements`;
  the latest date wins, on one date the highest value) is below 7.0 mmol/L;
- HTR counts residents with an HbA1c value (follow-up or verified ``HBA1C`` result) on a covered
  day;
- GCI = GCR minus the share of *M* whose ``baseline_fbg`` is below 7.0. A resident with several
  enrolments at *i* in the year is judged on the baseline of the earliest of them (the one that
  brought them into the year's management); no baseline counts as not below 7.0.

``through`` cuts the year short (the monthly trend): covered days and readings are those up to
that day, and ``required`` still divides by the days of the whole year, i.e. the figures the
institution would have if the year ended that day.

The counts become :class:`payments.formulas.IndicatorFigures`; the score is
:func:`payments.formulas.quality_score`. :func:`diabetes_quality_figures` is registered with
``payments.registry`` in ``ChronicCareConfig.ready()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db import connection

from chronic_care.models import FollowUp
from chronic_care.selectors import Kind, measurements
from cloud_management.db import with_local_settings
from cloud_management.models import DiabetesEnrollment
from payments.formulas import (
    DEFAULT_QUALITY_WEIGHTS,
    FBG_CONTROLLED_BELOW,
    FOLLOW_UPS_PER_YEAR,
    MANAGED_POPULATION_MIN_DAYS,
    Indicator,
    IndicatorFigures,
    QualityWeight,
    days_in_year,
    quality_score,
    round_quality_score,
)

# The kind of the events that count for SMR (never an exam item code).
VISIT = "VISIT"
# Up to this many institutions, the statement reads only their residents' events.
NARROW_INSTITUTIONS = 40
# PostgreSQL's work_mem for the statement (the default, 4MB, sorts the city's members on disk).
STATEMENT_WORK_MEM = "64MB"


@dataclass(frozen=True)
class MemberIndicators:
    """One resident of an institution's managed population and what they count for."""

    institution_id: int
    patient_id: int
    covered_days: int
    required: int
    counted_follow_ups: int
    latest_fbg: Decimal | None
    latest_fbg_on: dt.date | None
    latest_hba1c_on: dt.date | None
    baseline_fbg: Decimal | None

    @property
    def is_standardized(self) -> bool:
        return self.counted_follow_ups >= self.required

    @property
    def is_controlled(self) -> bool:
        return self.latest_fbg is not None and self.latest_fbg < FBG_CONTROLLED_BELOW

    @property
    def is_hba1c_tested(self) -> bool:
        return self.latest_hba1c_on is not None

    @property
    def was_controlled_at_baseline(self) -> bool:
        return self.baseline_fbg is not None and self.baseline_fbg < FBG_CONTROLLED_BELOW


@dataclass(frozen=True)
class QualityFigures:
    """Indicator values and the quality score of one institution, district or the city."""

    figures: IndicatorFigures
    weights: Sequence[QualityWeight] = DEFAULT_QUALITY_WEIGHTS

    @property
    def managed_population(self) -> int:
        return self.figures.managed_population

    @property
    def values(self) -> dict[Indicator, Fraction] | None:
        return self.figures.values()

    def value(self, indicator: Indicator) -> Fraction | None:
        values = self.values
        return None if values is None else values[indicator]

    @property
    def smr(self) -> Fraction | None:
        return self.value(Indicator.SMR)

    @property
    def gcr(self) -> Fraction | None:
        return self.value(Indicator.GCR)

    @property
    def htr(self) -> Fraction | None:
        return self.value(Indicator.HTR)

    @property
    def gci(self) -> Fraction | None:
        return self.value(Indicator.GCI)

    @property
    def score(self) -> Decimal | None:
        """Q rounded half-up to two places; None when the managed population is empty."""
        return round_quality_score(quality_score(self.figures, self.weights))


EMPTY_FIGURES = IndicatorFigures(
    managed_population=0,
    standardized_managed=0,
    glucose_controlled=0,
    hba1c_tested=0,
    baseline_controlled=0,
)


# --- The statement ------------------------------------------------------------------------------


def _day_count(start: str, end: str) -> str:
    """Days from ``start`` to ``end`` (a date difference), per database."""
    if connection.vendor == "postgresql":
        return f"({end} - {start})"
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


def _year_window(year: int, through: dt.date | None) -> tuple[dt.date, dt.date]:
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if through is not None:
        if through.year != year:
            raise ValueError("`through` must fall in the year.")
        last = through
    return first, last


def _member_statement(
    *,
    year: int,
    through: dt.date | None,
    institution_ids: Collection[int] | None,
    min_days: int = MANAGED_POPULATION_MIN_DAYS,
) -> tuple[str, list[Any]]:
    """One row per (institution, resident with at least ``min_days`` covered days): the SQL
    and its parameters."""
    first, last = _year_window(year, through)
    enrolment_table = connection.ops.quote_name(DiabetesEnrollment._meta.db_table)
    follow_up_table = connection.ops.quote_name(FollowUp._meta.db_table)
    params: list[Any] = []

    institution_filter = ""
    ids: list[int] = []
    enrolled = DiabetesEnrollment.objects.filter(enrolled_on__lte=last).exclude(ended_on__lt=first)
    if institution_ids is not None:
        ids = sorted(set(institution_ids)) or [-1]
        institution_filter = f"AND e.institution_id IN ({', '.join(['%s'] * len(ids))})"
        enrolled = enrolled.filter(institution_id__in=ids)
    # A few institutions: read only their residents' events (through the indexes by
    # patient). Many: every event of the year, which the join to the spans filters anyway,
    # without a semi-join per source.
    narrow = institution_ids is not None and len(ids) <= NARROW_INSTITUTIONS
    residents = enrolled.values("patient_id") if narrow else None
    readings_sql, readings_params = (
        measurements(
            kinds=[Kind.FBG, Kind.HBA1C], patients=residents, date_from=first, date_to=last
        )
        .query.get_compiler(connection=connection)
        .as_sql()
    )
    visit_filter, visit_params = "", []
    if residents is not None:
        subquery, subquery_params = residents.query.get_compiler(connection=connection).as_sql()
        visit_filter = f"AND f.patient_id IN ({subquery})"
        visit_params = list(subquery_params)
    days = _day_count("s", "e")
    # Constants of CONTRACTS §5 written into the statement: comparing a number with a bound
    # parameter would compare it with text on SQLite once it has passed through an aggregate.
    below = str(FBG_CONTROLLED_BELOW)
    # One pass over the members' events: the readings of the measurements selector and, as
    # kind VISIT, the follow-ups that count for SMR. Each (institution, resident, kind) is
    # ranked newest first (on one date the highest value), so a single sort serves the window
    # and the grouping; spans of one institution never overlap, so an event joins at most one
    # span of a member.
    sql = f"""
WITH spans AS (
    SELECT e.institution_id AS inst, e.patient_id AS patient, e.enrolled_on AS started,
           e.baseline_fbg AS baseline,
           CASE WHEN e.enrolled_on > %s THEN e.enrolled_on ELSE %s END AS s,
           CASE WHEN e.ended_on IS NULL OR e.ended_on > %s THEN %s ELSE e.ended_on END AS e
    FROM {enrolment_table} e
    WHERE e.enrolled_on <= %s AND (e.ended_on IS NULL OR e.ended_on >= %s)
    {institution_filter}
),
members AS (
    SELECT inst, patient, SUM({days} + 1) AS covered, MIN(started) AS first_started
    FROM spans
    GROUP BY inst, patient
    HAVING SUM({days} + 1) >= {int(min_days)}
),
member_spans AS (
    SELECT sp.inst, sp.patient, sp.started, sp.baseline, sp.s, sp.e
    FROM spans sp JOIN members m ON m.inst = sp.inst AND m.patient = sp.patient
),
events AS (
    SELECT r.subject, r.kind, r.measured_on, r.reading FROM ({readings_sql}) r
    UNION ALL
    SELECT f.patient_id, %s, f.date, NULL
    FROM {follow_up_table} f
    WHERE f.mode IN (%s, %s) AND f.fbg IS NOT NULL AND f.date >= %s AND f.date <= %s
    {visit_filter}
),
ranked AS (
    SELECT sp.inst, sp.patient, ev.kind, ev.measured_on, ev.reading,
           ROW_NUMBER() OVER (
               PARTITION BY sp.inst, sp.patient, ev.kind
               ORDER BY ev.measured_on DESC, ev.reading DESC
           ) AS position
    FROM member_spans sp
    JOIN events ev ON ev.subject = sp.patient AND ev.measured_on >= sp.s AND ev.measured_on <= sp.e
),
per_member AS (
    SELECT inst, patient,
           COUNT(DISTINCT CASE WHEN kind = %s THEN measured_on END) AS counted,
           MAX(CASE WHEN kind = %s AND position = 1 THEN reading END) AS latest_fbg,
           MAX(CASE WHEN kind = %s AND position = 1 THEN measured_on END) AS latest_fbg_on,
           MAX(CASE WHEN kind = %s AND position = 1 THEN measured_on END) AS hba1c_on
    FROM ranked
    GROUP BY inst, patient
)
SELECT m.inst, m.patient, m.covered, COALESCE(pm.counted, 0) AS counted,
       pm.latest_fbg, pm.latest_fbg_on, pm.hba1c_on, b.baseline AS baseline,
       CASE WHEN pm.latest_fbg < {below} THEN 1 ELSE 0 END AS controlled,
       CASE WHEN b.baseline < {below} THEN 1 ELSE 0 END AS baseline_controlled
FROM members m
LEFT JOIN per_member pm ON pm.inst = m.inst AND pm.patient = m.patient
LEFT JOIN member_spans b
       ON b.inst = m.inst AND b.patient = m.patient AND b.started = m.first_started
"""
    params.extend([first, first, last, last, last, first])
    params.extend(ids)
    params.extend(readings_params)
    params.append(VISIT)
    params.extend(FollowUp.FACE_TO_FACE_MODES)
    params.extend([first, last])
    params.extend(visit_params)
    params.extend([VISIT, Kind.FBG.value, Kind.FBG.value, Kind.HBA1C.value])
    return sql, params


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run the indicator statement and return its rows: one round trip.

    On PostgreSQL the statement runs without JIT compilation and with a larger ``work_mem``
    (``SET LOCAL`` sent with it: the settings end with the statement's implicit transaction,
    or with the caller's transaction when one is open). The planner misjudges the size of the
    aggregated CTEs, so at city scale the default settings spend seconds compiling the plan
    and sort the members on disk (docs/benchmarks/quality.md).
    """
    with connection.cursor() as cursor:
        cursor.execute(with_local_settings(sql, jit=False, work_mem=STATEMENT_WORK_MEM), params)
        return cursor.fetchall()


def _required_sql(year: int) -> str:
    diy = days_in_year(year)
    # ceil(4 × covered / days_in_year) in integer arithmetic (CONTRACTS §5).
    return f"(({int(FOLLOW_UPS_PER_YEAR)} * covered + {diy} - 1) / {diy})"


def _to_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01")).normalize()


# --- Public reads -------------------------------------------------------------------------------


def member_indicators(
    *,
    year: int,
    institution_ids: Collection[int] | None,
    through: dt.date | None = None,
    min_days: int = MANAGED_POPULATION_MIN_DAYS,
) -> list[MemberIndicators]:
    """The managed population of the institutions (None: all) in the year, one row per
    institution and resident, ordered by institution and patient id. One query. The worklists
    pass ``min_days=1`` to see every enrolee, managed or not yet."""
    sql, params = _member_statement(
        year=year, through=through, institution_ids=institution_ids, min_days=min_days
    )
    required = _required_sql(year)
    sql = f"SELECT d.*, {required} AS required FROM ({sql}) d ORDER BY d.inst, d.patient"
    rows = _fetch(sql, params)
    return [
        MemberIndicators(
            institution_id=row[0],
            patient_id=row[1],
            covered_days=int(row[2]),
            counted_follow_ups=int(row[3]),
            latest_fbg=_to_decimal(row[4]),
            latest_fbg_on=_to_date(row[5]),
            latest_hba1c_on=_to_date(row[6]),
            baseline_fbg=_to_decimal(row[7]),
            required=int(row[10]),
        )
        for row in rows
    ]


def indicator_figures(
    *, year: int, institution_ids: Collection[int] | None, through: dt.date | None = None
) -> dict[int, IndicatorFigures]:
    """CONTRACTS §5 counts per institution with a non-empty managed population (None: every
    institution). One query."""
    sql, params = _member_statement(year=year, through=through, institution_ids=institution_ids)
    required = _required_sql(year)
    sql = f"""
SELECT d.inst, COUNT(*),
       SUM(CASE WHEN d.counted >= {required} THEN 1 ELSE 0 END),
       SUM(d.controlled),
       SUM(CASE WHEN d.hba1c_on IS NOT NULL THEN 1 ELSE 0 END),
       SUM(d.baseline_controlled)
FROM ({sql}) d
GROUP BY d.inst
"""
    rows = _fetch(sql, params)
    return {
        row[0]: IndicatorFigures(
            managed_population=int(row[1]),
            standardized_managed=int(row[2]),
            glucose_controlled=int(row[3]),
            hba1c_tested=int(row[4]),
            baseline_controlled=int(row[5]),
        )
        for row in rows
    }


def diabetes_quality_figures(
    year: int, institution_ids: Collection[int]
) -> dict[int, IndicatorFigures]:
    """The payments quality provider (``payments.registry``): CONTRACTS §5 counts of the
    institutions asked for; an institution without a managed population is left out."""
    return indicator_figures(year=year, institution_ids=list(institution_ids))


def pooled(figures: Iterable[IndicatorFigures]) -> IndicatorFigures:
    """The counts of several institutions added up: a district's or the city's figures (each
    institution's members counted with it)."""
    totals = [0, 0, 0, 0, 0]
    for item in figures:
        for index, count in enumerate(
            (
                item.managed_population,
                item.standardized_managed,
                item.glucose_controlled,
                item.hba1c_tested,
                item.baseline_controlled,
            )
        ):
            totals[index] += count
    return IndicatorFigures(*totals)


def month_ends(year: int, today: dt.date) -> list[dt.date]:
    """The last day of each month of ``year`` that has begun by ``today`` (today for the
    running month)."""
    ends = []
    for month in range(1, 13):
        start = dt.date(year, month, 1)
        if start > today:
            break
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        ends.append(min(following - dt.timedelta(days=1), today))
    return ends


def monthly_figures(
    *, year: int, institution_ids: Collection[int] | None, today: dt.date
) -> list[tuple[dt.date, IndicatorFigures]]:
    """Year-to-date figures pooled over the institutions at the end of each month so far: one
    query per month, at most twelve."""
    result = []
    for end in month_ends(year, today):
        figures = indicator_figures(year=year, institution_ids=institution_ids, through=end)
        result.append((end, pooled(figures.values())))
    return result
