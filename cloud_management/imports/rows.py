"""A data row of an import file and the cell parsers every import kind builds on.

A parser reads one cell, records a :class:`FieldError` on the row when the cell is wrong and
returns ``None`` (or ``""`` for text), so a kind's ``parse_row`` reads as a list of columns and
every problem of a row is reported at once, field by field (CONTRACTS §2). Reasons never repeat
the cell's value: a cell may hold a resident ID, which is never shown whole.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.utils.translation import gettext

from cloud_management.identifiers import ResidentIdError, validate_resident_id

T = TypeVar("T")

_DECIMAL = re.compile(r"(-?)(\d+)(?:\.(\d+))?")
_INTEGER = re.compile(r"-?\d+")
# Codes are case-sensitive ASCII (CONTRACTS conventions): printable, no spaces.
_CODE = re.compile(r"[!-~]+")


@dataclass(frozen=True)
class FieldError:
    """One problem with one cell: ``field`` is the column's name in the file."""

    field: str
    reason: str


def is_valid_resident_id(number: str) -> bool:
    """A fast pre-check of a normalised (stripped, upper-case) resident ID.

    True only for IDs that ``identifiers.validate_resident_id`` accepts as they are: ASCII
    digits, the GB 11643 check character, a real birth date from 1880 on. Anything else goes to
    ``validate_resident_id``, which says what is wrong. The module's own validator goes through
    python-stdnum's cleaning several times, which is what a 600,000-row file cannot afford.
    """
    if len(number) != 18 or not number.isascii() or not number[:17].isdigit():
        return False
    # GB 11643: weights 2^(17-i) mod 11, i.e. the 17 digits read in base 13 (stdnum.cn.ric).
    check = (1 - 2 * int(number[:17], 13)) % 11
    if number[17] != ("X" if check == 10 else str(check)):
        return False
    year = int(number[6:10])
    if year < 1880:
        return False
    try:
        dt.date(year, int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return True


def format_row_error(number: int, errors: Sequence[FieldError]) -> str:
    """The contract's line for one bad row: ``row 7: resident_id: checksum does not verify``.

    The frame (``row N: field:``) is the machine-readable format of CONTRACTS §2 and is not
    translated; the reasons are. Several bad fields of one row share its line, separated by
    ``; ``.
    """
    return f"row {number}: " + "; ".join(f"{e.field}: {e.reason}" for e in errors)


class Row:
    """One data row: its number as a spreadsheet shows the file (the header is row 1), its
    cells, and the problems found so far."""

    __slots__ = ("cells", "errors", "index", "number")

    def __init__(self, number: int, cells: list[str], index: Mapping[str, int]) -> None:
        self.number = number
        self.cells = cells
        # Column name → position, shared by every row of the file.
        self.index = index
        self.errors: list[FieldError] = []

    def __repr__(self) -> str:
        return f"<Row {self.number}>"

    # -- raw access and errors ---------------------------------------------------------------

    def cell(self, column: str) -> str:
        """The cell's text, stripped; ``""`` when the cell is empty or its column is absent."""
        position = self.index.get(column)
        return "" if position is None else self.cells[position]

    def error(self, column: str, reason: str) -> None:
        self.errors.append(FieldError(column, reason))

    def has_error(self, *columns: str) -> bool:
        """Whether any of ``columns`` (any column at all when none are named) is bad."""
        if not columns:
            return bool(self.errors)
        return any(e.field in columns for e in self.errors)

    def _present(self, column: str, required: bool) -> str | None:
        position = self.index.get(column)
        value = "" if position is None else self.cells[position]
        if value:
            return value
        if required:
            self.error(column, gettext("must not be empty"))
        return None

    # -- parsers -----------------------------------------------------------------------------

    def text(self, column: str, *, max_length: int, required: bool = True) -> str:
        """Free text; an optional empty cell is ``""`` (Django's empty value for text)."""
        value = self._present(column, required)
        if value is None:
            return ""
        if len(value) > max_length:
            self.error(
                column,
                gettext("must be at most %(count)d characters") % {"count": max_length},
            )
            return ""
        return value

    def code(self, column: str, *, max_length: int) -> str:
        """A required code: case-sensitive printable ASCII without spaces."""
        value = self._present(column, True)
        if value is None:
            return ""
        if not _CODE.fullmatch(value):
            self.error(column, gettext("must be printable ASCII without spaces"))
            return ""
        if len(value) > max_length:
            self.error(
                column,
                gettext("must be at most %(count)d characters") % {"count": max_length},
            )
            return ""
        return value

    def choice(self, column: str, choices: Sequence[str], *, required: bool = True) -> str | None:
        value = self._present(column, required)
        if value is None:
            return None
        if value not in choices:
            self.error(
                column, gettext("must be one of: %(choices)s") % {"choices": ", ".join(choices)}
            )
            return None
        return value

    def boolean(self, column: str) -> bool | None:
        """A required ``true``/``false`` cell (exactly these, as codes are case-sensitive)."""
        value = self._present(column, True)
        if value == "true":
            return True
        if value == "false":
            return False
        if value is not None:
            self.error(column, gettext("must be true or false"))
        return None

    def date(self, column: str, *, required: bool = True) -> dt.date | None:
        """An ISO date, exactly ``YYYY-MM-DD``."""
        value = self._present(column, required)
        if value is None:
            return None
        # fromisoformat alone also takes 20250101 and week dates; the shape check keeps it ISO.
        if len(value) == 10 and value[4] == "-" and value[7] == "-" and value.isascii():
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                if value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit():
                    self.error(column, gettext("is not a valid date"))
                    return None
        self.error(column, gettext("must be a date as YYYY-MM-DD"))
        return None

    def decimal(
        self,
        column: str,
        *,
        max_digits: int,
        decimal_places: int,
        required: bool = True,
        allow_negative: bool = False,
    ) -> Decimal | None:
        """A plain decimal number (``7.5``; no exponent, no thousands separator)."""
        value = self._present(column, required)
        if value is None:
            return None
        match = _DECIMAL.fullmatch(value)
        if match is None:
            self.error(column, gettext("must be a number such as 7.5"))
            return None
        sign, whole, fraction = match.group(1), match.group(2).lstrip("0"), match.group(3) or ""
        fraction = fraction.rstrip("0")
        if sign and not allow_negative:
            self.error(column, gettext("must not be negative"))
            return None
        if len(fraction) > decimal_places:
            self.error(
                column,
                gettext("must have at most %(count)d decimal places") % {"count": decimal_places},
            )
            return None
        if len(whole) > max_digits - decimal_places:
            self.error(
                column,
                gettext("must be less than %(limit)s")
                % {"limit": f"{10 ** (max_digits - decimal_places):,}".replace(",", "")},
            )
            return None
        return Decimal(f"{sign}{whole or '0'}.{fraction or '0'}")

    def integer(
        self,
        column: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = True,
    ) -> int | None:
        value = self._present(column, required)
        if value is None:
            return None
        if not _INTEGER.fullmatch(value):
            self.error(column, gettext("must be a whole number"))
            return None
        number = int(value)
        if minimum is not None and number < minimum:
            self.error(column, gettext("must be at least %(limit)d") % {"limit": minimum})
            return None
        if maximum is not None and number > maximum:
            self.error(column, gettext("must be at most %(limit)d") % {"limit": maximum})
            return None
        return number

    def resident_id(self, column: str = "resident_id") -> str | None:
        """A GB 11643 resident ID, normalised; the reason is identifiers.py's."""
        value = self._present(column, True)
        if value is None:
            return None
        number = value.upper()
        if is_valid_resident_id(number):
            return number
        try:
            return validate_resident_id(value)
        except ResidentIdError as exc:
            # The reasons are marked with gettext_noop in identifiers.py.
            self.error(column, gettext(str(exc)))
            return None

    def lookup(self, column: str, mapping: Mapping[str, T], *, reason: str) -> T | None:
        """The object (or id) a required code refers to; ``reason`` when there is none."""
        value = self._present(column, True)
        if value is None:
            return None
        found = mapping.get(value)
        if found is None:
            self.error(column, reason)
        return found

    def ends_after(
        self, start_column: str, start: dt.date | None, end_column: str, end: dt.date | None
    ) -> None:
        """Report ``end_column`` when the period ends before it starts."""
        if start is not None and end is not None and end < start:
            self.error(
                end_column, gettext("must not be before %(column)s") % {"column": start_column}
            )
