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


# --- Excel (xlsx) for the dashboards -------------------------------------------------------------

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "0.00"
COUNT_FORMAT = "0"
# The columns that hold numbers with two places (money, quality_score, retention_ratio).
_TWO_PLACE_COLUMNS = frozenset(COLUMNS) - {"institution_code", "enrolees", "member_days"}


def line_values(line: SettlementLine) -> list[str | int | Decimal | None]:
    """A line as typed cells, in COLUMNS order: counts as integers, money, score and ratio as
    two-place decimals, an interim line's quality columns empty."""
    return [
        line.institution.code,
        line.enrolees,
        line.member_days,
        _two_place_value(line.budget),
        _two_place_value(line.spending),
        _two_place_value(line.balance),
        _two_place_value(line.quality_score),
        _two_place_value(line.retention_ratio),
        _two_place_value(line.retained),
        _two_place_value(line.overspend),
        _two_place_value(line.fund_payable),
    ]


def _two_place_value(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


def settlement_xlsx(lines: Iterable[SettlementLine], *, title: str = "settlement") -> bytes:
    """A workbook of one sheet: the header and the run's lines in CONTRACTS §4's columns.

    Money is stored as numbers shown with two places (``0.00``), so regulators can sum and
    filter it; the institution code is text. openpyxl writes strings as inline text, never as
    formulas, unless they start with ``=``: a code never does, and such a cell is escaped like
    the CSV's."""
    # Imported here: openpyxl is only needed by the download, not by every process that
    # imports the exports.
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    if sheet is None:  # pragma: no cover (a new workbook always has a sheet)
        sheet = workbook.create_sheet()
    # Excel forbids some characters in sheet names and limits them to 31.
    sheet.title = "".join(c for c in title if c not in "[]:*?/\\")[:31] or "settlement"
    sheet.append(list(COLUMNS))
    for line in lines:
        values = line_values(line)
        code = values[0]
        values[0] = escape_cell(code) if isinstance(code, str) else code
        sheet.append(values)
    for index, name in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        number_format = MONEY_FORMAT if name in _TWO_PLACE_COLUMNS else None
        if name in ("enrolees", "member_days"):
            number_format = COUNT_FORMAT
        if number_format is not None:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
        sheet.column_dimensions[letter].width = max(12, len(name) + 2)
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
