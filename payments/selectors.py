"""Read queries of the payments app: settlement inputs (set-based) and settlement results.

The settlement inputs are grouped aggregates, one query each for all the institutions asked
for, never a query per member or per claim line. They are written in SQL that PostgreSQL and
SQLite both run; the two differ only in date arithmetic and in how a money sum stays exact
(SQLite stores decimals as binary floating point, so its sum is taken in whole fen).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Substr

from cloud_management.db import with_local_settings
from cloud_management.models import DiabetesEnrollment, FamilyDoctorContract
from payments.models import ClaimLine, Scheme, SettlementLine, SettlementRun


@dataclass(frozen=True)
class Population:
    """Where a scheme's members live: the table and its start and end columns (CONTRACTS §4)."""

    table: str
    patient: str
    institution: str
    start: str
    end: str


def _column(model: type[models.Model], name: str) -> str:
    """The quoted database column of ``model.name``."""
    field = model._meta.get_field(name)
    column = field.column if isinstance(field, models.Field) else None
    if column is None:
        raise TypeError(f"{model.__name__}.{name} has no column")
    return connection.ops.quote_name(column)


def _population(kind: str) -> Population:
    model: type[models.Model]
    if kind == Scheme.Kind.PER_DISEASE:
        model, start = DiabetesEnrollment, "enrolled_on"
    elif kind == Scheme.Kind.PER_CAPITA:
        model, start = FamilyDoctorContract, "signed_on"
    else:
        raise ValueError(f"unknown scheme kind {kind!r}")
    return Population(
        table=connection.ops.quote_name(model._meta.db_table),
        patient=_column(model, "patient"),
        institution=_column(model, "institution"),
        start=_column(model, start),
        end=_column(model, "ended_on"),
    )


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _date_param(day: dt.date) -> object:
    # SQLite compares ISO text; PostgreSQL takes the date itself.
    return day.isoformat() if _is_sqlite() else day


def _in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (%s, …)`` with one bound parameter per value, and the parameters."""
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _prefix_filter(column: str, prefixes: Sequence[str]) -> tuple[str, list[Any]]:
    """`` AND (…)``: ``column`` starts with one of the diagnosis-code ``prefixes`` (nothing for
    none). ``substr`` rather than LIKE, because SQLite's LIKE ignores case and codes are
    case-sensitive."""
    if not prefixes:
        return "", []
    sql = " OR ".join(f"substr({column}, 1, %s) = %s" for _ in prefixes)
    return f" AND ({sql})", [value for prefix in prefixes for value in (len(prefix), prefix)]


def _institution_filter(column: str, institution_ids: Collection[int] | None) -> tuple[str, list]:
    if institution_ids is None:
        return "", []
    ids = sorted({int(i) for i in institution_ids})
    if not ids:
        return " AND 1 = 0", []
    sql, params = _in_list(column, ids)
    return f" AND {sql}", params


@dataclass(frozen=True)
class MembershipFigures:
    """An institution's population in a period (CONTRACTS §4)."""

    institution_id: int
    enrolees: int
    member_days: int
    memberships: int


def membership_figures(
    *,
    kind: str,
    period_start: dt.date,
    period_end: dt.date,
    institution_ids: Collection[int] | None = None,
) -> dict[int, MembershipFigures]:
    """Enrolees and member days per institution with at least one member day in the period:
    one grouped query. ``institution_ids=None`` means every institution."""
    p = _population(kind)
    start, end = _date_param(period_start), _date_param(period_end)
    if _is_sqlite():
        days = (
            f"CAST(julianday(MIN(COALESCE(m.{p.end}, %s), %s))"
            f" - julianday(MAX(m.{p.start}, %s)) AS INTEGER) + 1"
        )
    else:
        days = f"LEAST(COALESCE(m.{p.end}, %s), %s) - GREATEST(m.{p.start}, %s) + 1"
    where, where_params = _institution_filter(f"m.{p.institution}", institution_ids)
    sql = (
        f"SELECT m.{p.institution}, COUNT(DISTINCT m.{p.patient}), SUM({days}), COUNT(*)"
        f" FROM {p.table} m"
        f" WHERE m.{p.start} <= %s AND (m.{p.end} IS NULL OR m.{p.end} >= %s){where}"
        f" GROUP BY m.{p.institution}"
    )
    params = [end, end, start, end, start, *where_params]
    with connection.cursor() as cursor:
        # JIT off: a single pass over the ledger, which compiling only slows down.
        cursor.execute(with_local_settings(sql, jit=False), params)
        rows = cursor.fetchall()
    return {
        row[0]: MembershipFigures(
            institution_id=row[0],
            enrolees=int(row[1]),
            member_days=int(row[2]),
            memberships=int(row[3]),
        )
        for row in rows
    }


@dataclass(frozen=True)
class SpendingFigures:
    """What the fund paid for an institution's members on their covered days (CONTRACTS §4)."""

    institution_id: int
    claim_lines: int
    spending: Decimal


def spending_figures(
    *,
    kind: str,
    period_start: dt.date,
    period_end: dt.date,
    categories: Sequence[str],
    diagnosis_prefixes: Sequence[str] = (),
    institution_ids: Collection[int] | None = None,
) -> dict[int, SpendingFigures]:
    """Σ fund_paid per responsible institution: one grouped query joining the claim ledger to
    the population on the member's covered days.

    The institution where the service was given plays no part (CONTRACTS §4). Prefixes are
    compared with ``substr`` because SQLite's LIKE ignores case and codes are case-sensitive.
    A member is never counted twice on one day: neither enrolments nor family-doctor contracts
    of one resident can overlap (database constraints in cloud_management).
    """
    if not categories:
        return {}
    p = _population(kind)
    claims = connection.ops.quote_name(ClaimLine._meta.db_table)
    column = {
        name: _column(ClaimLine, name)
        for name in ("patient", "service_date", "category", "diagnosis_code", "fund_paid")
    }
    start, end = _date_param(period_start), _date_param(period_end)
    if _is_sqlite():
        amount = f"SUM(CAST(ROUND(c.{column['fund_paid']} * 100) AS INTEGER))"
    else:
        amount = f"SUM(c.{column['fund_paid']})"
    category_sql, category_params = _in_list(f"c.{column['category']}", categories)
    prefix_sql, prefix_params = _prefix_filter(f"c.{column['diagnosis_code']}", diagnosis_prefixes)
    where, where_params = _institution_filter(f"m.{p.institution}", institution_ids)
    date = f"c.{column['service_date']}"
    sql = (
        f"SELECT m.{p.institution}, COUNT(*), {amount}"
        f" FROM {p.table} m"
        f" JOIN {claims} c ON c.{column['patient']} = m.{p.patient}"
        f" WHERE m.{p.start} <= %s AND (m.{p.end} IS NULL OR m.{p.end} >= %s)"
        f" AND {date} >= %s AND {date} <= %s"
        f" AND {date} >= m.{p.start} AND (m.{p.end} IS NULL OR {date} <= m.{p.end})"
        f" AND {category_sql}{prefix_sql}{where}"
        f" GROUP BY m.{p.institution}"
    )
    params = [end, start, start, end, *category_params, *prefix_params, *where_params]
    with connection.cursor() as cursor:
        # JIT off: a single pass over the ledger, which compiling only slows down.
        cursor.execute(with_local_settings(sql, jit=False), params)
        rows = cursor.fetchall()
    result = {}
    for institution_id, count, total in rows:
        spending = (Decimal(int(total)).scaleb(-2) if _is_sqlite() else Decimal(total)).quantize(
            Decimal("0.01")
        )
        result[institution_id] = SpendingFigures(
            institution_id=institution_id, claim_lines=int(count), spending=spending
        )
    return result


# --- results --------------------------------------------------------------------------------------


def get_latest_finished_run(*, scheme: Scheme, period: str) -> SettlementRun | None:
    """The run whose lines are the result for the scheme and period (CONTRACTS §4)."""
    return (
        SettlementRun.objects.filter(
            scheme=scheme, period=period, status=SettlementRun.Status.FINISHED
        )
        .order_by("-finished_at", "-id")
        .first()
    )


def list_settlement_lines(*, run: SettlementRun) -> QuerySet[SettlementLine]:
    """The run's lines with their institutions, in institution-code order."""
    return (
        SettlementLine.objects.filter(run=run)
        .select_related("institution")
        .order_by("institution__code")
    )


# --- tracing a line back to its inputs ---


def _population_model(kind: str) -> tuple[type[models.Model], str]:
    if kind == Scheme.Kind.PER_DISEASE:
        return DiabetesEnrollment, "enrolled_on"
    if kind == Scheme.Kind.PER_CAPITA:
        return FamilyDoctorContract, "signed_on"
    raise ValueError(f"unknown scheme kind {kind!r}")


def memberships_behind_line(*, line: SettlementLine) -> QuerySet[models.Model]:
    """The enrolments or contracts whose covered days make up a line's member days."""
    run = line.run
    model, start = _population_model(run.parameters["kind"])
    return (
        model._default_manager.filter(
            institution_id=line.institution_id, **{f"{start}__lte": run.period_end}
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=run.period_start))
        .select_related("patient")
        .order_by(start, "pk")
    )


def claim_lines_behind_line(*, line: SettlementLine) -> QuerySet[ClaimLine]:
    """The claim lines whose fund_paid sums to a line's spending, by the rules the run recorded
    (CONTRACTS §4): in the period, on a day the resident was covered by the institution, in a
    covered category and, where the scheme has prefixes, with a matching diagnosis."""
    run = line.run
    params = run.parameters
    model, start = _population_model(params["kind"])
    covering = model._default_manager.filter(
        patient_id=OuterRef("patient_id"),
        institution_id=line.institution_id,
        **{f"{start}__lte": OuterRef("service_date")},
    ).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=OuterRef("service_date")))
    lines = ClaimLine.objects.filter(
        service_date__gte=run.period_start,
        service_date__lte=run.period_end,
        category__in=params["categories"],
    ).filter(Exists(covering))
    prefixes = params["diagnosis_prefixes"]
    if prefixes:
        # Substr rather than startswith: SQLite's LIKE ignores case, ICD-10 codes do not.
        annotations = {
            f"diagnosis_prefix_{index}": Substr("diagnosis_code", 1, len(prefix))
            for index, prefix in enumerate(prefixes)
        }
        matches = Q()
        for index, prefix in enumerate(prefixes):
            matches |= Q(**{f"diagnosis_prefix_{index}": prefix})
        lines = lines.annotate(**annotations).filter(matches)
    return lines.select_related("patient", "institution").order_by("service_date", "pk")
