"""Benchmark: import 600,000 patients into PostgreSQL with ``import_records`` (ISSUE 2).

What it does, in one run:
1. (re)creates the database ``hc_import_bench`` and migrates it;
2. creates 266 institutions across the 16 Tianjin districts;
3. writes a 600,000-row ``patients`` CSV with valid GB 11643 resident IDs (bench/data/);
4. imports it with ``call_command("import_records", "patients", FILE)``: the real command,
   fast path (first import: every row new), then imports it again (every row already there);
5. times a raw ``COPY`` of the same file into a bare table (no keys, no indexes);
6. prints rows/s for each and the ratio import : COPY (results: docs/benchmarks.md).

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, trust auth):

    .venv/bin/python bench/import_patients.py

Options: ``--rows``, ``--institutions``, ``--database-url`` (default
``postgres://postgres@127.0.0.1:5432/hc_import_bench``; the database is dropped and recreated).
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

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/hc_import_bench"
HEADER = [
    "resident_id",
    "name",
    "sex",
    "birth_date",
    "phone",
    "district_code",
    "home_institution_code",
    "insurance_type",
    "insurance_number",
    "address",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文德福顺利海燕鹏飞"
STREETS = ["长江道", "黄河道", "南京路", "卫津路", "复康路", "红旗路", "津塘路", "中山路"]


def create_institutions(count: int) -> dict[str, list[str]]:
    """``count`` institutions spread over the 16 districts; codes by district code."""
    from cloud_management.models import District, Institution

    districts = list(District.objects.order_by("code"))
    institutions = []
    for n in range(count):
        district = districts[n % len(districts)]
        institutions.append(
            Institution(
                code=f"{district.code}{n:04d}",
                name=f"{district.name}第{n + 1}社区卫生服务中心",
                district=district,
                kind=Institution.Kind.COMMUNITY_CENTRE
                if n % 3
                else Institution.Kind.TOWNSHIP_CENTRE,
                is_chronic_care_centre=n % 4 == 0,
            )
        )
    Institution.objects.bulk_create(institutions)
    by_district: dict[str, list[str]] = {}
    for institution in institutions:
        by_district.setdefault(institution.district.code, []).append(institution.code)
    return by_district


def write_patients_csv(path: Path, rows: int, institutions: dict[str, list[str]]) -> None:
    """Valid, distinct resident IDs: (district, birth date, serial) never repeats."""
    from cloud_management.identifiers import make_resident_id

    rng = random.Random(20250101)
    districts = sorted(institutions)
    first_birth = dt.date(1930, 1, 1)
    days = 29_000  # birth dates 1930-2009
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            district = districts[n % len(districts)]
            j = n // len(districts)
            # 7919 is prime to 29,000, so (day, serial) is distinct for every j.
            birth = first_birth + dt.timedelta(days=(j * 7919) % days)
            serial = j // days
            sex = "M" if rng.random() < 0.5 else "F"
            name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            writer.writerow(
                [
                    make_resident_id(district, birth, serial, sex),
                    name,
                    sex,
                    birth.isoformat(),
                    f"13{rng.randrange(10**9):09d}" if n % 10 else "",
                    district,
                    rng.choice(institutions[district]),
                    "employee" if n % 3 else "resident",
                    f"TJ{n:010d}",
                    f"天津市{rng.choice(STREETS)}{rng.randrange(1, 300)}号" if n % 7 else "",
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


def time_import(path: Path, capture: PhaseCapture) -> tuple[float, str]:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command("import_records", "patients", str(path), stdout=out)
    return time.perf_counter() - started, out.getvalue().strip()


def time_raw_copy(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare_patients")
        cursor.execute(
            """CREATE TABLE bench_bare_patients (
                resident_id varchar(18), name varchar(50), sex varchar(1), birth_date date,
                phone varchar(20), district_code varchar(6), home_institution_code varchar(32),
                insurance_type varchar(10), insurance_number varchar(32), address varchar(200))"""
        )
    started = time.perf_counter()
    with connection.cursor() as cursor, path.open("r", encoding="utf-8") as handle:
        cursor.cursor.copy_expert(
            "COPY bench_bare_patients FROM STDIN WITH (FORMAT csv, HEADER true)", handle
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--institutions", type=int, default=266)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--csv", type=Path, default=ROOT / "bench" / "data" / "patients.csv")
    args = parser.parse_args()

    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthcommunity.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cloud_management.models import Patient

    call_command("migrate", verbosity=0)
    institutions = create_institutions(args.institutions)
    started = time.perf_counter()
    write_patients_csv(args.csv, args.rows, institutions)
    generated = time.perf_counter() - started
    size_mb = args.csv.stat().st_size / 1e6

    capture = PhaseCapture()
    service_logger = logging.getLogger("cloud_management.imports.service")
    service_logger.addHandler(capture)
    service_logger.setLevel(logging.DEBUG)
    service_logger.propagate = False

    first, first_line = time_import(args.csv, capture)
    first_phases = capture.seconds
    count = Patient.objects.count()
    again, again_line = time_import(args.csv, capture)
    again_phases = capture.seconds
    if not Patient.objects.count() == count == args.rows:
        raise SystemExit(f"expected {args.rows} patients, found {count}")
    raw = time_raw_copy(args.csv)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0].split(",")[0]

    def phases(seconds: dict[str, float]) -> str:
        return ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())

    rows = args.rows
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"database     {version}, {os.cpu_count()} CPUs, load average {load} at the end")
    print(f"file         {rows:,} rows, {size_mb:.0f} MB, generated in {generated:.1f} s")
    print(f"institutions {args.institutions}")
    print(f"import       {first:6.1f} s  {rows / first:9,.0f} rows/s  ({first_line})")
    print(f"             {phases(first_phases)}")
    print(f"re-import    {again:6.1f} s  {rows / again:9,.0f} rows/s  ({again_line})")
    print(f"             {phases(again_phases)}")
    print(f"raw COPY     {raw:6.1f} s  {rows / raw:9,.0f} rows/s  (bare table, no keys or indexes)")
    print(
        f"ratio        import takes {first / raw:.1f}x the raw COPY, re-import {again / raw:.1f}x"
    )
    print(f"peak memory  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"goal         import <= 60 s: {'met' if first <= 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
