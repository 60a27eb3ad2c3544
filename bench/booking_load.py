"""Benchmark booking POSTs (issue 5: at least 300 bookings/s at p95 at most 100 ms on
PostgreSQL behind gunicorn with 2 workers, zero overbooked slots afterwards).

What it does:

1. migrates the PostgreSQL database ``--database`` and prepares a bench institution
   (``BENCH-HS``) with ``--patients`` residents, each with a login and an API token, and
   ``--slots`` slots of ``--capacity`` places offering the tacrolimus blood draw (earlier bench
   rows of that institution are removed first); it draws every (resident, slot) pair once, at
   most ``--capacity`` per slot, in random order: the requests of the run;
2. starts gunicorn with ``--workers`` (2) workers of ``--worker-class`` (``gthread``, with
   ``--threads`` threads each; ``sync`` has one) with ``DEBUG=0``, persistent database
   connections and the dummy SMS backend, on ``--port``;
3. runs the load from a second process: by default ``wrk`` (Debian package ``wrk``) with
   ``--connections`` keep-alive connections on ``--wrk-threads`` threads and a generated Lua
   script that sends the prepared requests in turn (``Authorization: Token``,
   ``X-Forwarded-Proto: https`` as behind the TLS proxy), first ``--warmup`` untimed seconds
   from the end of the list, then ``--seconds`` timed from its start; with
   ``--load-generator python`` this script with ``--connections`` threads and
   ``http.client`` instead (the earlier client, slower per request);
4. prints throughput (all answers, and ``201`` bookings per second), latency median/p95/p99/max
   of the timed requests (wrk's histogram), the answers by status, the CPU time per request of
   the gunicorn processes, the database's server processes, the load generator and the whole
   machine during the timed run (from ``/proc``), and checks by query that no slot holds more
   bookings than places, that every slot's ``booked`` equals its active bookings and that no
   patient holds two active bookings in a slot.

A request list shorter than the run wraps around: the repeated pairs are refused with ``409``
(one active booking per patient per slot) and counted as such.

DATABASE_URL is not read; run as::

    .venv/bin/python bench/booking_load.py --database hc_sv
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from support import percentile, postgres_url, setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INSTITUTION_CODE = "BENCH-HS"
ITEM = "HS-BLD-TAC"
PATH = "/api/v1/services/bookings/"
ADDRESS = "天津市南开区长江道1号"
PHONE = "13900000001"
DATA = ROOT / "bench" / "data"

# wrk's Lua script. Arguments: the requests file (one "token<TAB>JSON body" a line), the
# 0-based index of the first request, the direction (1 or -1) and the number of wrk threads;
# thread k sends requests first + k*direction, first + (k + threads)*direction, ...
WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local first, direction, count = tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  local lines = {}
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  prepared = {}
  local index = first + id * direction
  while index >= 0 and index < #lines do
    local token, body = lines[index + 1]:match("^(%S+)\t(.*)$")
    prepared[#prepared + 1] = wrk.format("POST", "PATH", {
      ["Authorization"] = "Token " .. token,
      ["Content-Type"] = "application/json",
      ["X-Forwarded-Proto"] = "https",
    }, body)
    index = index + direction * count
  end
  position = 0
  statuses = {}
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do parts[#parts + 1] = string.format('"%s": %d', status, n) end
  local errors = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "by_status": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, table.concat(parts, ", "),
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
""".replace("PATH", PATH)


# --- the Python load generator (--load-generator python) ------------------------------------


def run_python_client(args: argparse.Namespace) -> None:
    """POST the prepared requests from ``--connections`` threads; print one JSON line of raw
    results: (sent at, status, seconds) of each timed request."""
    lines = Path(args.client).read_text(encoding="utf-8").splitlines()
    pairs = [line.split("\t", 1) for line in lines]
    start_at = time.monotonic() + args.warmup
    stop_at = start_at + args.seconds
    results: list[tuple[float, int, float]] = []
    lock = threading.Lock()
    cursor = iter(range(10**9))

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        mine: list[tuple[float, int, float]] = []
        while True:
            sent = time.monotonic()
            if sent >= stop_at:
                break
            with lock:
                token, body = pairs[next(cursor) % len(pairs)]
            connection.request(
                "POST",
                PATH,
                body=body.encode(),
                headers={
                    "Authorization": f"Token {token}",
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

    threads = [threading.Thread(target=worker) for _n in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"seconds": args.seconds, "results": results}))


# --- preparing the data -----------------------------------------------------------------------


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


def _write_requests(tokens: list[str], slots: list[int], capacity: int, path: Path) -> int:
    """Every slot's places, each for a different resident, in random order: one request a line."""
    rng = random.Random(20261130)
    pairs = [
        (token, slot) for slot in slots for token in rng.sample(tokens, min(capacity, len(tokens)))
    ]
    rng.shuffle(pairs)
    with path.open("w", encoding="utf-8") as out:
        for token, slot in pairs:
            body = json.dumps(
                {"slot": slot, "item": ITEM, "address": ADDRESS, "phone": PHONE},
                ensure_ascii=False,
            )
            out.write(f"{token}\t{body}\n")
    return len(pairs)


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


# --- CPU accounting from /proc -------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _machine_busy() -> float:
    """CPU seconds all cores spent on anything but idling since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


def _database_backends(database: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
        return [row[0] for row in cursor.fetchall()]


class CpuMeter:
    """CPU seconds of gunicorn (master and workers), the database's backends, the load generator
    (this script's waited-for children) and the machine, between ``start`` and ``stop``."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database

    def _sample(self) -> dict[str, float]:
        server = [self.server_pid, *_children(self.server_pid)]
        return {
            "gunicorn": sum(_process_cpu(pid) for pid in server),
            "postgresql": sum(_process_cpu(pid) for pid in _database_backends(self.database)),
            "load_generator": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
            "machine": _machine_busy(),
        }

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        # A backend started during the run counts whole; the warm-up has opened them all.
        return {name: after[name] - self.before[name] for name in after}


# --- running the load -----------------------------------------------------------------------------


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


def _run_wrk(
    args: argparse.Namespace, requests_file: Path, seconds: float, *, from_end: bool, count: int
) -> dict[str, object]:
    script = DATA / "booking_load.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    first, direction = (count - 1, -1) if from_end else (0, 1)
    completed = subprocess.run(
        [
            "wrk",
            "--threads",
            str(args.wrk_threads),
            "--connections",
            str(args.connections),
            "--duration",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "--script",
            str(script),
            f"http://127.0.0.1:{args.port}{PATH}",
            "--",
            str(requests_file),
            str(first),
            str(direction),
            str(args.wrk_threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("WRK-RESULT "):
            result: dict[str, object] = json.loads(line.removeprefix("WRK-RESULT "))
            return result
    raise SystemExit(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def _wrk_figures(args: argparse.Namespace, requests_file: Path, count: int) -> dict[str, object]:
    if args.warmup > 0:
        _run_wrk(args, requests_file, args.warmup, from_end=True, count=count)
    meter: CpuMeter = args.meter
    meter.start()
    raw = _run_wrk(args, requests_file, args.seconds, from_end=False, count=count)
    cpu = meter.stop()
    seconds = int(raw["duration_us"]) / 1e6  # type: ignore[call-overload]
    by_status = {int(k): v for k, v in raw["by_status"].items()}  # type: ignore[attr-defined]
    latency = raw["latency_us"]
    requests = int(raw["requests"])  # type: ignore[call-overload]
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "requests_per_s": round(requests / seconds, 1),
        "bookings_per_s": round(by_status.get(201, 0) / seconds, 1),
        "median_ms": round(latency["p50"] / 1000, 1),  # type: ignore[index]
        "p95_ms": round(latency["p95"] / 1000, 1),  # type: ignore[index]
        "p99_ms": round(latency["p99"] / 1000, 1),  # type: ignore[index]
        "max_ms": round(latency["max"] / 1000, 1),  # type: ignore[index]
        "by_status": dict(sorted(by_status.items())),
        "socket_errors": raw["errors"],
        "cpu_ms_per_request": {
            name: round(1000 * value / max(1, requests), 2) for name, value in cpu.items()
        },
    }


def _python_figures(args: argparse.Namespace, requests_file: Path) -> dict[str, object]:
    meter: CpuMeter = args.meter
    meter.start()
    client = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--client",
            str(requests_file),
            "--port",
            str(args.port),
            "--connections",
            str(args.connections),
            "--seconds",
            str(args.seconds),
            "--warmup",
            str(args.warmup),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # Includes the warm-up seconds: the Python client times only part of its run.
    cpu = meter.stop()
    raw = json.loads(client.stdout)
    results = raw["results"]
    latencies = [r[2] * 1000 for r in results]
    by_status: dict[int, int] = {}
    for _sent, status, _seconds in results:
        by_status[status] = by_status.get(status, 0) + 1
    total = len(results) * (args.seconds + args.warmup) / args.seconds
    return {
        "requests": len(results),
        "seconds": raw["seconds"],
        "requests_per_s": round(len(results) / raw["seconds"], 1),
        "bookings_per_s": round(by_status.get(201, 0) / raw["seconds"], 1),
        "median_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "by_status": dict(sorted(by_status.items())),
        "cpu_ms_per_request": {
            name: round(1000 * value / max(1.0, total), 2) for name, value in cpu.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="hc_sv")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db-port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--slots", type=int, default=720)
    parser.add_argument("--capacity", type=int, default=60)
    parser.add_argument("--load-generator", default="wrk", choices=["wrk", "python"])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        run_python_client(args)
        return
    if args.load_generator == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    setup_django(postgres_url(args.database, args.host, args.db_port, args.user))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    prepared_at = time.monotonic()
    tokens, slots = _prepare(args.patients, args.slots, args.capacity)
    DATA.mkdir(parents=True, exist_ok=True)
    requests_file = DATA / "booking_load_requests.tsv"
    count = _write_requests(tokens, slots, args.capacity, requests_file)
    print(
        f"prepared {len(tokens)} patients, {len(slots)} slots x {args.capacity} places and "
        f"{count} requests in {time.monotonic() - prepared_at:.1f} s"
    )

    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
        "DATABASE_URL": postgres_url(args.database, args.host, args.db_port, args.user),
        "DATABASE_CONN_MAX_AGE": "600",
        "SMS_BACKEND": "cloud_services.sms.dummy.SmsBackend",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "healthcommunity.wsgi",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--bind",
        f"127.0.0.1:{args.port}",
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_ready(args.port, tokens[0], time.monotonic() + 60)
        args.meter = CpuMeter(server.pid, args.database)
        load_before = os.getloadavg()
        if args.load_generator == "wrk":
            figures = _wrk_figures(args, requests_file, count)
        else:
            figures = _python_figures(args, requests_file)
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)

    figures = {
        "server": f"gunicorn {args.workers} x {args.worker_class}"
        + (f" ({args.threads} threads)" if args.worker_class == "gthread" else ""),
        "load_generator": f"{args.load_generator}, {args.connections} connections",
        **figures,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        **_check(),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
