"""Benchmark booking POSTs (issue 5: at least 300 bookings/s at p95 at most 100 ms on
PostgreSQL behind gunicorn with 2 workers, zero overbooked slots afterwards).

What it does:

1. migrates the PostgreSQL database ``--database`` and prepares a bench institution
   (``BENCH-HS``) with ``--patients`` residents, each with a login and an API token, and
   ``--slots`` slots of ``--capacity`` places offering the tacrolimus blood draw (earlier bench
   rows of that institution are removed first);
2. starts gunicorn with 2 sync workers (``DEBUG=0``, persistent database connections, the
   dummy SMS backend) on ``--port``;
3. runs the load from a second process (this script with ``--client``): ``--concurrency``
   threads, each with its own keep-alive HTTP connection, POST
   ``/api/v1/services/bookings/`` for a random patient and a random slot for ``--seconds``
   after ``--warmup`` untimed seconds, exactly as a phone would (``Authorization: Token``,
   ``X-Forwarded-Proto: https`` as behind the TLS proxy);
4. prints throughput (all answers, and ``201`` bookings per second), latency median/p95/max
   of the timed requests, the answers by status, and checks by query that no slot holds more
   bookings than places and that every slot's ``booked`` equals its active bookings.

DATABASE_URL is not read; run as::

    .venv/bin/python bench/booking_load.py --database hc_sv
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from support import postgres_url, setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INSTITUTION_CODE = "BENCH-HS"
ITEM = "HS-BLD-TAC"


# --- the client process -------------------------------------------------------------------------


def run_client(args: argparse.Namespace) -> None:
    """POST bookings from ``--concurrency`` threads; print one JSON line of raw results."""
    work = json.loads(Path(args.client).read_text())
    tokens: list[str] = work["tokens"]
    slots: list[int] = work["slots"]
    start_at = time.monotonic() + args.warmup
    stop_at = start_at + args.seconds
    results: list[tuple[float, int, float]] = []  # (sent at, status, seconds)
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        mine: list[tuple[float, int, float]] = []
        while True:
            sent = time.monotonic()
            if sent >= stop_at:
                break
            body = json.dumps(
                {
                    "slot": rng.choice(slots),
                    "item": ITEM,
                    "address": "天津市南开区长江道1号",
                    "phone": "13900000001",
                }
            )
            connection.request(
                "POST",
                "/api/v1/services/bookings/",
                body=body,
                headers={
                    "Authorization": f"Token {rng.choice(tokens)}",
                    "Content-Type": "application/json",
                    "X-Forwarded-Proto": "https",
                },
            )
            response = connection.getresponse()
            response.read()
            done = time.monotonic()
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            if sent >= start_at:
                mine.append((sent, response.status, done - sent))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"seconds": args.seconds, "results": results}))


# --- the driver -----------------------------------------------------------------------------


def _prepare(patients: int, slot_count: int, capacity: int) -> tuple[list[str], list[int]]:
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from cloud_management.identifiers import make_resident_id
    from cloud_management.models import District, Institution, Patient
    from cloud_services.models import Booking, ServiceItem, ServiceSlot, VisitEvent

    user_model = get_user_model()
    with transaction.atomic():
        district = District.objects.get(code="120104")
        institution, _created = Institution.objects.get_or_create(
            code=INSTITUTION_CODE,
            defaults={
                "name": "压测社区卫生服务中心",
                "district": district,
                "kind": Institution.Kind.COMMUNITY_CENTRE,
            },
        )
        VisitEvent.objects.filter(booking__slot__institution=institution).delete()
        Booking.objects.filter(slot__institution=institution).delete()
        ServiceSlot.objects.filter(institution=institution).delete()
        Patient.objects.filter(home_institution=institution).delete()
        user_model.objects.filter(username__startswith="bench_hs_").delete()

        password = make_password(None)
        users = user_model.objects.bulk_create(
            [user_model(username=f"bench_hs_{n:06d}", password=password) for n in range(patients)]
        )
        # Births in 1920-1935 at serials 0-99: clear of the demo's residents.
        birth = dt.date(1920, 1, 1)
        Patient.objects.bulk_create(
            [
                Patient(
                    resident_id=make_resident_id(
                        "120104", birth + dt.timedelta(days=n // 100), n % 100, "M"
                    ),
                    name=f"压测{n}",
                    sex="M",
                    birth_date=birth + dt.timedelta(days=n // 100),
                    district=district,
                    home_institution=institution,
                    phone=f"136{n:08d}",
                    insurance_type="employee",
                    user=user,
                )
                for n, user in enumerate(users)
            ]
        )
        tokens = Token.objects.bulk_create(
            [Token(user=user, key=Token.generate_key()) for user in users]
        )
        item = ServiceItem.objects.get(code=ITEM)
        first_day = timezone.localdate() + dt.timedelta(days=1)
        windows_per_day = 12
        slots = ServiceSlot.objects.bulk_create(
            [
                ServiceSlot(
                    institution=institution,
                    date=first_day + dt.timedelta(days=n // windows_per_day),
                    start=dt.time(7 + n % windows_per_day, 0),
                    end=dt.time(7 + n % windows_per_day, 50),
                    capacity=capacity,
                )
                for n in range(slot_count)
            ]
        )
        ServiceSlot.items.through.objects.bulk_create(
            [ServiceSlot.items.through(serviceslot_id=s.pk, serviceitem_id=item.pk) for s in slots]
        )
    return [t.key for t in tokens], [s.pk for s in slots]


def _check() -> dict[str, int]:
    from django.db.models import Count, F, Q

    from cloud_services.models import Booking, ServiceSlot

    slots = ServiceSlot.objects.filter(institution__code=INSTITUTION_CODE).annotate(
        active=Count("bookings", filter=Q(bookings__status__in=Booking.ACTIVE_STATUSES))
    )
    return {
        "slots": slots.count(),
        "bookings": Booking.objects.filter(slot__institution__code=INSTITUTION_CODE).count(),
        "overbooked_slots": slots.filter(active__gt=F("capacity")).count(),
        "count_mismatches": slots.exclude(active=F("booked")).count(),
        "duplicate_active": Booking.objects.filter(
            slot__institution__code=INSTITUTION_CODE, status__in=Booking.ACTIVE_STATUSES
        )
        .values("patient_id", "slot_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
    }


def _wait_ready(port: int, token: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request(
                "GET",
                "/api/v1/services/items/",
                headers={"Authorization": f"Token {token}", "X-Forwarded-Proto": "https"},
            )
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="hc_sv")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db-port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--slots", type=int, default=360)
    parser.add_argument("--capacity", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_client(args)
        return

    setup_django(postgres_url(args.database, args.host, args.db_port, args.user))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    prepared_at = time.monotonic()
    tokens, slots = _prepare(args.patients, args.slots, args.capacity)
    print(
        f"prepared {len(tokens)} patients and {len(slots)} slots x {args.capacity} places "
        f"in {time.monotonic() - prepared_at:.1f} s"
    )
    work = ROOT / "bench" / "data" / "booking_load_work.json"
    work.parent.mkdir(parents=True, exist_ok=True)
    work.write_text(json.dumps({"tokens": tokens, "slots": slots}))

    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
        "DATABASE_CONN_MAX_AGE": "600",
        "SMS_BACKEND": "cloud_services.sms.dummy.SmsBackend",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "healthcommunity.wsgi",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_ready(args.port, tokens[0], time.monotonic() + 60)
        load_before = os.getloadavg()
        client = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--client",
                str(work),
                "--port",
                str(args.port),
                "--concurrency",
                str(args.concurrency),
                "--seconds",
                str(args.seconds),
                "--warmup",
                str(args.warmup),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)

    raw = json.loads(client.stdout)
    results = raw["results"]
    latencies = sorted(r[2] * 1000 for r in results)
    by_status: dict[int, int] = {}
    for _sent, status, _seconds in results:
        by_status[status] = by_status.get(status, 0) + 1
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("nan")
    figures = {
        "requests": len(results),
        "requests_per_s": round(len(results) / raw["seconds"], 1),
        "bookings_per_s": round(by_status.get(201, 0) / raw["seconds"], 1),
        "median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(p95, 1),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "by_status": dict(sorted(by_status.items())),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        **_check(),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
