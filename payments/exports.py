"""Settlement exports in CONTRACTS §4's columns.

CSV is written with a UTF-8 byte-order mark, so that spreadsheet programs used by the regulators
open the Chinese names correctly, and with formula injection neutralised: a text cell that a
spreadsheet would read as a formula gets a leading apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO

from payments.models import SettlementLine

COLUMNS: tuple[str, ...] = (
    "institution_code",
    "enrolees",
    "member_days",
    "budget",
    "spending",
    "balance",
    "quality_score",
    "retention_ratio",
    "retained",
    "overspend",
    "fund_payable",
)
BOM = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def escape_cell(value: str) -> str:
    """``value`` made safe for a spreadsheet: a text cell starting like a formula is prefixed
    with an apostrophe. Numbers are left alone, so a negative balance stays a number."""
    if not value.startswith(_FORMULA_STARTS):
        return value
    try:
        Decimal(value)
    except ArithmeticError:
        return "'" + value
    # "-30.50" is a number; "-inf" and "-nan" are not numbers a spreadsheet should see.
    return value if Decimal(value).is_finite() else "'" + value


def _two_places(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(Decimal('0.01'))}"


def line_row(line: SettlementLine) -> list[str]:
    """A line as the export's cells, in COLUMNS order (money, score and ratio with two places;
    empty for an interim line's quality columns)."""
    return [
        line.institution.code,
        str(line.enrolees),
        str(line.member_days),
        _two_places(line.budget),
        _two_places(line.spending),
        _two_places(line.balance),
        _two_places(line.quality_score),
        _two_places(line.retention_ratio),
        _two_places(line.retained),
        _two_places(line.overspend),
        _two_places(line.fund_payable),
    ]


def write_csv(rows: Iterable[Sequence[str]], stream: IO[str], *, header: Sequence[str]) -> None:
    """Write a BOM, the header and the rows, every cell escaped."""
    stream.write(BOM)
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([escape_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in row])


def settlement_csv(lines: Iterable[SettlementLine]) -> str:
    """The CSV text of a run's lines (CONTRACTS §4 columns)."""
    buffer = io.StringIO()
    write_csv((line_row(line) for line in lines), buffer, header=COLUMNS)
    return buffer.getvalue()
