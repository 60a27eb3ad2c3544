"""The import service behind ``import_records`` (CONTRACTS §2)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext

from cloud_management.identifiers import mask_resident_ids_in_text
from cloud_management.imports.errors import ImportWriteError
from cloud_management.imports.reader import Table, read_table
from cloud_management.imports.registry import ImportKind, Record, get_import_kind
from cloud_management.imports.rows import FieldError, Row, format_row_error

logger = logging.getLogger(__name__)

WritePath = Literal["auto", "fast", "portable"]


@dataclass(frozen=True)
class BadRow:
    number: int
    errors: tuple[FieldError, ...]

    def line(self) -> str:
        return format_row_error(self.number, self.errors)


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: ``imported`` rows were written when ``written``; ``bad_rows`` in
    file order; ``seconds`` per phase (read, validate, write)."""

    kind: str
    rows: int
    imported: int
    written: bool
    write_path: str
    bad_rows: tuple[BadRow, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)

    def error_lines(self) -> list[str]:
        return [bad.line() for bad in self.bad_rows]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A large file makes millions of small containers that live until the import ends; the
    cyclic collector would rescan them again and again (quadratic in the file's size).
    Reference counting still frees them, as hardly anything an import builds is cyclic, and
    the collector runs again when the import is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _resolve_write_path(write_path: WritePath, vendor: str) -> str:
    if write_path == "auto":
        return "fast" if vendor == "postgresql" else "portable"
    if write_path == "fast" and vendor != "postgresql":
        raise ValueError("The fast write path needs PostgreSQL.")
    return write_path


def _report_duplicates(kind: ImportKind, records: list[Record]) -> None:
    """The same natural key twice in one file: the later row is the bad one."""
    key_columns = kind.key_columns
    natural_key = kind.natural_key
    first_row: dict[tuple[Any, ...], int] = {}
    for record in records:
        row = record.row
        if row.errors and row.has_error(*key_columns):
            continue
        values = record.values
        key = tuple([values[name] for name in natural_key])
        first = first_row.setdefault(key, row.number)
        if first != row.number:
            row.error(
                key_columns[0],
                gettext("duplicates row %(row)d (same %(columns)s)")
                % {"row": first, "columns": gettext(" and ").join(key_columns)},
            )


def _keep_recorded_values_of_absent_columns(
    importer: ImportKind, header: list[str], records: list[Record], using: str
) -> None:
    """A file without an optional column says nothing about that column's field: a row that
    updates a recorded one keeps the recorded value (an empty cell, by contrast, clears it).

    An optional column maps to the field of the same name among the kind's ``update_fields``;
    the recorded values are put into the records, so both write paths, and the kind's own
    checks (an enrolment's end date in the overlap check), see the value that stays."""
    kept = [
        column.name
        for column in type(importer).columns
        if not column.required
        and column.name not in header
        and column.name in importer.update_fields
    ]
    if not kept:
        return
    natural_key = importer.natural_key
    by_key = {
        tuple([record.values[name] for name in natural_key]): record
        for record in records
        if not record.row.errors
    }
    if not by_key:
        return
    manager = importer.model._default_manager.using(using)
    # The first key field narrows the query; the whole key picks the record.
    firsts = sorted({key[0] for key in by_key})
    size = 900 if connections[using].vendor == "sqlite" else 20_000
    for start in range(0, len(firsts), size):
        chunk = firsts[start : start + size]
        for found in manager.filter(**{f"{natural_key[0]}__in": chunk}).values_list(
            *natural_key, *kept
        ):
            record = by_key.get(tuple(found[: len(natural_key)]))
            if record is not None:
                record.values.update(zip(kept, found[len(natural_key) :], strict=True))


def import_records(
    *,
    kind: str,
    path: str | Path,
    partial: bool = False,
    write_path: WritePath = "auto",
    using: str = DEFAULT_DB_ALIAS,
) -> ImportOutcome:
    """Validate every row of the CSV file ``path`` as ``kind``, then write them in one
    transaction, updating rows whose natural key exists (CONTRACTS §1-2).

    With any bad row nothing is written, unless ``partial``: then the good rows are. The
    ``fast`` write path (COPY, PostgreSQL) and the ``portable`` one give the same result;
    ``auto`` takes the fast one on PostgreSQL.

    Raises UnknownImportKind, ImportFileError (the file as a whole is unusable) or
    ImportWriteError (the database refused the rows); nothing is written then.
    """
    kind_class = get_import_kind(kind)
    connection = connections[using]
    chosen_path = _resolve_write_path(write_path, connection.vendor)
    with _cyclic_gc_paused():
        return _import(kind_class, path, partial, chosen_path, using, connection)


def _import(
    kind_class: type[ImportKind],
    path: str | Path,
    partial: bool,
    chosen_path: str,
    using: str,
    connection: BaseDatabaseWrapper,
) -> ImportOutcome:
    kind = kind_class.name
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if chosen_path == "fast":
        loaded = _load_clean_file(kind_class(), path, using, connection)
        if loaded is not None:
            seconds["load"] = time.perf_counter() - started
            logger.debug(
                "import_records %s: %d rows loaded in one statement, seconds %s",
                kind,
                loaded,
                seconds,
            )
            return ImportOutcome(kind, loaded, loaded, True, chosen_path, (), seconds)
    table = read_table(path, kind_class.columns, kind=kind)
    seconds["read"] = time.perf_counter() - started
    importer = kind_class()
    try:
        return _validate_and_write(
            importer, table, partial, chosen_path, using, connection, seconds
        )
    except DatabaseError as exc:
        # Deferred constraints are checked at COMMIT, outside the write's own handler.
        raise _refused(exc) from exc


class _NotClean(Exception):
    pass


def _load_clean_file(
    importer: ImportKind, path: str | Path, using: str, connection: BaseDatabaseWrapper
) -> int | None:
    """The kind's one-statement load of a file whose every row is good
    (:meth:`ImportKind.load_clean_file`), in a transaction or savepoint of its own that is
    undone when the kind declines or the database refuses; None then, and the general path
    validates and reports row by row."""
    importer.owns_transaction = not connection.in_atomic_block
    try:
        with transaction.atomic(using=using):
            loaded = importer.load_clean_file(path, connection)
            if loaded is None:
                raise _NotClean
    except (_NotClean, DatabaseError):
        return None
    return loaded


def _refused(exc: DatabaseError) -> ImportWriteError:
    """The rows were validated, so this is a concurrent change or a database limit; the
    database's detail may quote a key, hence the masking."""
    return ImportWriteError(
        gettext("The database refused the import, nothing was written: %(error)s")
        % {"error": mask_resident_ids_in_text(" ".join(str(exc).split()))}
    )


def _validate_and_write(
    importer: ImportKind,
    table: Table,
    partial: bool,
    chosen_path: str,
    using: str,
    connection: BaseDatabaseWrapper,
    seconds: dict[str, float],
) -> ImportOutcome:
    kind_class = type(importer)
    kind = kind_class.name
    # A bulk load may lock and rebuild the table only in a transaction of its own.
    importer.owns_transaction = not connection.in_atomic_block
    with transaction.atomic(using=using):
        started = time.perf_counter()
        importer.prepare(table.rows)
        parse_row = importer.parse_row
        records = [Record(row, parse_row(row)) for row in table.rows]
        _report_duplicates(importer, records)
        _keep_recorded_values_of_absent_columns(importer, table.header, records, using)
        importer.check_records([record for record in records if not record.row.errors])
        good = [record for record in records if not record.row.errors]
        bad: list[Row] = sorted(
            [*table.misshapen, *(record.row for record in records if record.row.errors)],
            key=lambda row: row.number,
        )
        # A row's problems in the order of the kind's columns, whatever order found them.
        order = {column.name: i for i, column in enumerate(kind_class.columns)}
        bad_rows = tuple(
            BadRow(row.number, tuple(sorted(row.errors, key=lambda e: order.get(e.field, -1))))
            for row in bad
        )
        seconds["validate"] = time.perf_counter() - started
        total = len(table.rows) + len(table.misshapen)
        if bad_rows and not partial:
            return ImportOutcome(kind, total, 0, False, chosen_path, bad_rows, seconds)
        started = time.perf_counter()
        for batch in importer.write_batches(good):
            if chosen_path == "fast":
                importer.write_fast(batch, connection)
            else:
                importer.write_portable(batch)
    seconds["write"] = time.perf_counter() - started
    logger.debug(
        "import_records %s: %d rows, %d written, %d bad, %s path, seconds %s",
        kind,
        total,
        len(good),
        len(bad_rows),
        chosen_path,
        seconds,
    )
    return ImportOutcome(kind, total, len(good), True, chosen_path, bad_rows, seconds)
