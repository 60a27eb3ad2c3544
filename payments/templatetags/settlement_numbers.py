"""Number formats of the settlement dashboards: two places, thousands grouped with commas as
Chinese financial statements write them (Django's zh-hans format has no grouping)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from payments.charts import group_thousands
from payments.formulas import round_half_up

register = template.Library()

EMPTY = "—"


@register.filter
def money(value: Decimal | int | None) -> str:
    """``1234567.5`` → ``1,234,567.50``; empty → ``—``."""
    if value is None or value == "":
        return EMPTY
    return group_thousands(round_half_up(Decimal(value), 2))


@register.filter
def count(value: int | None) -> str:
    """``123456`` → ``123,456``."""
    if value is None or value == "":
        return EMPTY
    return f"{int(value):,}"


@register.filter
def share_percent(value: Decimal | None) -> str:
    """A share (``0.6667``) as a percentage with two places (``66.67%``)."""
    if value is None or value == "":
        return EMPTY
    return f"{round_half_up(Decimal(value) * 100, 2)}%"


@register.filter
def percent(value: Decimal | None) -> str:
    """A percentage already computed (``12.5``) with two places (``12.50%``)."""
    if value is None or value == "":
        return EMPTY
    return f"{round_half_up(Decimal(value), 2)}%"
