"""Server-side SVG charts for the dashboards, drawn by pygal: no JavaScript file, no CDN.

pygal renders a chart to an SVG document on the server; the pages embed it inline. Its
interactive tooltips need a script from pygal's web site, which a closed hospital network cannot
reach, so ``js`` is empty: the chart is a static picture, and each page shows the same figures in
a table beside it. Every chart carries a title and a description for screen readers.

Other apps' dashboards (chronic_care's quality pages) draw with the same two functions, so the
platform's charts look alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pygal
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

# Colours meet 3:1 against white (WCAG 1.4.11 for graphics): brand blue, dark orange, green.
BUDGET_COLOUR = "#0a5a9c"
SPENDING_COLOUR = "#b54708"
PAYABLE_COLOUR = "#1d6b2f"
GRID_COLOUR = "#d6dbe0"
INK = "#1b1b1b"
INK_SOFT = "#3d3d3d"

Number = Decimal | int | float

# The chart is drawn 640 units wide and scales to its box; the fonts are sized so that on a
# phone (about 360 px wide, half size) labels stay readable.
_WIDTH = 640
_FONTS = (
    "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif"
)


@dataclass(frozen=True)
class Series:
    """One named row of values; ``None`` is a missing value (no bar, a gap in a line)."""

    label: str
    values: Sequence[Number | None]
    colour: str
    dashed: bool = False


def group_thousands(value: Number, places: int = 2) -> str:
    """``1234567.5`` → ``1,234,567.50``: the grouping of Chinese financial statements."""
    return f"{Decimal(value):,.{places}f}"


def _style(series: Sequence[Series]) -> Style:
    return Style(
        background="white",
        plot_background="white",
        foreground=INK,
        foreground_strong=INK,
        foreground_subtle=GRID_COLOUR,
        colors=tuple(item.colour for item in series),
        font_family=_FONTS,
        label_font_size=20,
        major_label_font_size=20,
        value_font_size=18,
        legend_font_size=20,
        title_font_size=20,
        tooltip_font_size=15,
    )


def _config(series: Sequence[Series]) -> dict[str, Any]:
    return {
        "style": _style(series),
        "js": [],  # no script from pygal's web site: the platform runs on closed networks
        "disable_xml_declaration": True,
        "width": _WIDTH,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": len(series),
        "truncate_legend": -1,
        "truncate_label": -1,
        "show_y_guides": True,
        "show_x_guides": False,
        # Axis ticks in whole yuan; each value's own text comes with it (see _values).
        "value_formatter": lambda value: group_thousands(value, 0),
        "print_values": False,
        "margin": 12,
    }


def nice_ceiling(value: float, steps: int = 4) -> tuple[float, float]:
    """An axis maximum at least ``value`` and a step of 1, 2, 2.5 or 5 × 10ⁿ that divides it
    into at most ``steps`` parts."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step - 1e-9), step


def _axis_ticks(series: Sequence[Series]) -> list[float]:
    """A few round ticks from zero, so axis labels never crowd each other on a phone."""
    maximum = max(
        (float(v) for item in series for v in item.values if v is not None and v > 0), default=0.0
    )
    top, step = nice_ceiling(maximum)
    return [step * index for index in range(round(top / step) + 1)]


def _values(series: Series, value_format: Callable[[Number], str]) -> list[dict[str, Any] | None]:
    """pygal places a bar or a point by a float; the text it writes beside it is the page's own
    formatting of the exact figure (a Decimal amount stays exact to the fen)."""
    return [
        None if value is None else _point(value, value_format(value)) for value in series.values
    ]


def _point(value: Number, text: str) -> dict[str, Any]:
    return {"value": float(value), "formatter": lambda _: text}


def _inline(chart: Any, *, chart_id: str, title: str, description: str) -> SafeString:
    """The SVG for embedding in a page, with an accessible name and description."""
    svg = chart.render(is_unicode=True)
    # The class and ARIA attributes let the page's stylesheet and screen readers find it
    # (pygal's own id stays: its inline style sheet is keyed on it).
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc"'
    )
    svg = svg.replace('<svg xmlns="http://www.w3.org/2000/svg"', head, 1)
    svg = svg.replace('class="pygal-chart"', 'class="chart pygal-chart"', 1)
    accessible = (
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    svg = re.sub(r"(<svg[^>]*>)", lambda match: match.group(1) + accessible, svg, count=1)
    return mark_safe(svg)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[Number], str] = group_thousands,
) -> SafeString:
    """Horizontal grouped bars, one group per label (an institution, a district), the value
    printed beside each bar."""
    config = _config(series) | {"print_values": True}
    chart = pygal.HorizontalBar(
        **config, height=max(240, 90 + 34 * len(series) * max(len(labels), 1))
    )
    chart.x_labels = list(labels)
    chart.y_labels = _axis_ticks(series)
    for item in series:
        chart.add(item.label, _values(item, value_format))
    return _inline(chart, chart_id=chart_id, title=title, description=description)


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[Number], str] = group_thousands,
    height: int = 320,
) -> SafeString:
    """Lines over evenly spaced labels (the months of a year); a missing value breaks the line."""
    chart = pygal.Line(
        **_config(series),
        height=height,
        allow_interruptions=True,
        dots_size=4,
    )
    chart.x_labels = list(labels)
    chart.y_labels = _axis_ticks(series)
    for item in series:
        stroke: dict[str, Any] = {"width": 3}
        if item.dashed:
            stroke["dasharray"] = "8, 5"
        chart.add(item.label, _values(item, value_format), stroke_style=stroke)
    return _inline(chart, chart_id=chart_id, title=title, description=description)
