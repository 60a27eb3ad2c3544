"""Reading an import file: UTF-8 (a byte-order mark is accepted), comma-separated, a header row
with exactly the kind's column names in any order (CONTRACTS §1).

Whatever makes the file as a whole unreadable raises :class:`ImportFileError` with one line
saying what and where; a data row whose number of cells does not match the header is reported
as that row's error, like any other bad row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext, gettext_noop

from cloud_management.imports.errors import ImportFileError
from cloud_management.imports.registry import Column
from cloud_management.imports.rows import Row


@dataclass
class Table:
    """The rows of a file whose header is right. ``rows`` have as many cells as the header;
    ``misshapen`` rows do not and carry their error."""

    header: list[str]
    rows: list[Row] = field(default_factory=list)
    misshapen: list[Row] = field(default_factory=list)


def describe_columns(columns: Sequence[Column]) -> str:
    """``resident_id, name, phone?``: the notation of CONTRACTS §1."""
    return ", ".join(c.name if c.required else f"{c.name}?" for c in columns)


def guess_encoding(data: bytes) -> str | None:
    """The encoding a file that is not UTF-8 most likely has, to name in the error: UTF-16
    (Excel's "Unicode text") by its byte-order mark, or GBK/GB18030 (what Excel saves "CSV"
    as on a Chinese Windows) when the bytes decode as GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return "GBK/GB18030"


def decode(data: bytes, *, filename: str) -> str:
    """The file's text; a file that is not UTF-8 is an error naming the first bad byte and, when
    it can tell, the encoding the file seems to have."""
    skipped = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skipped:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skipped + exc.start
        where = {
            "file": filename,
            "byte": data[offset],
            "offset": offset,
            "line": data.count(b"\n", 0, offset) + 1,
        }
        encoding = guess_encoding(data)
        if encoding is None:
            message = gettext(
                '"%(file)s" is not UTF-8: byte 0x%(byte)02X at offset %(offset)d (line %(line)d) '
                "cannot be decoded. Save the file as UTF-8 and import it again."
            )
        else:
            message = gettext(
                '"%(file)s" is not UTF-8 (it looks like %(encoding)s): byte 0x%(byte)02X at '
                "offset %(offset)d (line %(line)d) cannot be decoded. Save the file as UTF-8 "
                "and import it again."
            )
        raise ImportFileError(message % {**where, "encoding": encoding}) from None


# Separators that spreadsheets use instead of commas (a semicolon where the decimal mark is a
# comma, a tab for "text" exports), with how the error names them.
_OTHER_SEPARATORS = (
    (";", gettext_noop("semicolons")),
    ("\t", gettext_noop("tabs")),
    ("|", gettext_noop("vertical bars")),
)


def check_header(header: list[str], columns: Sequence[Column], *, filename: str, kind: str) -> None:
    """The header names every required column, no unknown one, none twice."""
    known = {c.name for c in columns}
    described = describe_columns(columns)
    if not any(name in known for name in header):
        for separator, separators in _OTHER_SEPARATORS:
            if len(header) == 1 and any(
                name.strip() in known for name in header[0].split(separator)
            ):
                raise ImportFileError(
                    gettext(
                        '"%(file)s" is not comma-separated: its header row is separated by '
                        "%(separators)s. Save it as a comma-separated CSV file and import it "
                        "again."
                    )
                    % {"file": filename, "separators": gettext(separators)}
                )
        raise ImportFileError(
            gettext(
                '"%(file)s" has no header row: row 1 must name the columns of %(kind)s '
                "(%(columns)s)."
            )
            % {"file": filename, "kind": kind, "columns": described}
        )
    unknown = [
        name or gettext("(column %(position)d has no name)") % {"position": position}
        for position, name in enumerate(header, start=1)
        if name not in known
    ]
    if unknown:
        raise ImportFileError(
            gettext(
                '"%(file)s" has columns that %(kind)s files do not have: %(unknown)s. '
                "The columns are: %(columns)s."
            )
            % {"file": filename, "kind": kind, "unknown": ", ".join(unknown), "columns": described}
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ImportFileError(
            gettext('"%(file)s" names these columns more than once: %(columns)s.')
            % {"file": filename, "columns": ", ".join(repeated)}
        )
    missing = [c.name for c in columns if c.required and c.name not in header]
    if missing:
        raise ImportFileError(
            gettext(
                '"%(file)s" lacks the required columns: %(missing)s. The columns are: %(columns)s.'
            )
            % {"file": filename, "missing": ", ".join(missing), "columns": described}
        )


def read_table(path: str | Path, columns: Sequence[Column], *, kind: str) -> Table:
    """Read and check ``path`` for a kind with ``columns``; rows are numbered as a spreadsheet
    shows the file, the header being row 1, and blank rows are skipped."""
    filename = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImportFileError(gettext('"%(file)s" does not exist.') % {"file": filename}) from None
    except OSError as exc:
        raise ImportFileError(
            gettext('"%(file)s" cannot be read: %(reason)s.')
            % {"file": filename, "reason": exc.strerror or exc.__class__.__name__}
        ) from None
    text = decode(data, filename=filename)
    del data
    if not text.strip():
        raise ImportFileError(
            gettext('"%(file)s" is empty: it has no header row and no data.') % {"file": filename}
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
        check_header(header, columns, filename=filename, kind=kind)
        table = Table(header=header)
        index = {name: position for position, name in enumerate(header)}
        width = len(header)
        rows = table.rows
        for number, cells in enumerate(reader, start=2):
            if len(cells) == width:
                stripped = list(map(str.strip, cells))
                # A row whose cells are all empty is a blank line, not a record.
                if any(stripped):
                    rows.append(Row(number, stripped, index))
            elif any(cell.strip() for cell in cells):
                row = Row(number, [], index)
                # "cells" stands where a column's name would (CONTRACTS §2 line format).
                row.error(
                    "cells",
                    gettext("the row has %(count)d cells but the header has %(width)d")
                    % {"count": len(cells), "width": width},
                )
                table.misshapen.append(row)
    except csv.Error as exc:
        raise ImportFileError(
            gettext('"%(file)s" is not a valid CSV file at line %(line)d: %(reason)s.')
            % {"file": filename, "line": reader.line_num, "reason": exc}
        ) from None
    return table
