"""Benchmark the regulator settlement dashboards at Tianjin scale (issue 3: p95 at most 300 ms).

Server time is the time Django takes to answer a request made with the test Client in this
process (``force_login``, DEBUG off): middleware, session and scope lookup, the view, every
query and the template; no network and no WSGI server. Each page is requested ``--warmup``
times untimed, then ``--requests`` times timed; the script prints the median, p95, maximum and
the query count per request as a Markdown table (docs/benchmarks/settlement.md).

The database is one seeded with ``seed_demo --scale tianjin`` (registry, claims and the settled
runs of the payment steps), for example the one ``bench/settle_tianjin.py --seed`` completes:

    .venv/bin/python bench/dashboards.py --database hc_bench_pay

It reads only, through the demo's regulator logins (``regulator_city``, ``regulator_nankai``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from support import percentile, postgres_url, setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="hc_bench_pay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also time the claims page's recount from the ledger (verify=1), not a goal page",
    )
    args = parser.parse_args()
    setup_django(
        postgres_url(args.database, args.host, args.port, args.user),
        without_redis=True,
        debug_off=True,
    )

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from cloud_management.models import Institution
    from healthcommunity.demo import payments as demo_payments
    from healthcommunity.demo.catalogue import DEMO_DISTRICT_CODE, DEMO_INSTITUTION_CODE
    from payments.dashboard_selectors import ClaimCursor, claim_page
    from payments.models import ClaimLine, Scheme, SettlementLine, SettlementRun
    from payments.views import PAGE_SIZE

    if settings.DEBUG:
        raise SystemExit("DEBUG must be off for a benchmark.")
    users = get_user_model().objects
    city, district = users.get(username="regulator_city"), users.get(username="regulator_nankai")
    schemes = [Scheme.objects.get(code=code) for code in demo_payments.scheme_codes(args.year)]
    scenarios: list[tuple[str, object, str]] = []
    for scheme in schemes:
        runs = SettlementRun.objects.filter(scheme=scheme, status="finished")
        periods = sorted(runs.values_list("period", flat=True), key=lambda p: (len(p), p))
        for period in [p for p in periods if len(p) == 4] + [p for p in periods if len(p) == 7][
            -1:
        ]:
            query = "?" + urlencode({"scheme": scheme.code, "period": period})
            run = runs.filter(period=period).latest("finished_at")
            # The demo institution, and the one with the most claim lines behind its line.
            biggest = (
                SettlementLine.objects.filter(run=run).order_by("-claim_lines").values_list(
                    "institution__code", flat=True
                ).first()
            )  # fmt: skip
            label = f"{scheme.code} {period}"
            scenarios += [
                (f"city · {label}", city, reverse("settlements:index") + query),
                (
                    f"district {DEMO_DISTRICT_CODE} (city login) · {label}",
                    city,
                    reverse("settlements:district", args=[DEMO_DISTRICT_CODE]) + query,
                ),
                (f"district login · {label}", district, reverse("settlements:index") + query),
            ]
            for code in dict.fromkeys([DEMO_INSTITUTION_CODE, biggest]):
                scenarios += [
                    (
                        f"institution {code} · {label}",
                        city,
                        reverse("settlements:institution", args=[code]) + query,
                    ),
                    (
                        f"members of {code} · {label}",
                        city,
                        reverse("settlements:members", args=[code]) + query,
                    ),
                    (
                        f"claims of {code} · {label}",
                        city,
                        reverse("settlements:claims", args=[code]) + query,
                    ),
                ]
                # Later pages of the drill-down: the one its "more" link opens, and one from
                # the middle of the period (``after`` is a (service date, id) position).
                line = SettlementLine.objects.select_related("run").get(
                    run=run, institution__code=code
                )
                second = claim_page(line=line, after=None, size=PAGE_SIZE).next_cursor
                middle = run.period_start + (run.period_end - run.period_start) / 2
                for name, cursor in (
                    ("page 2", second),
                    (f"from {middle:%m-%d}", ClaimCursor(middle, 0)),
                ):
                    if cursor is not None:
                        scenarios.append(
                            (
                                f"claims of {code} {name} · {label}",
                                city,
                                reverse("settlements:claims", args=[code])
                                + query
                                + "&"
                                + urlencode({"after": str(cursor)}),
                            )
                        )
                if len(period) == 4 and code == DEMO_INSTITUTION_CODE and args.verify:
                    scenarios.append(
                        (
                            f"claims of {code} recounted (verify=1, on request) · {label}",
                            city,
                            reverse("settlements:claims", args=[code]) + query + "&verify=1",
                        )
                    )
    print(
        f"claim lines: {ClaimLine.objects.count():,}; institutions: "
        f"{Institution.objects.count()}; finished runs: "
        f"{dict(SettlementRun.objects.filter(status='finished').values_list('scheme__code').annotate(n=Count('pk')))}"
    )  # fmt: skip
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{args.warmup} untimed + {args.requests} timed requests per page; DEBUG off")
    print()
    print("| page | median (ms) | p95 (ms) | max (ms) | queries |")
    print("| --- | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for label, user, url in scenarios:
        on_request = "on request" in label
        client = Client()
        client.force_login(user)
        for _ in range(args.warmup):
            response = client.get(url, secure=True)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code}")
        timings = []
        queries = 0
        for _ in range(args.requests):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, secure=True)
                timings.append((time.perf_counter() - started) * 1000)
            queries = len(captured)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code}")
        p95 = percentile(timings, 0.95)
        if not on_request:
            worst = max(worst, p95)
        print(
            f"| {label} | {statistics.median(timings):.0f} | {p95:.0f} | {max(timings):.0f} "
            f"| {queries} |"
        )
    print()
    print(
        f"worst p95 (pages shown by default): {worst:.0f} ms "
        f"({'within' if worst <= 300 else 'OVER'} the 300 ms goal)"
    )


if __name__ == "__main__":
    main()
