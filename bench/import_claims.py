"""Benchmark: the ``claims`` import (CONTRACTS §1) on PostgreSQL beside a raw ``COPY`` of the
same file into a bare table, in the same run (issue 3; goal: the import at least 50 % of the
raw rate).

What it does, in one run:
1. (re)creates the database ``hc_claims_bench`` and migrates it;
2. creates 266 institutions over the 16 Tianjin districts and COPYs 200,000 residents (valid
   GB 11643 IDs) straight into the registry table, which the import then looks residents up in;
3. writes a ``claims`` CSV of 1,000,000 lines for 2025 (bench/data/claims.csv);
4. imports it with ``call_command("import_records", "claims", FILE)``: the real command on the
   PostgreSQL fast path (first import: every line new), then imports it again (every line
   already there: each is updated);
5. times a raw ``COPY ... (FORMAT csv, HEADER)`` of the same file into a bare table with the
   file's columns typed (no keys, no indexes, no checks, nothing looked up);
6. prints rows/s of each and the ratio.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth):

    .venv/bin/python bench/import_claims.py

Options: ``--rows``, ``--residents``, ``--database-url`` (default
``postgres://postgres@127.0.0.1:5432/hc_claims_bench``; the database is dropped and recreated).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import logging
import os
import random
import resource
import sys
import time
from pathlib import Path

from support import recreate_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hc_claims_bench"
HEADER = [
    "claim_id",
    "resident_id",
    "institution_code",
    "service_date",
    "category",
    "diagnosis_code",
    "total_amount",
    "fund_paid",
]
# (category, weight, typical total in fen): pharmacy and outpatient lines dominate.
CATEGORIES = [
    ("pharmacy", 45, 18_000),
    ("outpatient", 30, 9_000),
    ("exam", 15, 12_000),
    ("home_service", 6, 6_000),
    ("inpatient", 4, 800_000),
]
DIAGNOSES = ["E11.9", "E11.2", "E11.900x001", "E10.9", "I10", "J06.9", "E78.5", "K29.7"]


def create_registry(institution_count: int, resident_count: int) -> list[tuple[str, str]]:
    """Institutions by bulk_create, residents by COPY; returns (resident_id, home code)."""
    from django.db import connection

    from cloud_management.identifiers import make_resident_id
    from cloud_management.models import District, Institution, Patient

    districts = list(District.objects.order_by("code"))
    institutions = Institution.objects.bulk_create(
        Institution(
            code=f"{districts[n % len(districts)].code}{n:04d}",
            name=f"{districts[n % len(districts)].name}第{n + 1}社区卫生服务中心",
            district=districts[n % len(districts)],
            kind=Institution.Kind.COMMUNITY_CENTRE if n % 3 else Institution.Kind.TOWNSHIP_CENTRE,
            is_chronic_care_centre=n % 4 == 0,
        )
        for n in range(institution_count)
    )
    by_district: dict[int, list[Institution]] = {}
    for institution in institutions:
        by_district.setdefault(institution.district_id, []).append(institution)
    rng = random.Random(2025)
    first_birth = dt.date(1930, 1, 1)
    days = 29_000
    residents: list[tuple[str, str]] = []
    buffer = io.StringIO()
    for n in range(resident_count):
        district = districts[n % len(districts)]
        j = n // len(districts)
        birth = first_birth + dt.timedelta(days=(j * 7919) % days)
        sex = "M" if n % 2 else "F"
        resident_id = make_resident_id(district.code, birth, j // days, sex)
        home = rng.choice(by_district[district.id])
        residents.append((resident_id, home.code))
        buffer.write(
            f"{resident_id}\t居民{n}\t{sex}\t{birth}\t\t\t{district.id}\t{home.id}\t"
            f"{'employee' if n % 3 else 'resident'}\tTJ{n:010d}\n"
        )
    buffer.seek(0)
    columns = (
        "resident_id, name, sex, birth_date, phone, address, district_id, home_institution_id, "
        "insurance_type, insurance_number"
    )
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {Patient._meta.db_table} ({columns}) FROM STDIN", buffer)
        cursor.execute(f"ANALYZE {Patient._meta.db_table}")
    return residents


def write_claims_csv(
    path: Path, rows: int, residents: list[tuple[str, str]], institution_codes: list[str]
) -> None:
    rng = random.Random(20250101)
    names = [c for c, _w, _t in CATEGORIES]
    weights = [w for _c, w, _t in CATEGORIES]
    typical = {c: t for c, _w, t in CATEGORIES}
    first_day = dt.date(2025, 1, 1)
    dates = [(first_day + dt.timedelta(days=d)).isoformat() for d in range(365)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for n in range(rows):
            resident_id, home = residents[rng.randrange(len(residents))]
            # Most services at the resident's own institution, some elsewhere.
            where = home if rng.random() < 0.85 else rng.choice(institution_codes)
            category = rng.choices(names, weights)[0]
            total = max(1, int(rng.expovariate(1 / typical[category])))
            fund = total * rng.choice((50, 60, 70, 75, 80, 85, 90)) // 100
            writer.writerow(
                [
                    f"YB2025{n:010d}",
                    resident_id,
                    where,
                    dates[rng.randrange(365)],
                    category,
                    rng.choice(DIAGNOSES),
                    f"{total // 100}.{total % 100:02d}",
                    f"{fund // 100}.{fund % 100:02d}",
                ]
            )


class PhaseCapture(logging.Handler):
    """Keeps the import service's per-phase seconds (its debug log line)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.args and isinstance(record.args, tuple):
            last = record.args[-1]
            if isinstance(last, dict):
                self.seconds = last


class LoadPhases(logging.Handler):
    """Keeps the claims load's own phases (payments.import_kinds' debug log line)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.bulk = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.args and isinstance(record.args, tuple):
            self.bulk = bool(record.args[1])
            cpu, last = record.args[-2], record.args[-1]
            if isinstance(cpu, dict):
                self.cpu = cpu
            if isinstance(last, dict):
                self.seconds = last


def time_import(path: Path, statements: list[tuple[float, str]]) -> tuple[float, str]:
    """The real command, timed; the statements that took at least 0.2 s go to ``statements``."""
    from django.core.management import call_command
    from django.db.backends.utils import CursorWrapper

    execute = CursorWrapper.execute

    def timed(self: CursorWrapper, sql: str, params: object = None) -> object:
        started = time.perf_counter()
        try:
            return execute(self, sql, params)
        finally:
            seconds = time.perf_counter() - started
            if seconds >= 0.2:
                statements.append((seconds, " ".join(sql.split())[:70]))

    out = io.StringIO()
    CursorWrapper.execute = timed  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        call_command("import_records", "claims", str(path), stdout=out)
        return time.perf_counter() - started, out.getvalue().strip()
    finally:
        CursorWrapper.execute = execute  # type: ignore[method-assign]


def time_raw_copy(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_claims")
        cursor.execute(
            """CREATE TABLE bench_bare_claims (
                claim_id varchar(100), resident_id varchar(18), institution_code varchar(32),
                service_date date, category varchar(20), diagnosis_code varchar(20),
                total_amount numeric(12, 2), fund_paid numeric(12, 2))"""
        )
    started = time.perf_counter()
    with connection.cursor() as cursor, path.open("r", encoding="utf-8") as handle:
        cursor.cursor.copy_expert(
            "COPY bench_bare_claims FROM STDIN WITH (FORMAT csv, HEADER true)", handle
        )
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_bare_claims")
    return elapsed


def time_ledger_copy() -> float:
    """The database's own share of the load: the ledger's lines, as the load sends them
    (checked, ids resolved), COPYed into an empty table of the ledger's shape (its columns,
    defaults, identity primary key and check constraints; no other index)."""
    from django.db import connection

    from payments.import_kinds import _LINE_FIELDS

    columns = ", ".join(_LINE_FIELDS)
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY (SELECT {columns} FROM payments_claimline ORDER BY id) TO STDOUT", buffer
        )
        cursor.execute("DROP TABLE IF EXISTS bench_ledger_shape")
        cursor.execute(
            "CREATE TABLE bench_ledger_shape (LIKE payments_claimline INCLUDING DEFAULTS "
            "INCLUDING IDENTITY INCLUDING CONSTRAINTS)"
        )
        cursor.execute("ALTER TABLE bench_ledger_shape ADD PRIMARY KEY (id)")
    buffer.seek(0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY bench_ledger_shape ({columns}) FROM STDIN", buffer)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_ledger_shape")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--residents", type=int, default=200_000)
    parser.add_argument("--institutions", type=int, default=266)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--csv", type=Path, default=ROOT / "bench" / "data" / "claims.csv")
    args = parser.parse_args()

    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthcommunity.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cloud_management.models import Institution
    from payments.models import ClaimLine

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    residents = create_registry(args.institutions, args.residents)
    codes = list(Institution.objects.values_list("code", flat=True))
    write_claims_csv(args.csv, args.rows, residents, codes)
    generated = time.perf_counter() - started
    size_mb = args.csv.stat().st_size / 1e6

    capture = PhaseCapture()
    service_logger = logging.getLogger("cloud_management.imports.service")
    service_logger.addHandler(capture)
    service_logger.setLevel(logging.DEBUG)
    service_logger.propagate = False
    load_capture = LoadPhases()
    load_logger = logging.getLogger("payments.import_kinds")
    load_logger.addHandler(load_capture)
    load_logger.setLevel(logging.DEBUG)
    load_logger.propagate = False

    first_statements: list[tuple[float, str]] = []
    first, first_line = time_import(args.csv, first_statements)
    first_phases = capture.seconds
    first_load = (load_capture.seconds, load_capture.bulk)
    first_cpu = load_capture.cpu
    count = ClaimLine.objects.count()
    again_statements: list[tuple[float, str]] = []
    again, again_line = time_import(args.csv, again_statements)
    again_phases = capture.seconds
    again_load = (load_capture.seconds, load_capture.bulk)
    again_cpu = load_capture.cpu
    if not ClaimLine.objects.count() == count == args.rows:
        raise SystemExit(f"expected {args.rows} claim lines, found {count}")
    raw = time_raw_copy(args.csv)
    ledger_copy = time_ledger_copy()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(",")[0]

    def phases(seconds: dict[str, float]) -> str:
        return ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())

    def load_phases(seconds: dict[str, float], bulk: bool) -> str:
        rebuild = "indexes rebuilt after the load" if bulk else "indexes maintained"
        return f"{phases(seconds)} ({rebuild})"

    def slow(statements: list[tuple[float, str]]) -> None:
        for seconds, sql in statements:
            print(f"               {seconds:5.1f} s  {sql}")

    rows = args.rows
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"database     {version}, {os.cpu_count()} CPUs, load average {load} at the end")
    print(f"file         {rows:,} claim lines, {size_mb:.0f} MB")
    print(f"registry     {args.institutions} institutions, {args.residents:,} residents")
    print(f"             (registry and file generated in {generated:.1f} s)")
    print(f"import       {first:6.1f} s  {rows / first:9,.0f} rows/s  ({first_line})")
    print(f"             {phases(first_phases)}:")
    print(f"             {load_phases(*first_load)};")
    print(f"             this process's CPU in them: {phases(first_cpu)}; statements >= 0.2 s:")
    slow(first_statements)
    print(f"re-import    {again:6.1f} s  {rows / again:9,.0f} rows/s  ({again_line})")
    print(f"             {phases(again_phases)}:")
    print(f"             {load_phases(*again_load)};")
    print(f"             this process's CPU in them: {phases(again_cpu)}; statements >= 0.2 s:")
    slow(again_statements)
    print(f"raw COPY     {raw:6.1f} s  {rows / raw:9,.0f} rows/s  (bare table, no keys or indexes)")
    print(
        f"ledger COPY  {ledger_copy:6.1f} s  {rows / ledger_copy:9,.0f} rows/s  (the checked lines "
        "into the ledger's shape: primary key and checks, no other index)"
    )
    print(
        f"ratio        import {raw / first:.0%} of the raw COPY rate, re-import {raw / again:.0%}"
    )
    print(f"peak memory  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"goal         import >= 50 % of raw: {'met' if raw / first >= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
