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
import io
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django.utils.translation import gettext

from cloud_management.imports import writers
from cloud_management.imports.errors import ImportFileError
from cloud_management.imports.reader import check_header
from cloud_management.imports.registry import ImportKind, Record, columns_of
from cloud_management.imports.registry_kinds import institution_ids, max_length, patient_ids
from cloud_management.imports.rows import Row
from cloud_management.imports.writers import db_column
from cloud_management.models import Institution, Patient
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


# --- The claims file loaded in the database (PostgreSQL) -------------------------------------

# GB 11643 weights of the first 17 digits; the check character is (12 - Σ mod 11) mod 11, "X"
# for 10 (the same rule as cloud_management.imports.rows.is_valid_resident_id).
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = (
    "(12 - ("
    + " + ".join(
        f"substr(r.resident_id, {i}, 1)::int * {w}" for i, w in enumerate(_RESIDENT_ID_WEIGHTS, 1)
    )
    # %% is a literal % in a statement with parameters.
    + ") %% 11) %% 11"
)
# Columns with few distinct values (residents, days, diagnoses) are checked once per value, into
# small tables of their own (analysed, so the planner hashes them and streams the file past);
# the rest is checked per line (a code is printable ASCII without spaces: one byte a character,
# each from ! to ~). A CASE runs a cast only after the text has the cast's shape; a cell of
# that shape the cast still refuses (2025-02-30) raises, which undoes the load. Every check is
# a column (``ok``), not a condition that drops the line: the planner cannot estimate how many
# lines pass such conditions (it guesses a handful, then hashes the million-line side).
_CHECK_VALUES = (
    """
CREATE TEMPORARY TABLE import_claims_residents ON COMMIT DROP AS
SELECT x.resident_id, p.id,
       CASE WHEN x.check_value IS NULL THEN false
            ELSE substr(x.resident_id, 18, 1)
                     = CASE x.check_value WHEN 10 THEN 'X' ELSE x.check_value::text END
                 AND substr(x.resident_id, 7, 4)::int >= 1880
                 AND to_date(substr(x.resident_id, 7, 8), 'YYYYMMDD') IS NOT NULL
            END AS ok
-- OFFSET 0: the check character is computed once, not once for each time it is named.
FROM (SELECT r.resident_id,
             CASE WHEN r.resident_id ~ '^[0-9]{{17}}[0-9X]$' THEN {check} END AS check_value
      FROM (SELECT DISTINCT resident_id FROM import_claims_file) r OFFSET 0) x
JOIN {patients} p ON p.resident_id = x.resident_id
""",
    """
CREATE TEMPORARY TABLE import_claims_days ON COMMIT DROP AS
SELECT d.service_date,
       CASE WHEN d.service_date ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'
            THEN d.service_date::date END AS day
FROM (SELECT DISTINCT service_date FROM import_claims_file) d
""",
    """
CREATE TEMPORARY TABLE import_claims_diagnoses ON COMMIT DROP AS
SELECT g.diagnosis_code, g.diagnosis_code ~ '^[A-Z][0-9]{{2}}(\\.[0-9A-Za-z]{{1,7}})?$' AS ok
FROM (SELECT DISTINCT diagnosis_code FROM import_claims_file) g
""",
)
# The amounts' own checks (at most two places, below 10^10, fund_paid ≤ total_amount) come
# after, in _COUNT_CHECKED, on the parsed values (parsed once a line).
_CHECK_CLAIMS = """
CREATE TEMPORARY TABLE import_claims_checked ON COMMIT DROP AS
SELECT s.claim_id, r.id AS patient_id, i.id AS institution_id, d.day, s.category,
       s.diagnosis_code,
       r.ok AND g.ok AND d.day IS NOT NULL
           AND s.category = ANY(%(categories)s)
           AND octet_length(s.claim_id) = char_length(s.claim_id)
           AND char_length(s.claim_id) <= %(claim_id_length)s
           AND s.claim_id !~ '[^!-~]' AS ok,
       CASE WHEN s.total_amount ~ '^[0-9]+(\\.[0-9]+)?$'
            THEN s.total_amount::numeric END AS total,
       CASE WHEN s.fund_paid ~ '^[0-9]+(\\.[0-9]+)?$'
            THEN s.fund_paid::numeric END AS fund,
       CASE WHEN position(':' IN s.claim_id) > 1
                 AND split_part(s.claim_id, ':', 1) = ANY(%(sources)s)
                 AND position(':' IN s.claim_id) < char_length(s.claim_id)
            THEN split_part(s.claim_id, ':', 1) ELSE %(insurance)s END AS source,
       CASE WHEN position(':' IN s.claim_id) > 1
                 AND split_part(s.claim_id, ':', 1) = ANY(%(sources)s)
                 AND position(':' IN s.claim_id) < char_length(s.claim_id)
            THEN substr(s.claim_id, position(':' IN s.claim_id) + 1)
            ELSE s.claim_id END AS source_ref,
       c.id AS existing_id
FROM import_claims_file s
JOIN import_claims_residents r ON r.resident_id = s.resident_id
JOIN {institutions} i ON i.code = s.institution_code
JOIN import_claims_days d ON d.service_date = s.service_date
JOIN import_claims_diagnoses g ON g.diagnosis_code = s.diagnosis_code
LEFT JOIN {table} c ON c.claim_id = s.claim_id
"""
_COUNT_CHECKED = """
SELECT count(*) FILTER (WHERE ok AND total < %(max_amount)s AND fund <= total
                        AND total = round(total, 2) AND fund = round(fund, 2))
FROM import_claims_checked
"""


def _copy_bytes(connection: BaseDatabaseWrapper, statement: str, data: bytes) -> int:
    """COPY on the driver's cursor; its errors (a line COPY cannot read, such as a blank one)
    come out as Django's DatabaseError, which sends the file the row-by-row way."""
    with connection.wrap_database_errors, connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(statement, io.BytesIO(data))
        else:  # psycopg 3
            with raw.copy(statement) as copy:
                copy.write(data)
        return int(raw.rowcount)


def load_clean_claims_file(
    kind: ClaimKind, path: str | Path, connection: BaseDatabaseWrapper
) -> int | None:
    """The whole ``claims`` file COPYed into a temporary table, checked by one set-based
    statement into a second (typed) one, then written by one ``UPDATE ... FROM`` of the lines
    already in the ledger and one plain ``INSERT ... SELECT`` of the new ones
    (:func:`_write_checked`): every check of :meth:`ClaimKind.parse_row` is a condition of the
    check, strict enough that a row it lets through is one the row-by-row path accepts with
    the same values. When fewer rows are written than
    the file holds, or the database refuses a cell (a date that does not exist), the caller
    undoes it all and the row-by-row path reports the bad rows.

    Declines (None) without touching the database when the file's shape is not a plain one:
    a header the contract does not allow, bytes that are not UTF-8, or what PostgreSQL's CSV
    reader would take differently from Python's (an end-of-data marker ``\\.``, NUL bytes).
    """
    phases = _Phases()
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if b"\0" in data or data.startswith(b"\\.") or b"\n\\." in data or b"\r\\." in data:
        return None
    first_line = data.split(b"\n", 1)[0]
    try:
        header = [name.strip() for name in next(csv.reader([first_line.decode("utf-8")]))]
        check_header(header, kind.columns, filename=str(path), kind=kind.name)
    except (UnicodeDecodeError, csv.Error, StopIteration, ImportFileError):
        return None
    if sorted(header) != sorted(c.name for c in kind.columns):
        return None
    phases.lap("read")
    quote = connection.ops.quote_name
    table = ClaimLine._meta.db_table
    patients, institutions = Patient._meta.db_table, Institution._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE import_claims_file ("
            + ", ".join(f"{quote(c.name)} text" for c in kind.columns)
            + ") ON COMMIT DROP"
        )
        staged = _copy_bytes(
            connection,
            "COPY import_claims_file ({}) FROM STDIN WITH (FORMAT csv, HEADER true)".format(
                ", ".join(quote(name) for name in header)
            ),
            data,
        )
        del data
        if staged == 0:
            return None
        phases.lap("copy")
        # The planner's row counts and distinct values for the joins below; hash joins are
        # right for a whole file, never nested loops over it.
        cursor.execute("ANALYZE import_claims_file")
        cursor.execute("SELECT set_config('enable_nestloop', 'off', true)")
        # Compiling the checks (JIT) costs more than it saves on these simple expressions.
        cursor.execute("SELECT set_config('jit', 'off', true)")
        now = timezone.now()
        max_digits, places = _decimal_field(ClaimLine, "total_amount")
        check = _CHECK_CLAIMS.format(table=quote(table), institutions=quote(institutions))
        params = {
            "sources": sorted(ClaimLine.Source.values),
            "insurance": ClaimLine.Source.INSURANCE.value,
            "claim_id_length": max_length(ClaimLine, "claim_id"),
            "categories": sorted(ClaimLine.Category.values),
            # Row.decimal: at most max_digits - places digits before the point.
            "max_amount": 10 ** (max_digits - places),
        }
        # Sorts, hashes and index builds in memory, for this transaction only.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [writers.BULK_LOAD_WORK_MEM])
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, true)", [writers.BULK_LOAD_WORK_MEM]
        )
        phases.lap("stage")
        # Decided (and the ledger locked) before the lines are matched with the ledger, so
        # that no other transaction adds or removes a line in between.
        bulk = kind.owns_transaction and _bulk_load_fits(connection, cursor, table, staged)
        phases.lap("lock")
        # Run without parameters: the check's %% is a plain % there.
        resident_check = _RESIDENT_ID_CHECK.replace("%%", "%")
        for statement in _CHECK_VALUES:
            cursor.execute(statement.format(patients=quote(patients), check=resident_check))
        for name in ("residents", "days", "diagnoses"):
            cursor.execute(f"ANALYZE import_claims_{name}")
        cursor.execute(check, params)
        cursor.execute(_COUNT_CHECKED, params)
        checked = cursor.fetchone()[0]
        phases.lap("check")
        if checked != staged:
            return None
        if bulk:
            # Checks queued earlier run now: CREATE INDEX refuses pending trigger events.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # Every secondary structure is rebuilt after the load, the unique claim_id too:
            # the table is locked and the new lines are known new, so the rebuild is the check.
            with writers._secondary_structures_deferred(cursor, table, []):
                phases.lap("drop indexes")
                written = _write_checked(kind, cursor, quote(table), now, ordered=False)
                phases.lap("write")
            phases.lap("rebuild indexes")
        else:
            written = _write_checked(kind, cursor, quote(table), now, ordered=True)
            phases.lap("write")
        # Gone at COMMIT anyway, but a caller's transaction may import again before it.
        cursor.execute(
            "DROP TABLE import_claims_file, import_claims_residents, import_claims_days, "
            "import_claims_diagnoses, import_claims_checked"
        )
    phases.log(staged, bulk)
    return written if written == staged else None


def _write_checked(kind: ClaimKind, cursor: Any, table: str, now: Any, *, ordered: bool) -> int:
    """The checked lines written: those already in the ledger by one ``UPDATE ... FROM`` (of
    the fields a re-import changes), the new ones by one plain ``INSERT ... SELECT``. Returns
    how many lines were written; a line written twice (its claim ID twice in the file) is
    counted once, and a line another transaction removed meanwhile is not counted, so the
    caller then undoes the load."""
    values = {
        "claim_id": "k.claim_id",
        "patient_id": "k.patient_id",
        "institution_id": "k.institution_id",
        "service_date": "k.day",
        "category": "k.category",
        "diagnosis_code": "k.diagnosis_code",
        "total_amount": "k.total",
        "fund_paid": "k.fund",
        "source": "k.source",
        "source_ref": "k.source_ref",
        "created_at": "%(now)s",
        "updated_at": "%(now)s",
    }
    columns = [db_column(ClaimLine, name) for name in kind.fields]
    params = {"now": now}
    updated = 0
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM import_claims_checked WHERE existing_id IS NOT NULL)"
    )
    if cursor.fetchone()[0]:
        assignments = ", ".join(
            f"{db_column(ClaimLine, name)} = {values[name]}" for name in kind.update_fields
        )
        cursor.execute(
            f"UPDATE {table} c SET {assignments} FROM import_claims_checked k "
            "WHERE k.existing_id IS NOT NULL AND c.id = k.existing_id",
            params,
        )
        updated = cursor.rowcount
    # In claim_id order when the unique index is kept: it then grows at its right edge.
    order = " ORDER BY k.claim_id" if ordered else ""
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values[name] for name in kind.fields)} "
        f"FROM import_claims_checked k WHERE k.existing_id IS NULL{order}",
        params,
    )
    return updated + cursor.rowcount


class _Phases:
    """Seconds of each phase of a load, logged at debug level (the benchmark reads them)."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.last
        self.last = now

    def log(self, rows: int, bulk: bool) -> None:
        logger.debug(
            "claims load of %d lines (bulk %s), seconds %s", rows, bulk, dict(self.seconds)
        )


def _bulk_load_fits(connection: BaseDatabaseWrapper, cursor: Any, table: str, rows: int) -> bool:
    """The registry writers' rule for rebuilding secondary indexes and constraints after a
    load instead of maintaining them row by row (``writers.BULK_LOAD_MIN_ROWS``)."""
    return (
        rows >= writers.BULK_LOAD_MIN_ROWS
        and rows * 4 >= writers._estimated_rows(cursor, table)
        and writers._locked(connection, cursor, table)
    )
