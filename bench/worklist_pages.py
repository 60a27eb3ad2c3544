"""Benchmark the chronic-care pages at Tianjin scale (issue 4: the worklist page of one
institution at most 300 ms server time, p95).

Server time is the time Django takes to answer a request made with the test Client in this
process (``force_login``, DEBUG off): middleware, session and scope lookup, the view, every
query and the template; no network and no WSGI server. Each page is requested ``--warmup``
times untimed, then ``--requests`` times timed; the script prints the median, p95, maximum, the
median time spent in the database (the sum of the queries' times as the client sees them) and
in this process's CPU, the query count per request and the size of the page as a Markdown table
(docs/benchmarks/quality.md), and the load average before and after each page. Before the
first page the script freezes the loaded application out of the garbage collector, as each
gunicorn worker does (gunicorn.conf.py); ``--no-gc-freeze`` leaves it in.

Pages:

- ``/care/<code>/worklists/`` of the busiest institution (the most enrolments running today),
  as one of its health managers, for each of the five lists;
- ``/dashboards/quality/`` as the city regulator (the city by district, with the monthly
  trend) and ``/dashboards/quality/districts/<code>/`` as the district regulator of the demo
  district (its institutions, with the trend).

The dashboards read the stored quality figures (``chronic_care.snapshots``). With
``--refresh-snapshots`` the script first runs the nightly task
(``refresh_quality_snapshots_task``) once and prints its time; with ``--check-snapshots`` it
compares every stored row of the current year with the live indicator statement (one per
day, every institution) and stops on a difference; with ``--after-invalidation`` it times
one city page right after deleting the busiest institution's stored figures of the year (as a
follow-up dated in January would), which computes them again for that institution.

The database is one seeded with ``seed_demo --scale tianjin`` including the care steps (see
bench/quality_indicators.py ``--seed``):

    .venv/bin/python bench/worklist_pages.py --database hc_bench_care
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from support import BENCH_SECRET_KEY, load_average, percentile, postgres_url, setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _check(response: object, url: str) -> None:
    status = getattr(response, "status_code", None)
    if status != 200:
        raise SystemExit(f"{url} answered {status}")


def _check_snapshots(year: int) -> None:
    from chronic_care.indicators import EMPTY_FIGURES, indicator_figures
    from chronic_care.models import QualitySnapshot
    from chronic_care.snapshots import COUNTS
    from payments.formulas import IndicatorFigures

    days = sorted(set(QualitySnapshot.objects.filter(year=year).values_list("as_of", flat=True)))
    started = time.perf_counter()
    for day in days:
        live = indicator_figures(year=year, institution_ids=None, through=day)
        rows = QualitySnapshot.objects.filter(year=year, as_of=day)
        for row in rows:
            stored = IndicatorFigures(*(getattr(row, name) for name in COUNTS))
            if stored != live.get(row.institution_id, EMPTY_FIGURES):
                raise SystemExit(f"institution {row.institution_id} as of {day}: {stored}")
        print(f"as of {day}: {len(rows)} institutions equal the live computation")
    print(f"checked {len(days)} days in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="hc_bench_care")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="leave the loaded application in the garbage collector (gunicorn.conf.py freezes it)",
    )
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--dashboard-requests", type=int, default=10)
    parser.add_argument(
        "--only", choices=["worklists", "dashboards"], help="benchmark only these pages"
    )
    parser.add_argument(
        "--refresh-snapshots",
        action="store_true",
        help="run the nightly quality snapshot task once first and time it",
    )
    parser.add_argument(
        "--check-snapshots",
        action="store_true",
        help="compare the stored quality figures of the year with the live computation",
    )
    parser.add_argument(
        "--after-invalidation",
        action="store_true",
        help="time one city page after invalidating the busiest institution's year",
    )
    args = parser.parse_args()
    setup_django(
        postgres_url(args.database, args.host, args.port, args.user),
        without_redis=True,
        secret_key=BENCH_SECRET_KEY,
        debug_off=True,
    )

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count, Q
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from chronic_care.worklists import Worklist
    from cloud_management.models import DiabetesEnrollment, District, StaffRole
    from healthcommunity.demo.catalogue import DEMO_DISTRICT_CODE

    if settings.DEBUG:
        raise SystemExit("DEBUG must be off for the benchmark.")
    today = timezone.localdate()
    busiest = (
        DiabetesEnrollment.objects.filter(enrolled_on__lte=today)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=today))
        .values("institution_id", "institution__code")
        .annotate(n=Count("id"))
        .order_by("-n", "institution_id")
        .first()
    )
    if busiest is None:
        raise SystemExit("No enrolment runs today: seed the tianjin scale first.")
    code = busiest["institution__code"]
    manager = (
        StaffRole.objects.filter(
            institution_id=busiest["institution_id"], role=StaffRole.Role.HEALTH_MANAGER
        )
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .first()
    )
    users = get_user_model().objects
    district = District.objects.get(code=DEMO_DISTRICT_CODE)
    district_regulator = users.get(username="regulator_nankai")
    scenarios: list[tuple[str, Any, str, int]] = []
    if args.only in (None, "worklists"):
        for worklist in Worklist:
            url = f"{reverse('chronic_care:worklists', args=[code])}?list={worklist.value}"
            label = f"worklists {code} ({busiest['n']} enrolees), list={worklist.value}"
            scenarios.append((label, users.get(pk=int(manager or 0)), url, args.requests))
    if args.only in (None, "dashboards"):
        scenarios.append(
            (
                "quality dashboard, city (regulator_city)",
                users.get(username="regulator_city"),
                reverse("chronic_care_quality:index"),
                args.dashboard_requests,
            )
        )
        scenarios.append(
            (
                f"quality dashboard, district {district.code} (regulator_nankai)",
                district_regulator,
                reverse("chronic_care_quality:district", args=[district.code]),
                args.dashboard_requests,
            )
        )

    if args.refresh_snapshots:
        from chronic_care.tasks import refresh_quality_snapshots_task

        before = load_average()
        started = time.perf_counter()
        written = refresh_quality_snapshots_task.run(today.isoformat())
        print(
            f"nightly snapshot task: {written} rows in {time.perf_counter() - started:.1f} s "
            f"(load {before} → {load_average()})"
        )
    if args.check_snapshots:
        _check_snapshots(today.year)

    if args.after_invalidation:
        from chronic_care.snapshots import invalidate_institutions

        client = Client()
        client.force_login(users.get(username="regulator_city"))
        url = reverse("chronic_care_quality:index")
        _check(client.get(url, secure=True), url)
        deleted = invalidate_institutions(
            [busiest["institution_id"]], today.replace(month=1, day=1)
        )
        before = load_average()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, secure=True)
            elapsed = (time.perf_counter() - started) * 1000
        _check(response, url)
        print(
            f"city page after invalidating {code} ({deleted} rows): {elapsed:.0f} ms, "
            f"{len(captured.captured_queries)} queries (load {before} → {load_average()})"
        )

    print(f"today {today}; busiest institution {code} with {busiest['n']} enrolments running")
    print(
        "| page | requests | median | p95 | max | database (median) | Python CPU (median) "
        "| queries | size | load before → after |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    if not args.no_gc_freeze:
        # As each gunicorn worker does once the application is loaded (gunicorn.conf.py).
        gc.collect()
        gc.freeze()
    for label, user, url, requests in scenarios:
        client = Client()
        client.force_login(user)
        before = load_average()
        for _ in range(args.warmup):
            _check(client.get(url, secure=True), url)
        times: list[float] = []
        cpu: list[float] = []
        database: list[float] = []
        queries = 0
        size = 0
        for _ in range(requests):
            with CaptureQueriesContext(connection) as captured:
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(url, secure=True)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            _check(response, url)
            queries = len(captured.captured_queries)
            database.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
            size = len(response.content)
        print(
            f"| {label} | {requests} | {statistics.median(times):.0f} ms "
            f"| {percentile(times, 0.95):.0f} ms | {max(times):.0f} ms "
            f"| {statistics.median(database):.0f} ms | {statistics.median(cpu):.0f} ms | {queries} "
            f"| {size // 1024} KiB | {before} → {load_average()} |"
        )


if __name__ == "__main__":
    main()
