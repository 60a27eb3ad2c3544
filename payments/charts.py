"""Server-side SVG charts for the settlement dashboards: no JavaScript, no files to download.

The charts scale to any screen without scaling their text: horizontal positions are
percentages of the chart's width, vertical ones are pixels, so labels stay at a readable size on
a phone and on a desktop alike. Every chart carries a title and a description for screen
readers; the pages show the same figures in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colours meet 3:1 against white (WCAG 1.4.11 for graphics): brand blue, dark orange, green.
BUDGET_COLOUR = "#0a5a9c"
SPENDING_COLOUR = "#b54708"
PAYABLE_COLOUR = "#1d6b2f"
GRID_COLOUR = "#d6dbe0"
INK = "#1b1b1b"
INK_SOFT = "#3d3d3d"

Number = Decimal | int | float


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


def nice_ceiling(value: float, steps: int = 4) -> tuple[float, float]:
    """An axis maximum at least ``value`` and a step of 1, 2, 2.5 or 5 × 10ⁿ that divides it
    into at most ``steps`` parts."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(value / step - 1e-9), step


def _percent(value: float) -> str:
    return f"{value:.3f}%"


def _attributes(title: str, description: str, height: int, chart_id: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="100%"'
        f' height="{height}" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )


def _legend(series: Sequence[Series], y: int) -> list[str]:
    parts = []
    # Keys at fixed fractions of the width, so they never overlap on a phone; a nested <svg>
    # places each key, whose insides are then measured in pixels.
    for index, item in enumerate(series):
        x = index * (100 / max(len(series), 1))
        dash = ' stroke-dasharray="6 4"' if item.dashed else ""
        parts.append(
            f'<svg x="{_percent(x)}" y="{y - 14}" width="1" height="20" overflow="visible">'
            f'<line x1="0" x2="22" y1="9" y2="9" stroke="{item.colour}" stroke-width="6"{dash}/>'
            f'<text x="28" y="14" font-size="15" fill="{INK}">{escape(item.label)}</text></svg>'
        )
    return parts


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[Number], str] = group_thousands,
) -> SafeString:
    """Horizontal grouped bars: each label on its own line, one bar per series below it, the
    value written after the bar. Bars use at most 62 % of the width, so the value always fits
    beside them, on a phone too."""
    bar_height, bar_gap, label_height, group_gap, top = 14, 4, 20, 14, 58
    bars_width = 62.0
    maximum = max(
        (float(v) for item in series for v in item.values if v is not None and v > 0), default=0.0
    )
    axis_max, step = nice_ceiling(maximum)
    group_height = label_height + len(series) * (bar_height + bar_gap) + group_gap
    height = top + len(labels) * group_height + 8
    parts = [_attributes(title, description, height, chart_id), *_legend(series, 18)]
    # Grid lines with their values along the top.
    tick = 0.0
    while tick <= axis_max + 1e-9:
        x = bars_width * tick / axis_max
        anchor = "start" if tick == 0 else "middle"
        parts.append(
            f'<line x1="{_percent(x)}" x2="{_percent(x)}" y1="{top - 10}" y2="{height - 8}"'
            f' stroke="{GRID_COLOUR}" stroke-width="1"/>'
            f'<text x="{_percent(x)}" y="{top - 16}" font-size="13" fill="{INK_SOFT}"'
            f' text-anchor="{anchor}">{escape(group_thousands(tick, 0))}</text>'
        )
        tick += step
    for index, label in enumerate(labels):
        y = top + index * group_height
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="15" font-weight="700" fill="{INK}">'
            f"{escape(label)}</text>"
        )
        for position, item in enumerate(series):
            value = item.values[index]
            bar_y = y + label_height + position * (bar_height + bar_gap)
            if value is None:
                continue
            width = bars_width * max(0.0, float(value)) / axis_max
            text = escape(value_format(value))
            parts.append(
                f'<rect x="0" y="{bar_y}" width="{_percent(width)}" height="{bar_height}"'
                f' fill="{item.colour}"><title>{escape(item.label)}: {text}</title></rect>'
                f'<text x="{_percent(width)}" dx="6" y="{bar_y + bar_height - 2}"'
                f' font-size="13" fill="{INK}">{text}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_format: Callable[[Number], str] = group_thousands,
    height: int = 280,
) -> SafeString:
    """Lines over evenly spaced labels (the months of a year); a missing value breaks the line.
    Each point carries its value as a tooltip title."""
    top, bottom = 44, 30
    plot_height = height - top - bottom
    left, right = 4.0, 97.0
    maximum = max(
        (float(v) for item in series for v in item.values if v is not None and v > 0), default=0.0
    )
    axis_max, step = nice_ceiling(maximum)
    count = max(len(labels), 1)

    def x_of(index: int) -> float:
        return left + (right - left) * (index + 0.5) / count

    def y_of(value: Number) -> float:
        return top + plot_height * (1 - max(0.0, float(value)) / axis_max)

    parts = [_attributes(title, description, height, chart_id), *_legend(series, 18)]
    tick = 0.0
    while tick <= axis_max + 1e-9:
        y = y_of(tick)
        parts.append(
            f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID_COLOUR}"'
            f' stroke-width="1"/>'
            f'<text x="0" y="{y - 4:.1f}" font-size="13" fill="{INK_SOFT}">'
            f"{escape(group_thousands(tick, 0))}</text>"
        )
        tick += step
    for index, label in enumerate(labels):
        parts.append(
            f'<text x="{_percent(x_of(index))}" y="{height - 8}" font-size="14" fill="{INK}"'
            f' text-anchor="middle">{escape(label)}</text>'
        )
    for item in series:
        dash = ' stroke-dasharray="7 5"' if item.dashed else ""
        previous: tuple[float, float] | None = None
        for index, value in enumerate(item.values):
            if value is None:
                previous = None
                continue
            point = (x_of(index), y_of(value))
            if previous is not None:
                parts.append(
                    f'<line x1="{_percent(previous[0])}" y1="{previous[1]:.1f}"'
                    f' x2="{_percent(point[0])}" y2="{point[1]:.1f}" stroke="{item.colour}"'
                    f' stroke-width="3"{dash}/>'
                )
            previous = point
        for index, value in enumerate(item.values):
            if value is None:
                continue
            text = escape(value_format(value))
            parts.append(
                f'<circle cx="{_percent(x_of(index))}" cy="{y_of(value):.1f}" r="5"'
                f' fill="{item.colour}"><title>{escape(labels[index])} · {escape(item.label)}:'
                f" {text}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))
