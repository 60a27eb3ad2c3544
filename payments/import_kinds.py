"""The payments import kinds of CONTRACTS §1: ``schemes`` and ``claims``.

``PaymentsConfig.ready()`` registers them with ``import_records`` (cloud_management's import
registry; payments may import cloud_management, never the reverse). Both go through the
registry's service: every row validated first, bad rows reported ``row N: field: reason``,
all-or-nothing unless ``--partial``, and written by the PostgreSQL COPY path or the portable
ORM path with the same result.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import chain, islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, ClassVar

from django.db import IntegrityError, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.translation import gettext

from cloud_management.imports import writers
from cloud_management.imports.errors import ImportFileError
from cloud_management.imports.reader import check_header
from cloud_management.imports.registry import ImportKind, Record, columns_of
from cloud_management.imports.registry_kinds import institution_ids, max_length, patient_ids
from cloud_management.imports.rows import Row, is_valid_resident_id
from cloud_management.imports.writers import db_column
from cloud_management.models import Patient
from payments.formulas import DEFAULT_RETENTION_TIERS
from payments.models import ClaimLine, QualityTier, Scheme
from payments.models.schemes import LIST_SEPARATOR, split_list

logger = logging.getLogger(__name__)

# ICD-10 with the national clinical extension (GB/T 14396): E11, E11.9, E11.900x001.
_ICD10 = re.compile(r"[A-Z][0-9]{2}(?:\.[0-9A-Za-z]{1,7})?")
# A prefix of such a code: E1, E11, E11.9 (Scheme.clean holds the same rule).
_ICD10_PREFIX = re.compile(r"[A-Z][0-9A-Za-z.]*")
# The scheme years Scheme's check constraint accepts.
_FIRST_YEAR, _LAST_YEAR = 2000, 2100


def _decimal_field(model: type[models.Model], name: str) -> tuple[int, int]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.DecimalField):
        raise TypeError(f"{model.__name__}.{name} is not a DecimalField")
    return field.max_digits or 0, field.decimal_places or 0


class SchemeKind(ImportKind):
    """Payment schemes (CONTRACTS §1 ``schemes``), keyed by ``code``.

    A scheme the file creates gets the default retention tiers of CONTRACTS §4 (the file has
    no tier columns); re-importing a scheme updates its fields and keeps the tiers an operator
    has set in the admin.
    """

    name = "schemes"
    columns = columns_of(
        "code", "name", "kind", "year", "annual_rate", "diagnosis_prefixes?", "categories"
    )
    model = Scheme
    fields = (
        "code",
        "name",
        "kind",
        "year",
        "annual_rate",
        "diagnosis_prefixes",
        "categories",
        "created_at",
        "updated_at",
    )
    natural_key = ("code",)
    key_columns = ("code",)

    @property
    def update_fields(self) -> tuple[str, ...]:
        return tuple(f for f in super().update_fields if f != "created_at")

    def prepare(self, rows: Sequence[Row]) -> None:
        # The timestamp of this import: created_at of new schemes, updated_at of all.
        self.now = timezone.now()
        self.existing_codes = set(Scheme.objects.values_list("code", flat=True))
        self.kinds = Scheme.Kind.values
        self.categories = ClaimLine.Category.values
        self.lengths = {
            name: max_length(Scheme, name)
            for name in ("code", "name", "diagnosis_prefixes", "categories")
        }
        self.rate_digits = _decimal_field(Scheme, "annual_rate")

    def parse_row(self, row: Row) -> dict[str, Any]:
        max_digits, places = self.rate_digits
        return {
            "code": row.code("code", max_length=self.lengths["code"]),
            "name": row.text("name", max_length=self.lengths["name"]),
            "kind": row.choice("kind", self.kinds),
            "year": row.integer("year", minimum=_FIRST_YEAR, maximum=_LAST_YEAR),
            "annual_rate": row.decimal("annual_rate", max_digits=max_digits, decimal_places=places),
            "diagnosis_prefixes": self._prefixes(row),
            "categories": self._categories(row),
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _prefixes(self, row: Row) -> str:
        text = row.text(
            "diagnosis_prefixes", max_length=self.lengths["diagnosis_prefixes"], required=False
        )
        prefixes = split_list(text)
        bad = [p for p in prefixes if not _ICD10_PREFIX.fullmatch(p)]
        if bad:
            row.error(
                "diagnosis_prefixes",
                gettext("not an ICD-10 prefix: %(prefixes)s") % {"prefixes": ", ".join(bad)},
            )
            return ""
        # Stored as Scheme.clean stores them: without blanks or repeats.
        return LIST_SEPARATOR.join(dict.fromkeys(prefixes))

    def _categories(self, row: Row) -> str:
        text = row.text("categories", max_length=self.lengths["categories"])
        if row.has_error("categories"):
            return ""
        categories = split_list(text)
        unknown = [c for c in categories if c not in self.categories]
        if not categories or unknown:
            row.error(
                "categories",
                gettext("must be %(separator)s-separated categories out of: %(choices)s")
                % {"separator": LIST_SEPARATOR, "choices": ", ".join(self.categories)},
            )
            return ""
        return LIST_SEPARATOR.join(dict.fromkeys(categories))

    def _add_default_tiers(self, records: Sequence[Record]) -> None:
        """The schemes this import created get the default tiers of CONTRACTS §4."""
        new_codes = [
            r.values["code"] for r in records if r.values["code"] not in self.existing_codes
        ]
        if not new_codes:
            return
        QualityTier.objects.bulk_create(
            QualityTier(
                scheme_id=scheme_id, min_score=t.min_score, retention_ratio=t.retention_ratio
            )
            for scheme_id in Scheme.objects.filter(code__in=new_codes)
            .order_by("code")
            .values_list("id", flat=True)
            for t in DEFAULT_RETENTION_TIERS
        )
        self.existing_codes.update(new_codes)

    def write_portable(self, records: Sequence[Record]) -> None:
        super().write_portable(records)
        self._add_default_tiers(records)

    def write_fast(self, records: Sequence[Record], connection: BaseDatabaseWrapper) -> None:
        super().write_fast(records, connection)
        self._add_default_tiers(records)


def source_of_claim_id(claim_id: str, sources: frozenset[str]) -> tuple[str, str]:
    """The ``(source, source_ref)`` a new line with ``claim_id`` is recorded under.

    ``post_claim_line`` names a cloud's line ``"<source>:<source_ref>"``; a file line with such
    an ID is that cloud charge, so the cloud posting it later finds it (and vice versa). Any
    other ID is the insurance system's own, referenced by itself.
    """
    source, separator, reference = claim_id.partition(":")
    if separator and reference and source in sources:
        return source, reference
    return ClaimLine.Source.INSURANCE, claim_id


class ClaimKind(ImportKind):
    """Medical-insurance settlement lines (CONTRACTS §1 ``claims``), keyed by ``claim_id``.

    ``0 ≤ fund_paid ≤ total_amount`` (the database holds it too). A line keeps the source it was
    first recorded under: a re-import updates the charge, never where it came from.
    """

    name = "claims"
    columns = columns_of(
        "claim_id",
        "resident_id",
        "institution_code",
        "service_date",
        "category",
        "diagnosis_code",
        "total_amount",
        "fund_paid",
    )
    model = ClaimLine
    fields = (
        "claim_id",
        "patient_id",
        "institution_id",
        "service_date",
        "category",
        "diagnosis_code",
        "total_amount",
        "fund_paid",
        "source",
        "source_ref",
        "created_at",
        "updated_at",
    )
    natural_key = ("claim_id",)
    key_columns = ("claim_id",)
    # Written for a new line only (see update_fields).
    _INSERT_ONLY_FIELDS: ClassVar[tuple[str, ...]] = ("source", "source_ref", "created_at")

    @property
    def update_fields(self) -> tuple[str, ...]:
        return tuple(f for f in super().update_fields if f not in self._INSERT_ONLY_FIELDS)

    def prepare(self, rows: Sequence[Row]) -> None:
        self.now = timezone.now()
        self.patients = patient_ids(rows)
        self.institutions = institution_ids()
        self.categories = ClaimLine.Category.values
        self.sources = frozenset(ClaimLine.Source.values)
        self.claim_id_length = max_length(ClaimLine, "claim_id")
        self.source_ref_length = max_length(ClaimLine, "source_ref")
        self.diagnosis_length = max_length(ClaimLine, "diagnosis_code")
        self.amount_digits = _decimal_field(ClaimLine, "total_amount")
        self.reasons = {
            "resident": gettext("no resident is registered with this ID"),
            "institution": gettext("no institution has this code"),
            "diagnosis": gettext("must be an ICD-10 code such as E11.9"),
            "over_total": gettext("must not be more than total_amount"),
        }

    def parse_row(self, row: Row) -> dict[str, Any]:
        max_digits, places = self.amount_digits
        claim_id = row.code("claim_id", max_length=self.claim_id_length)
        source, source_ref = source_of_claim_id(claim_id, self.sources)
        resident_id = row.resident_id()
        patient_id = None
        if resident_id is not None:
            patient_id = self.patients.get(resident_id)
            if patient_id is None:
                row.error("resident_id", self.reasons["resident"])
        diagnosis_code = row.text("diagnosis_code", max_length=self.diagnosis_length)
        if diagnosis_code and not _ICD10.fullmatch(diagnosis_code):
            row.error("diagnosis_code", self.reasons["diagnosis"])
        total_amount = row.decimal("total_amount", max_digits=max_digits, decimal_places=places)
        fund_paid = row.decimal("fund_paid", max_digits=max_digits, decimal_places=places)
        if total_amount is not None and fund_paid is not None and fund_paid > total_amount:
            row.error("fund_paid", self.reasons["over_total"])
        return {
            "claim_id": claim_id,
            "patient_id": patient_id,
            "institution_id": row.lookup(
                "institution_code", self.institutions, reason=self.reasons["institution"]
            ),
            "service_date": row.date("service_date"),
            "category": row.choice("category", self.categories),
            "diagnosis_code": diagnosis_code,
            "total_amount": total_amount,
            "fund_paid": fund_paid,
            "source": source,
            "source_ref": source_ref,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def load_clean_file(self, path: str | Path, connection: BaseDatabaseWrapper) -> int | None:
        """A file whose every line is good, loaded in the database in one statement
        (:func:`load_clean_claims_file`); None sends it the row-by-row way."""
        return load_clean_claims_file(self, path, connection)

    def check_records(self, records: Sequence[Record]) -> None:
        """Two claim IDs must not name one charge: ``X`` and ``insurance:X`` are both the
        insurance system's charge ``X`` (the ledger holds ``(source, source_ref)`` unique)."""
        # The ledger first: a row that clashes with it does not make a later row a repeat.
        self._check_recorded_origins(records)
        first_row: dict[tuple[str, str], Record] = {}
        for record in records:
            if record.row.errors:
                continue
            values = record.values
            origin = (values["source"], values["source_ref"])
            first = first_row.setdefault(origin, record)
            if first is not record:
                record.row.error(
                    "claim_id",
                    gettext("names the same charge as row %(row)d") % {"row": first.row.number},
                )

    def _check_recorded_origins(self, records: Sequence[Record]) -> None:
        """A new line's ``(source, source_ref)`` must not belong to another recorded line.

        The two writers that name lines (``post_claim_line`` and this kind) derive the origin
        from the ID, so another line can hold a row's origin only when one ID is the long form
        ``insurance:X`` of the other. Lines with a long-form ID are rare (the insurance system
        does not post through the clouds' service), so they are read whole; a file's long-form
        rows look up their short forms."""
        insurance = ClaimLine.Source.INSURANCE
        prefix = f"{insurance}:"
        # The other ID under which each insurance row's charge could be recorded.
        alternatives: dict[str, Record] = {}
        long_form_rows: list[str] = []
        for record in records:
            values = record.values
            if values["source"] != insurance:
                continue
            claim_id = values["claim_id"]
            if claim_id == values["source_ref"]:
                alternatives[prefix + claim_id] = record
            else:
                alternatives[values["source_ref"]] = record
                long_form_rows.append(values["source_ref"])
        origins = {
            claim_id: (source, source_ref)
            for claim_id, source, source_ref in ClaimLine.objects.filter(
                claim_id__startswith=prefix
            ).values_list("claim_id", "source", "source_ref")
        }
        for chunk in _chunks(long_form_rows):
            origins.update(
                (claim_id, (source, source_ref))
                for claim_id, source, source_ref in ClaimLine.objects.filter(
                    claim_id__in=chunk
                ).values_list("claim_id", "source", "source_ref")
            )
        clashes = {
            other_id: record
            for other_id, record in alternatives.items()
            if origins.get(other_id) == (insurance, record.values["source_ref"])
        }
        if not clashes:
            return
        # A row whose own ID is recorded updates that line and keeps its origin: no clash.
        own_ids = [record.values["claim_id"] for record in clashes.values()]
        updating = set(
            ClaimLine.objects.filter(claim_id__in=own_ids).values_list("claim_id", flat=True)
        )
        for other_id, record in sorted(clashes.items(), key=lambda item: item[1].row.number):
            if record.values["claim_id"] in updating:
                continue
            record.row.error(
                "claim_id",
                gettext("names the charge already recorded as claim %(claim_id)s")
                % {"claim_id": other_id},
            )


def _chunks(values: Sequence[str], size: int = 900) -> list[Sequence[str]]:
    # 900: under SQLite's 999 parameters a statement.
    return [values[start : start + size] for start in range(0, len(values), size)]


# --- The claims file loaded by COPY (PostgreSQL) ---------------------------------------------

# Lines per COPY statement: the database reports a line it refuses (a fund_paid over the
# total_amount) when the statement ends, so a load that fails stops within this many lines.
_COPY_LINES = 100_000
# The read size psycopg2's copy_expert asks for; each read returns one checked block.
_COPY_BLOCK = 1 << 16
# The ledger's columns a load sends, in this order; created_at and updated_at are the
# database's default (the statement's time) on a direct load.
_LINE_FIELDS = (
    "claim_id",
    "patient_id",
    "institution_id",
    "service_date",
    "category",
    "diagnosis_code",
    "total_amount",
    "fund_paid",
    "source",
    "source_ref",
)


class _BadCell(Exception):
    pass


class _ClaimLineChecker:
    """The checks of :meth:`ClaimKind.parse_row`, for a file whose every row passes them as it
    stands, turning the rows into the ledger's COPY text, a block of rows at a time.

    Each distinct resident ID, institution code, date, diagnosis code and amount is checked
    once (a file repeats them), and a block's cells are checked a column at a time, by
    built-in functions mapped over the column rather than Python statements per row. A cell
    the row-by-row path would normalise or refuse (blanks around it, anything the checks
    refuse) ends the load: the row-by-row path then decides and names the bad rows. The values
    written are those parse_row gives (amounts as their Decimal, dates in ISO form, the
    registry's ids).
    """

    def __init__(
        self,
        kind: ClaimKind,
        header: Sequence[str],
        patients: dict[str, int],
        institutions: dict[str, int],
    ) -> None:
        self.width = len(header)
        # The file's columns in the order of ClaimKind.columns, whatever the header's order.
        self.pick = itemgetter(*[header.index(c.name) for c in kind.columns])
        self.patients = patients
        self.institutions = {code: str(pk) for code, pk in institutions.items()}
        self.categories = frozenset(ClaimLine.Category.values)
        self.sources = frozenset(ClaimLine.Source.values)
        self.insurance = ClaimLine.Source.INSURANCE.value
        self.claim_id_length = max_length(ClaimLine, "claim_id")
        self.diagnosis_length = max_length(ClaimLine, "diagnosis_code")
        max_digits, places = _decimal_field(ClaimLine, "total_amount")
        self.places, self.whole_digits = places, max_digits - places
        # A column of amounts in the form Row.decimal accepts and PostgreSQL reads as the
        # same value (ASCII digits, no leading zero), one a line: checked in one match, far
        # faster than a look-up per cell.
        self.plain_amounts = re.compile(
            rf"(?:(?:0|[1-9][0-9]{{0,{self.whole_digits - 1}}})(?:\.[0-9]{{1,{places}}})?\n)*"
        )
        # The claim IDs of the last block.
        self.claim_ids: Sequence[str] = ()
        # Per distinct cell that passes: what is written.
        self.residents: dict[str, str] = {}
        self.days: dict[str, str] = {}
        self.diagnoses: dict[str, str] = {}
        self.amounts: dict[str, str] = {}
        self.clean = True

    def _patient(self, cell: str) -> str:
        # Row.resident_id: the cell upper-cased, then GB 11643; the registry holds it so.
        number = cell.upper()
        patient_id = self.patients.get(number) if is_valid_resident_id(number) else None
        return "" if patient_id is None else str(patient_id)

    @staticmethod
    def _day(cell: str) -> str:
        # Row.date: exactly YYYY-MM-DD, a date that exists.
        if len(cell) == 10 and cell[4] == "-" and cell[7] == "-" and cell.isascii():
            try:
                return dt.date.fromisoformat(cell).isoformat()
            except ValueError:
                return ""
        return ""

    def _diagnosis(self, cell: str) -> str:
        # Row.text (required, max_length) and the ICD-10 shape.
        good = 0 < len(cell) <= self.diagnosis_length and _ICD10.fullmatch(cell)
        return cell if good else ""

    def _amount(self, cell: str) -> str:
        # Row.decimal: no sign, at most `places` places and `whole_digits` digits before the
        # point once the zeros that do not count are dropped; written as its Decimal.
        match = _UNSIGNED_DECIMAL.fullmatch(cell)
        if match is None:
            return ""
        whole, fraction = match.group(1).lstrip("0"), (match.group(2) or "").rstrip("0")
        if len(fraction) > self.places or len(whole) > self.whole_digits:
            return ""
        return str(Decimal(f"{whole or '0'}.{fraction or '0'}"))

    @staticmethod
    def _checked(
        cache: dict[str, str], check: Callable[[str], str], cells: Sequence[str]
    ) -> list[str]:
        """What each cell is written as, checking the cells not seen before (the cache
        holds only cells that pass); raises _BadCell when one does not pass."""
        try:
            return list(map(cache.__getitem__, cells))
        except KeyError:
            for cell in set(cells).difference(cache):
                written = check(cell)
                if not written:
                    raise _BadCell from None
                cache[cell] = written
            return list(map(cache.__getitem__, cells))

    def block(self, rows: list[list[str]]) -> str | None:
        """The COPY text of ``rows``; None when a row does not pass.

        ``0 <= fund_paid <= total_amount`` is left to the ledger's check constraint, which
        refuses the COPY (and the row-by-row path then names the row)."""
        if not rows:
            return ""
        if len(set(map(len, rows))) != 1 or len(rows[0]) != self.width:
            # A blank line is no record (reader.read_table); any other odd row is bad.
            rows = [row for row in rows if any(cell.strip() for cell in row)]
            if not rows:
                return ""
            if len(set(map(len, rows))) != 1 or len(rows[0]) != self.width:
                return None
        claim_ids, residents, codes, days, categories, diagnoses, totals, funds = self.pick(
            list(zip(*rows, strict=True))
        )
        self.claim_ids = claim_ids
        # Row.code: printable ASCII without spaces, 1 to claim_id_length characters.
        joined = "".join(claim_ids)
        if (
            not (joined.isascii() and joined.isprintable())
            or " " in joined
            or min(map(len, claim_ids)) == 0
            or max(map(len, claim_ids)) > self.claim_id_length
            or not self.categories.issuperset(categories)
        ):
            return None
        try:
            institution_ids = list(map(self.institutions.__getitem__, codes))
            patient_ids = self._checked(self.residents, self._patient, residents)
            iso_days = self._checked(self.days, self._day, days)
            diagnosis_codes = self._checked(self.diagnoses, self._diagnosis, diagnoses)
            amounts = "\n".join(totals) + "\n" + "\n".join(funds) + "\n"
            if amounts.count("\n") == 2 * len(totals) and self.plain_amounts.fullmatch(amounts):
                # Already as PostgreSQL reads the Decimal parse_row gives (ASCII digits, no
                # leading zero, at most two places), one a cell: written as they are.
                total_amounts, fund_amounts = list(totals), list(funds)
            else:
                total_amounts = self._checked(self.amounts, self._amount, totals)
                fund_amounts = self._checked(self.amounts, self._amount, funds)
        except (KeyError, _BadCell):
            return None
        sources: Iterable[str]
        source_refs: Sequence[str]
        if ":" in joined:
            sources, source_refs = zip(
                *[source_of_claim_id(claim_id, self.sources) for claim_id in claim_ids],
                strict=True,
            )
        else:
            sources, source_refs = repeat(self.insurance), claim_ids
        if "\\" in joined:  # COPY text escapes a backslash
            claim_ids = tuple(c.replace("\\", "\\\\") for c in claim_ids)
            source_refs = tuple(r.replace("\\", "\\\\") for r in source_refs)
        lines = zip(
            claim_ids,
            patient_ids,
            institution_ids,
            iso_days,
            categories,
            diagnosis_codes,
            total_amounts,
            fund_amounts,
            sources,
            source_refs,
            strict=False,  # sources may be repeat(insurance), endless
        )
        return "\n".join(map("\t".join, lines)) + "\n"

    def copy_text(self, blocks: Iterable[list[list[str]]]) -> Iterator[tuple[str, int]]:
        """The COPY text of each block of rows (:func:`_file_blocks`), with its number of
        lines; stops at the first block with a row that does not pass, with ``clean``
        False."""
        self.clean = True
        try:
            for rows in blocks:
                text = self.block(rows)
                if text is None:
                    break
                if text:  # an empty read ends the COPY
                    yield text, text.count("\n")
            else:
                return
        except csv.Error:
            pass
        self.clean = False


# Row.decimal's shape without the sign (a sign is an error there).
_UNSIGNED_DECIMAL = re.compile(r"(\d+)(?:\.(\d+))?")
# Rows checked and sent at a time.
_BLOCK_ROWS = 1_000


def _file_blocks(text: str, chunk: int = 1 << 20) -> Iterator[list[list[str]]]:
    """The data rows' cells, :data:`_BLOCK_ROWS` rows a block, as the row-by-row path's
    reader gets them before it strips them (``csv.reader``). A file without quotes or
    carriage returns is split directly, a megabyte at a time, which gives the same cells."""
    if '"' in text or "\r" in text:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        next(reader, None)
        while rows := list(islice(reader, _BLOCK_ROWS)):
            yield rows
        return
    # The header is the first line.
    start, end = text.find("\n") + 1, len(text)
    while 0 < start <= end:
        stop = text.find("\n", start + chunk)
        if stop == -1:
            stop = end
        rows = [line.split(",") for line in text[start:stop].split("\n")]
        for first in range(0, len(rows), _BLOCK_ROWS):
            yield rows[first : first + _BLOCK_ROWS]
        start = stop + 1


class _Blocks:
    """COPY text read as a file (psycopg2's ``copy_expert``): each read checks the next
    block of rows, so Python checks a block while the database stores the one before.
    ``lines`` counts the lines read."""

    def __init__(self, blocks: Iterator[tuple[str, int]], limit: int) -> None:
        self.blocks = blocks
        self.limit = limit
        self.lines = 0

    def read(self, size: int = 0) -> str:
        if self.lines >= self.limit:
            return ""
        text, lines = next(self.blocks, ("", 0))
        self.lines += lines
        return text


def _copy_lines(connection: BaseDatabaseWrapper, statement: str, blocks: _Blocks) -> int:
    """One COPY of ``blocks``; the database's refusal comes out as Django's DatabaseError."""
    with connection.wrap_database_errors, connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(statement, blocks, size=_COPY_BLOCK)
        else:  # psycopg 3
            with raw.copy(statement) as copy:
                for block in iter(blocks.read, ""):
                    copy.write(block)
        return int(raw.rowcount)


def _copy_checked(
    connection: BaseDatabaseWrapper,
    statement: str,
    checker: _ClaimLineChecker,
    blocks: Iterator[tuple[str, int]],
) -> int | None:
    """The checked blocks (:meth:`_ClaimLineChecker.copy_text`) COPYed by ``statement``,
    about :data:`_COPY_LINES` lines a statement; how many lines were stored, or None when a
    row does not pass (the caller then undoes the lines stored so far)."""
    stored = 0
    while True:
        chunk = _Blocks(blocks, _COPY_LINES)
        stored += _copy_lines(connection, statement, chunk)
        if not checker.clean:
            return None
        if chunk.lines < _COPY_LINES:
            return stored


def load_clean_claims_file(
    kind: ClaimKind, path: str | Path, connection: BaseDatabaseWrapper
) -> int | None:
    """The whole ``claims`` file checked in Python as it is COPYed (:class:`_ClaimLineChecker`:
    the checks of :meth:`ClaimKind.parse_row`, per distinct value), so that the database stores
    lines while Python checks the next ones.

    A bulk load (writers' rule: many lines, a quarter of the ledger or more; the ledger is
    then locked) COPYs the lines straight into the ledger with its secondary indexes and
    constraints dropped, and rebuilds them after (:func:`_bulk_load`), which checks the unique
    claim ID, ``(source, source_ref)`` and the foreign keys for the whole ledger at once. When
    a claim ID is already recorded (a re-import), and for smaller loads, the lines go to a
    temporary table and are written by one ``UPDATE ... FROM`` of the recorded lines and one
    ``INSERT ... SELECT`` of the new ones (:func:`_write_staged`).

    Returns None, and the caller undoes what was done and takes the row-by-row path that
    names every bad row, when a row does not pass as it stands, when fewer lines are written
    than the file has (a claim ID twice), or (raised) when the database refuses a line. Declines
    without touching the database when the file's shape is not a plain one: a header the
    contract does not allow, bytes that are not UTF-8, NUL bytes.
    """
    phases = _Phases()
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    del data
    first_line = text.split("\n", 1)[0]
    try:
        header = [name.strip() for name in next(csv.reader([first_line]))]
        check_header(header, kind.columns, filename=str(path), kind=kind.name)
    except (csv.Error, StopIteration, ImportFileError):
        return None
    if sorted(header) != sorted(c.name for c in kind.columns):
        return None
    # At most the number of data rows (a blank line or a quoted line break counts too).
    estimate = text.count("\n")
    phases.lap("read")
    quote = connection.ops.quote_name
    table = ClaimLine._meta.db_table
    with connection.cursor() as cursor:
        blocks: Iterable[list[list[str]]]
        patients_table = quote(Patient._meta.db_table)
        if estimate * 4 >= writers._estimated_rows(cursor, Patient._meta.db_table):
            # A file naming a good share of the registry: the whole registry in one read.
            cursor.execute(f"SELECT resident_id, id FROM {patients_table}")
            blocks = ()
        else:
            # A small file: read whole, its residents looked up.
            try:
                blocks = list(_file_blocks(text))
            except csv.Error:
                return None
            position = header.index("resident_id")
            wanted = sorted(
                {row[position].upper() for rows in blocks for row in rows if len(row) > position}
            )
            cursor.execute(
                f"SELECT resident_id, id FROM {patients_table} WHERE resident_id = ANY(%s)",
                [wanted],
            )
        checker = _ClaimLineChecker(kind, header, dict(cursor.fetchall()), institution_ids())
        phases.lap("registry")
        # Sorts, hashes and index builds in memory, for this transaction only.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [writers.BULK_LOAD_WORK_MEM])
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, true)", [_BULK_MAINTENANCE_WORK_MEM]
        )
        bulk = kind.owns_transaction and _bulk_load_fits(connection, cursor, table, estimate)
        phases.lap("lock")

        def file_blocks() -> Iterable[list[list[str]]]:
            return blocks if isinstance(blocks, list) else _file_blocks(text)

        if not bulk:
            written = _write_staged(kind, connection, cursor, checker, file_blocks(), phases)
        else:
            try:
                written = _bulk_load(kind, connection, cursor, checker, file_blocks, phases)
            except _Declined:
                return None
    phases.log(written or 0, bulk)
    return written or None


class _Declined(Exception):
    """A bulk load that cannot finish: raised inside the rebuild's block, so that the
    ledger's indexes are not rebuilt only to be undone."""


def _bulk_load(
    kind: ClaimKind,
    connection: BaseDatabaseWrapper,
    cursor: Any,
    checker: _ClaimLineChecker,
    file_blocks: Callable[[], Iterable[list[list[str]]]],
    phases: _Phases,
) -> int:
    """The lines COPYed straight into the locked ledger, every secondary index and
    constraint (the unique claim ID too) dropped before and rebuilt after
    (``writers._secondary_structures_deferred``): maintaining even the unique claim ID line
    by line costs the COPY more than twice as much as rebuilding it.

    The rebuild of the unique claim ID is the check that every line is new. The load and the
    rebuild run in a savepoint: when a claim ID is already recorded or twice in the file
    (a re-import), it is undone and the lines go the staged way (:func:`_write_staged`),
    which updates the recorded lines. A file whose first block names a recorded line goes
    the staged way at once. Raises :class:`_Declined` when a row does not pass or the lines
    written fall short."""
    quote = connection.ops.quote_name
    table = ClaimLine._meta.db_table
    columns = ", ".join(quote(db_column(ClaimLine, name)) for name in _LINE_FIELDS)
    # Checks queued earlier run now: CREATE INDEX refuses pending trigger events.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    blocks = checker.copy_text(file_blocks())
    first = next(blocks, None)
    if first is None:
        raise _Declined
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {quote(table)} "
        f"WHERE {quote(db_column(ClaimLine, 'claim_id'))} = ANY(%s))",
        [list(checker.claim_ids)],
    )
    if not cursor.fetchone()[0]:
        try:
            # The rebuild (at the end of the block) inside the savepoint.
            with (
                transaction.atomic(using=connection.alias),
                writers._secondary_structures_deferred(cursor, table, []),
            ):
                phases.lap("drop indexes")
                written = _copy_checked(
                    connection,
                    f"COPY {quote(table)} ({columns}) FROM STDIN",
                    checker,
                    chain([first], blocks),
                )
                phases.lap("copy")
                if not written:
                    raise _Declined
            phases.lap("rebuild indexes")
            return written
        except IntegrityError as exc:
            if _refused_constraint(exc) != _CLAIM_ID_UNIQUE:
                raise  # fund_paid over total_amount, say: the row-by-row path names the row
            phases.lap("claim ID recorded")
    # The unique claim ID stays: the INSERT's check that a line is new reads it. (Without
    # it, a re-import of a million lines measured 14.5 s of write and rebuild, against 12 s
    # with it: the rebuild covers every line and its old version.)
    with writers._secondary_structures_deferred(cursor, table, ["claim_id"]):
        phases.lap("drop indexes")
        staged = _write_staged(kind, connection, cursor, checker, file_blocks(), phases)
        if not staged:
            raise _Declined
    phases.lap("rebuild indexes")
    return staged


# The name of ClaimLine's unique claim ID (an index of its own, see the model).
_CLAIM_ID_UNIQUE = next(
    c.name
    for c in ClaimLine._meta.constraints
    if isinstance(c, models.UniqueConstraint) and tuple(c.fields) == ("claim_id",)
)


def _refused_constraint(exc: IntegrityError) -> str | None:
    """The constraint (or unique index) the database named in refusing a line."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


# Index builds of a bulk load sort in memory (this transaction only).
_BULK_MAINTENANCE_WORK_MEM = "512MB"


def _write_staged(
    kind: ClaimKind,
    connection: BaseDatabaseWrapper,
    cursor: Any,
    checker: _ClaimLineChecker,
    blocks: Iterable[list[list[str]]],
    phases: _Phases,
) -> int | None:
    """The checked lines COPYed into a temporary table, then the lines already in the ledger
    written by one ``UPDATE ... FROM`` (the fields a re-import changes; source, source_ref and
    created_at stay) and the new ones by one ``INSERT ... SELECT`` in claim ID order (the
    unique index then grows at its right edge). How many lines were written: a line whose
    claim ID is twice in the file is updated once, so the count falls short and the caller
    undoes the load; two such new lines are refused by the unique claim ID."""
    quote = connection.ops.quote_name
    table = quote(ClaimLine._meta.db_table)
    columns = ", ".join(quote(db_column(ClaimLine, name)) for name in _LINE_FIELDS)
    cursor.execute(
        f"CREATE TEMPORARY TABLE import_claims_lines AS SELECT {columns} FROM {table} WITH NO DATA"
    )
    staged = _copy_checked(
        connection,
        f"COPY import_claims_lines ({columns}) FROM STDIN",
        checker,
        checker.copy_text(blocks),
    )
    if not staged:
        return None
    cursor.execute("ANALYZE import_claims_lines")
    phases.lap("stage")
    now = timezone.now()
    assignments = ", ".join(
        f"{quote(db_column(ClaimLine, name))} = "
        + ("%(now)s" if name == "updated_at" else f"k.{quote(db_column(ClaimLine, name))}")
        for name in kind.update_fields
    )
    claim_id = quote(db_column(ClaimLine, "claim_id"))
    cursor.execute(
        f"UPDATE {table} c SET {assignments} FROM import_claims_lines k "
        f"WHERE c.{claim_id} = k.{claim_id}",
        {"now": now},
    )
    updated = cursor.rowcount
    timestamps = ", ".join(
        quote(db_column(ClaimLine, name)) for name in ("created_at", "updated_at")
    )
    # COLLATE "C": the byte order of the unique index (varchar_pattern_ops).
    cursor.execute(
        f"INSERT INTO {table} ({columns}, {timestamps}) "
        f"SELECT {', '.join(f'k.{c.strip()}' for c in columns.split(','))}, %(now)s, %(now)s "
        f"FROM import_claims_lines k "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} c WHERE c.{claim_id} = k.{claim_id}) "
        f'ORDER BY k.{claim_id} COLLATE "C"',
        {"now": now},
    )
    inserted = cursor.rowcount
    # Gone at COMMIT anyway, but a caller's transaction may import again before it.
    cursor.execute("DROP TABLE import_claims_lines")
    phases.lap("write")
    return staged if updated + inserted == staged else None


class _Phases:
    """Seconds of each phase of a load, logged at debug level (the benchmark reads them)."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.last_cpu = time.process_time()
        self.seconds: dict[str, float] = {}
        # This process's CPU seconds of each phase (Python's share of a COPY).
        self.cpu: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.last
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu - self.last_cpu
        self.last, self.last_cpu = now, cpu

    def log(self, rows: int, bulk: bool) -> None:
        logger.debug(
            "claims load of %d lines (bulk %s), Python CPU seconds %s, seconds %s",
            rows,
            bulk,
            {name: round(value, 2) for name, value in self.cpu.items()},
            dict(self.seconds),
        )


def _bulk_load_fits(connection: BaseDatabaseWrapper, cursor: Any, table: str, rows: int) -> bool:
    """The registry writers' rule for rebuilding secondary indexes and constraints after a
    load instead of maintaining them row by row (``writers.BULK_LOAD_MIN_ROWS``)."""
    return (
        rows >= writers.BULK_LOAD_MIN_ROWS
        and rows * 4 >= writers._estimated_rows(cursor, table)
        and writers._locked(connection, cursor, table)
    )
