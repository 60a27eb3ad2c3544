"""The import kinds ``import_records`` knows, and how an app adds one.

``cloud_management`` cannot import the apps above it (DESIGN.md "Who may import whom"), so a
higher app that owns a CONTRACTS §1 file (``claims``, ``schemes``, ``followups``,
``lab_results``) subclasses :class:`ImportKind` and registers it in its ``AppConfig.ready()``::

    class FollowUpKind(ImportKind):
        name = "followups"
        columns = columns_of("resident_id", "institution_code", "date", "mode", "fbg?", ...)
        model = FollowUp
        fields = ("patient_id", "institution_id", "date", "mode", "fbg", ...)
        natural_key = ("patient_id", "date")
        key_columns = ("resident_id", "date")

        def prepare(self, rows): ...        # set-based look-ups for the whole file
        def parse_row(self, row): ...       # one dict of field values, errors on ``row``

    # chronic_care/apps.py
    def ready(self) -> None:
        register_import_kind(FollowUpKind)

Registration checks the class's shape and is idempotent, because ``ready()`` may run twice.
Tests add a kind for their duration with :func:`registered_temporarily`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext

from cloud_management.imports.errors import UnknownImportKind
from cloud_management.imports.rows import Row


class Column:
    """A column of a CONTRACTS §1 file; optional columns (``phone?``) may be absent or empty."""

    __slots__ = ("name", "required")

    def __init__(self, name: str, *, required: bool = True) -> None:
        self.name = name
        self.required = required

    def __repr__(self) -> str:
        return f"Column({self.name!r}, required={self.required})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Column) and (other.name, other.required) == (
            self.name,
            self.required,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.required))


def columns_of(*specs: str) -> tuple[Column, ...]:
    """Columns written as CONTRACTS §1 writes them: ``"phone?"`` is optional."""
    return tuple(Column(spec.removesuffix("?"), required=not spec.endswith("?")) for spec in specs)


class Record:
    """A row that parsed: its model field values (by attname) and the row it came from."""

    __slots__ = ("row", "values")

    def __init__(self, row: Row, values: dict[str, Any]) -> None:
        self.row = row
        self.values = values

    def __repr__(self) -> str:
        return f"<Record row {self.row.number}>"


class ImportKind(abc.ABC):
    """One KIND of ``import_records``: its columns, how a row becomes model values, and how the
    values are written. One instance serves one import, so it may keep look-ups between
    :meth:`prepare` and :meth:`parse_row`.

    Class attributes:
    - ``name``: the KIND argument;
    - ``columns``: the file's columns (:func:`columns_of`);
    - ``model``: the model the rows become;
    - ``fields``: the attnames :meth:`parse_row` returns, all of them every time;
    - ``natural_key``: the attnames of ``fields`` that a re-import matches on; the database
      holds them unique (CONTRACTS §1 "re-importing ... updates it; it never duplicates it");
    - ``key_columns``: the columns that hold the natural key, to name in a duplicate's report;
    - ``insert_only``: values written when a row is new and left alone on update (a column
      outside the file that has no database default).
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    model: ClassVar[type[models.Model]]
    fields: ClassVar[tuple[str, ...]]
    natural_key: ClassVar[tuple[str, ...]]
    key_columns: ClassVar[tuple[str, ...]]
    insert_only: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        # Set by the service: whether the import runs in a transaction of its own (not inside
        # a caller's), which the PostgreSQL bulk load needs.
        self.owns_transaction = False

    @property
    def update_fields(self) -> tuple[str, ...]:
        """The fields a re-import overwrites."""
        return tuple(f for f in self.fields if f not in self.natural_key)

    @property
    def written_fields(self) -> tuple[str, ...]:
        return (*self.fields, *self.insert_only)

    def prepare(self, rows: Sequence[Row]) -> None:  # noqa: B027 (an optional hook)
        """Load what :meth:`parse_row` looks up, for the whole file in a few queries."""

    @abc.abstractmethod
    def parse_row(self, row: Row) -> dict[str, Any]:
        """The row's values by attname (every name in ``fields``); problems go to ``row``."""

    def check_records(self, records: Sequence[Record]) -> None:  # noqa: B027 (an optional hook)
        """Checks across rows and against the database beyond the natural key's uniqueness
        (which the service checks); report problems with ``record.row.error``. ``records``
        are the rows that parsed, in file order."""

    def write_batches(self, records: Sequence[Record]) -> list[Sequence[Record]]:
        """The records in the order the database can take them: each batch is written before
        the next. One batch by default."""
        return [records]

    def load_clean_file(self, path: str | Path, connection: BaseDatabaseWrapper) -> int | None:
        """Optional, PostgreSQL only: load the whole file in the database in one go, checking
        its rows there, and return how many were written; or return None when any row might
        be bad (the service then undoes whatever was done and takes the general path, which
        reports every bad row). It must accept only what :meth:`parse_row` and the checks
        accept, and write what the general path writes. None by default."""
        return None

    def write_portable(self, records: Sequence[Record]) -> None:
        """Upsert ``records`` through the ORM, on any database."""
        from cloud_management.imports.writers import upsert_portable

        upsert_portable(self, records)

    def write_fast(self, records: Sequence[Record], connection: BaseDatabaseWrapper) -> None:
        """Upsert ``records`` on PostgreSQL: COPY into a temporary table, then one
        ``INSERT ... ON CONFLICT DO UPDATE``."""
        from cloud_management.imports.writers import upsert_copy

        upsert_copy(self, records, connection)


KindT = TypeVar("KindT", bound=type[ImportKind])

_KINDS: dict[str, type[ImportKind]] = {}


def _qualified_name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _check_shape(kind: type[ImportKind]) -> None:
    problems: list[str] = []
    if not (isinstance(kind, type) and issubclass(kind, ImportKind)):
        raise ImproperlyConfigured(f"{kind!r} is not an ImportKind subclass.")
    if getattr(kind, "__abstractmethods__", None):
        problems.append("it does not implement " + ", ".join(sorted(kind.__abstractmethods__)))
    name = getattr(kind, "name", None)
    if not isinstance(name, str) or not name:
        problems.append("`name` must be a non-empty string")
    model = getattr(kind, "model", None)
    if not (isinstance(model, type) and issubclass(model, models.Model)):
        problems.append("`model` must be a model class")
    columns = getattr(kind, "columns", ())
    column_names = [c.name for c in columns if isinstance(c, Column)]
    if not columns or len(column_names) != len(columns):
        problems.append("`columns` must be a non-empty tuple of Column")
    elif len(set(column_names)) != len(column_names):
        problems.append("`columns` names a column twice")
    fields = getattr(kind, "fields", ())
    natural_key = getattr(kind, "natural_key", ())
    if not fields or not natural_key or not set(natural_key) <= set(fields):
        problems.append("`natural_key` must be a non-empty subset of `fields`")
    key_columns = getattr(kind, "key_columns", ())
    if not key_columns or not set(key_columns) <= set(column_names):
        problems.append("`key_columns` must be a non-empty subset of the column names")
    if not problems and model is not None and not _is_unique(model, natural_key):
        problems.append(f"{model.__name__} does not hold {natural_key!r} unique")
    if problems:
        raise ImproperlyConfigured(
            f"Import kind {_qualified_name(kind)} is malformed: " + "; ".join(problems) + "."
        )


def _is_unique(model: type[models.Model], attnames: Sequence[str]) -> bool:
    """Whether the database holds ``attnames`` unique, as ``ON CONFLICT`` needs."""
    names = {model._meta.get_field(a).name for a in attnames}
    if len(names) == 1:
        field = model._meta.get_field(next(iter(names)))
        if getattr(field, "unique", False):
            return True
    for constraint in model._meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.condition is None
            and not constraint.expressions
            and set(constraint.fields) == names
        ):
            return True
    return any(set(together) == names for together in model._meta.unique_together)


def register_import_kind(kind: KindT) -> KindT:
    """Make ``kind`` available to ``import_records``; usable as a class decorator.

    Registering the same class again is a no-op (``ready()`` may run twice); another class
    under a name already taken is a configuration error.
    """
    _check_shape(kind)
    existing = _KINDS.get(kind.name)
    if existing is not None and _qualified_name(existing) != _qualified_name(kind):
        raise ImproperlyConfigured(
            f"The import kind {kind.name!r} is already registered by "
            f"{_qualified_name(existing)}; {_qualified_name(kind)} cannot take it."
        )
    _KINDS[kind.name] = kind
    return kind


def unregister_import_kind(name: str) -> None:
    _KINDS.pop(name, None)


@contextmanager
def registered_temporarily(kind: type[ImportKind]) -> Iterator[type[ImportKind]]:
    """Register ``kind`` for the ``with`` block only (tests)."""
    _check_shape(kind)
    previous = _KINDS.get(kind.name)
    _KINDS[kind.name] = kind
    try:
        yield kind
    finally:
        if previous is None:
            _KINDS.pop(kind.name, None)
        else:
            _KINDS[kind.name] = previous


def import_kind_names() -> list[str]:
    return sorted(_KINDS)


def get_import_kind(name: str) -> type[ImportKind]:
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownImportKind(
            gettext('Unknown import kind "%(kind)s". The kinds are: %(kinds)s.')
            % {"kind": name, "kinds": ", ".join(import_kind_names()) or "-"}
        ) from None
