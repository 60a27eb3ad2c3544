"""The two ways validated records reach the database, with the same result (DESIGN.md "Two ways
to run, one code path"):

- :func:`upsert_copy`, PostgreSQL only: ``COPY`` the records into a temporary table, then one
  ``INSERT ... SELECT ... ON CONFLICT (natural key) DO UPDATE`` that skips unchanged rows;
- :func:`upsert_portable`, any database: ``bulk_create(update_conflicts=True)`` on the natural
  key.

Both run inside the caller's transaction and write only what the kind declares: its ``fields``
on insert and update, its ``insert_only`` values on insert.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

if TYPE_CHECKING:
    from cloud_management.imports.registry import ImportKind, Record

# Rows per COPY statement: bounds the text held in memory at once.
COPY_CHUNK_ROWS = 50_000
PORTABLE_BATCH_SIZE = 1_000


def db_column(model: type[models.Model], attname: str) -> str:
    """The database column of a concrete field, by name or attname."""
    field = model._meta.get_field(attname)
    if not isinstance(field, models.Field) or field.column is None:
        raise TypeError(f"{model.__name__}.{attname} is not a concrete field")
    return field.column


def upsert_portable(kind: ImportKind, records: Sequence[Record]) -> None:
    """``bulk_create(update_conflicts=True)`` on the kind's natural key."""
    if not records:
        return
    model = kind.model
    defaults = dict(kind.insert_only)
    objects = [model(**defaults, **record.values) for record in records]
    model._default_manager.bulk_create(
        objects,
        batch_size=PORTABLE_BATCH_SIZE,
        update_conflicts=True,
        unique_fields=list(kind.natural_key),
        update_fields=list(kind.update_fields),
    )


def _copy_value(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | Decimal | dt.date):
        return str(value)
    raise TypeError(f"cannot COPY a {type(value).__name__}")


def copy_lines(kind: ImportKind | _KeysOnly, records: Sequence[Record]) -> Iterator[str]:
    """The records as COPY text lines, in the column order of :attr:`ImportKind.written_fields`.

    Most rows need no escaping: their values joined with ``str`` are already COPY text (a
    date's ``str`` is ISO, a bool's is ``True``/``False``, which PostgreSQL reads). A line is
    built value by value only when it holds a null or a character COPY escapes.
    """
    fields = kind.fields
    separators = len(fields) - 1
    get = itemgetter(*fields) if len(fields) > 1 else (lambda values: (values[fields[0]],))
    tail = "".join("\t" + _copy_value(v) for v in kind.insert_only.values()) + "\n"
    for record in records:
        values = get(record.values)
        line = "\t".join(map(str, values))
        if (
            None in values
            or "\\" in line
            or "\n" in line
            or "\r" in line
            or line.count("\t") != separators
        ):
            line = "\t".join(map(_copy_value, values))
        yield line + tail


def _copy(connection: BaseDatabaseWrapper, statement: str, text: str) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(statement, io.StringIO(text))
        else:  # psycopg 3
            with raw.copy(statement) as copy:
                copy.write(text)


def upsert_copy(
    kind: ImportKind, records: Sequence[Record], connection: BaseDatabaseWrapper
) -> None:
    """The PostgreSQL path. Usually: COPY into a temporary table, then one ``INSERT ... SELECT
    ... ON CONFLICT DO UPDATE`` in natural-key order (the unique index then grows at its right
    edge instead of at random pages).

    A bulk load (many new rows, see :data:`BULK_LOAD_MIN_ROWS`) instead COPYs the new rows
    straight into the table, in natural-key order, with the table's secondary indexes,
    unique constraints and foreign keys rebuilt afterwards; the rows already there are
    upserted as usual."""
    if not records:
        return
    table = kind.model._meta.db_table
    with connection.cursor() as cursor:
        new: list[Record] = []
        if (
            kind.owns_transaction
            and len(records) >= BULK_LOAD_MIN_ROWS
            and len(records) * 4 >= _estimated_rows(cursor, table)
        ):
            existing = _existing_keys(kind, records, connection, cursor)
            new = [r for r in records if _key(kind, r) not in existing]
        if (
            len(new) >= BULK_LOAD_MIN_ROWS
            and len(new) * 4 >= _estimated_rows(cursor, table)
            and _locked(connection, cursor, table)
        ):
            # Rows another transaction added before the lock are not new any more.
            added = _existing_keys(kind, new, connection, cursor)
            if added:
                new = [r for r in new if _key(kind, r) not in added]
            _bulk_load(kind, records, new, connection, cursor)
        else:
            _upsert_through_temporary_table(kind, records, connection, cursor)


def _key(kind: ImportKind, record: Record) -> tuple[Any, ...]:
    values = record.values
    return tuple([values[name] for name in kind.natural_key])


def _existing_keys(
    kind: ImportKind, records: Sequence[Record], connection: BaseDatabaseWrapper, cursor: Any
) -> set[tuple[Any, ...]]:
    """The natural keys of ``records`` that the table already holds: the keys are COPYed into
    a temporary table and joined with the table, one round trip however many there are."""
    meta = kind.model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    keys = quote(f"import_records_{kind.name}_keys")
    columns = ", ".join(quote(db_column(kind.model, name)) for name in kind.natural_key)
    cursor.execute(f"CREATE TEMPORARY TABLE {keys} AS SELECT {columns} FROM {table} WITH NO DATA")
    key_kind = _KeysOnly(kind)
    for start in range(0, len(records), COPY_CHUNK_ROWS):
        chunk = records[start : start + COPY_CHUNK_ROWS]
        _copy(
            connection,
            f"COPY {keys} ({columns}) FROM STDIN",
            copy_text(key_kind, chunk),
        )
    cursor.execute(f"SELECT {columns} FROM {keys} JOIN {table} USING ({columns})")
    found = {tuple(row) for row in cursor.fetchall()}
    cursor.execute(f"DROP TABLE {keys}")
    return found


class _KeysOnly:
    """A kind's natural key, shaped for :func:`copy_lines`."""

    def __init__(self, kind: ImportKind) -> None:
        self.fields = kind.natural_key
        self.insert_only: dict[str, Any] = {}


def _copy_records(
    kind: ImportKind,
    records: Sequence[Record],
    connection: BaseDatabaseWrapper,
    table: str,
    columns: str,
) -> None:
    """COPY ``records`` in chunks; a helper thread builds the next chunk's text while the
    database takes the current one (the driver releases the GIL while it waits)."""
    chunks = [records[i : i + COPY_CHUNK_ROWS] for i in range(0, len(records), COPY_CHUNK_ROWS)]
    statement = f"COPY {table} ({columns}) FROM STDIN"
    if len(chunks) == 1:
        _copy(connection, statement, copy_text(kind, chunks[0]))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy-text") as pool:
        pending = pool.submit(copy_text, kind, chunks[0])
        for following in [*chunks[1:], None]:
            text = pending.result()
            if following is not None:
                pending = pool.submit(copy_text, kind, following)
            _copy(connection, statement, text)


def copy_text(kind: ImportKind | _KeysOnly, records: Sequence[Record]) -> str:
    return "".join(copy_lines(kind, records))


def _upsert_through_temporary_table(
    kind: ImportKind, records: Sequence[Record], connection: BaseDatabaseWrapper, cursor: Any
) -> None:
    if not records:
        return
    meta = kind.model._meta
    quote = connection.ops.quote_name

    def column(attname: str) -> str:
        return quote(db_column(kind.model, attname))

    table = quote(meta.db_table)
    temporary = quote(f"import_records_{kind.name}")
    columns = ", ".join(column(name) for name in kind.written_fields)
    key = ", ".join(column(name) for name in kind.natural_key)
    updated = [column(name) for name in kind.update_fields]
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
    # Rows that a re-import leaves as they are are not rewritten (no dead tuples, no WAL).
    changed = "({}) IS DISTINCT FROM ({})".format(
        ", ".join(f"{table}.{c}" for c in updated), ", ".join(f"EXCLUDED.{c}" for c in updated)
    )
    cursor.execute(
        f"CREATE TEMPORARY TABLE {temporary} AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    _copy_records(kind, records, connection, temporary, columns)
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {temporary} ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET {assignments} WHERE {changed}"
    )
    cursor.execute(f"DROP TABLE {temporary}")


def _bulk_load(
    kind: ImportKind,
    records: Sequence[Record],
    new: Sequence[Record],
    connection: BaseDatabaseWrapper,
    cursor: Any,
) -> None:
    meta = kind.model._meta
    quote = connection.ops.quote_name
    new_ids = {id(record) for record in new}
    known = [record for record in records if id(record) not in new_ids]
    # Checks queued by earlier batches run now: CREATE INDEX refuses pending trigger events.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # Sorts and index builds in memory, for this transaction only.
    cursor.execute("SELECT set_config('work_mem', %s, true)", [BULK_LOAD_WORK_MEM])
    cursor.execute("SELECT set_config('maintenance_work_mem', %s, true)", [BULK_LOAD_WORK_MEM])
    key_columns = [db_column(kind.model, name) for name in kind.natural_key]
    with _secondary_structures_deferred(cursor, meta.db_table, key_columns):
        _upsert_through_temporary_table(kind, known, connection, cursor)
        columns = ", ".join(quote(db_column(kind.model, name)) for name in kind.written_fields)
        ordered = sorted(new, key=lambda record: _key(kind, record))
        _copy_records(kind, ordered, connection, quote(meta.db_table), columns)


# A load that adds this many new rows, and at least a quarter of the table's size, is a bulk
# load (a district's onboarding, say): the table's secondary indexes, unique constraints and
# foreign keys are rebuilt after it rather than maintained row by row, which is several times
# faster. It locks the table against readers until the import commits.
BULK_LOAD_MIN_ROWS = 100_000
BULK_LOAD_LOCK_TIMEOUT = "5s"
BULK_LOAD_WORK_MEM = "256MB"


def _estimated_rows(cursor: Any, table: str) -> float:
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [_quote(table)])
    return max(cursor.fetchone()[0], 0)


def _locked(connection: BaseDatabaseWrapper, cursor: Any, table: str) -> bool:
    """Whether ``table`` could be locked for the rest of the transaction within
    :data:`BULK_LOAD_LOCK_TIMEOUT`: the rebuild needs an exclusive lock, so readers wait for
    the rest of the import; a table busy with long readers is loaded row by row instead."""
    cursor.execute("SELECT current_setting('lock_timeout')")
    lock_timeout = cursor.fetchone()[0]
    try:
        with transaction.atomic(using=connection.alias):
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [BULK_LOAD_LOCK_TIMEOUT])
            cursor.execute(f"LOCK TABLE {_quote(table)} IN ACCESS EXCLUSIVE MODE")
    except OperationalError:
        return False
    finally:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
    return True


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _secondary_structures_deferred(
    cursor: Any, table: str, key_columns: Sequence[str]
) -> Iterator[None]:
    """Drop ``table``'s secondary indexes, unique constraints and foreign keys, and recreate
    them after the block from their own definitions, inside the caller's transaction (so a
    failure restores them). What stays: the primary key, the unique index on the natural key
    (``ON CONFLICT`` needs it) and exclusion constraints (the one-enrolment-a-day rule is
    checked as rows arrive). Building an index from sorted rows, and checking a foreign key
    or a uniqueness for the whole table at once, is several times faster than row by row."""
    quoted = _quote(table)
    cursor.execute(
        """SELECT k.conname, k.contype, pg_get_constraintdef(k.oid),
                  ARRAY(SELECT a.attname::text FROM unnest(k.conkey) AS c(n)
                        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.n)
           FROM pg_constraint k WHERE k.conrelid = %s::regclass AND k.contype IN ('f', 'u')
             -- a uniqueness another table's foreign key points at must stay
             AND NOT (k.contype = 'u' AND EXISTS (SELECT 1 FROM pg_constraint f
                                                 WHERE f.contype = 'f'
                                                   AND f.conindid = k.conindid))""",
        [quoted],
    )
    constraints = [
        (name, definition)
        for name, kind, definition, columns in cursor.fetchall()
        if not (kind == "u" and sorted(columns) == sorted(key_columns))
    ]
    cursor.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i
           WHERE i.indrelid = %s::regclass AND NOT i.indisprimary
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
             AND NOT (i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
                      AND ARRAY(SELECT a.attname::text FROM unnest(i.indkey) AS c(n)
                                JOIN pg_attribute a
                                  ON a.attrelid = i.indrelid AND a.attnum = c.n
                                ORDER BY a.attname) = %s::text[])""",
        [quoted, sorted(key_columns)],
    )
    indexes = cursor.fetchall()
    for name, _definition in constraints:
        cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {_quote(name)}")
    for name, _definition in indexes:
        # regclass::text is already quoted (and schema-qualified where needed).
        cursor.execute(f"DROP INDEX {name}")
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {quoted} ADD CONSTRAINT {_quote(name)} {definition}")
