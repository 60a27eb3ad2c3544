"""A paginator for admin lists over large tables that never counts a whole big table.

Django's paginator runs ``SELECT COUNT(*)`` over the filtered queryset on every list page; on
600,000 residents that alone costs more than the page. This one:

- for an unfiltered queryset on PostgreSQL, reads the planner's row estimate of the table
  (``pg_class.reltuples``, kept fresh by autovacuum's ANALYZE);
- otherwise counts at most ``count_limit + 1`` rows (a bounded ``COUNT`` over ``LIMIT``); when
  that bound is reached on PostgreSQL it uses the planner's estimate for the filtered query
  (``EXPLAIN``), and elsewhere the bound itself.

Counts above ``count_limit`` are therefore estimates; everything at or below it is exact.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.db import connections, models
from django.utils.functional import cached_property


def _is_postgresql(queryset: models.QuerySet[Any]) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def table_row_estimate(queryset: models.QuerySet[Any]) -> int | None:
    """The planner's estimate of the rows in the queryset's table, or None if unknown."""
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    # reltuples is -1 for a table never vacuumed or analysed.
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


def query_row_estimate(queryset: models.QuerySet[Any]) -> int | None:
    """The planner's estimate of the rows the queryset returns (PostgreSQL ``EXPLAIN``)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        row = cursor.fetchone()
    if row is None:
        return None
    plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def is_unfiltered(queryset: models.QuerySet[Any]) -> bool:
    query = queryset.query
    return (
        not query.where
        and not query.distinct
        and query.low_mark == 0
        and query.high_mark is None
        and not query.combinator
    )


class LargeTablePaginator(Paginator):
    """Pages a large queryset without a full ``COUNT(*)`` (see the module docstring)."""

    count_limit = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, models.QuerySet):
            return len(queryset)
        postgresql = _is_postgresql(queryset)
        if postgresql and is_unfiltered(queryset):
            estimate = table_row_estimate(queryset)
            if estimate is not None and estimate > self.count_limit:
                return estimate
        bounded = queryset.order_by().values("pk")[: self.count_limit + 1].count()
        if bounded <= self.count_limit:
            return bounded
        if postgresql:
            estimate = query_row_estimate(queryset)
            if estimate is not None:
                return max(estimate, bounded)
        return bounded
