"""Small helpers for the hand-written SQL of the apps' set-based statements."""

from __future__ import annotations

from django.db import connection


def with_local_settings(sql: str, *, jit: bool = True, work_mem: str | None = None) -> str:
    """``sql`` preceded, on PostgreSQL, by ``SET LOCAL`` of the settings asked for, sent in
    the same round trip: they end with the statement's implicit transaction, or with the
    caller's transaction when one is open. Other databases get ``sql`` as it is.

    The apps' large aggregates are single passes whose plans the JIT compiler makes slower by
    seconds, and a few sort more than the default 4 MB of ``work_mem``
    (docs/benchmarks/settlement.md, docs/benchmarks/quality.md)."""
    if connection.vendor != "postgresql":
        return sql
    settings = []
    if not jit:
        settings.append("SET LOCAL jit = off; ")
    if work_mem is not None:
        # A constant of the calling code (such as "64MB"), never user input.
        settings.append(f"SET LOCAL work_mem = '{work_mem}'; ")
    return "".join(settings) + sql
