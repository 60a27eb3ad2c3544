"""Benchmark: the staff admin's resident changelist at 600,000 residents (ISSUE 2: filtered by
institution, at most 300 ms server time).

Server time is the time Django takes to answer a request made with the test Client, in
process: middleware, session and scope lookup, the view, every query and the template; no
network and no WSGI server. Each scenario is requested ``--warmup`` times untimed, then
``--requests`` times timed; the script prints the median, p95 and the query count per request
as a Markdown table (docs/benchmarks.md).

The database is the one ``seed_demo --scale tianjin`` fills (``hc_bench``):

    .venv/bin/python bench/admin_changelist.py --database-url postgres://postgres@127.0.0.1:5432/hc_bench

When no seeded database is at hand, ``--fill`` migrates the database and fills it with a fast
COPY-based generator of the same shape (266 institutions in the 16 districts, 600,000 residents
with valid resident IDs, about 300,000 contracts and 220,000 enrolments) if it holds fewer than
``--patients`` residents (it fills only an empty registry):

    .venv/bin/python bench/admin_changelist.py --fill \\
        --database-url postgres://postgres@127.0.0.1:5432/hc_admin_bench

The benchmark adds four users of its own (``bench_*``) and changes nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from support import setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰红建国建华国强志强淑珍桂兰凤兰玉珍秀珍德明"  # noqa: E501
KINDS = ["community_centre"] * 6 + ["township_centre"] * 3 + ["village_clinic"]


def _copy(cursor: object, table: str, columns: list[str], rows: list[tuple[object, ...]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor.copy_expert(  # type: ignore[attr-defined]
        f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer
    )


def fill(patients: int, seed: int) -> None:
    """Fill the registry with a city of ``patients`` residents using COPY (PostgreSQL)."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from cloud_management.identifiers import make_resident_id
    from cloud_management.models import District, Institution, Patient

    call_command("migrate", verbosity=0)
    existing_patients = Patient.objects.count()
    if existing_patients >= patients:
        print(f"database already holds {existing_patients:,} residents; not filling")
        return
    if existing_patients:
        raise SystemExit(
            f"the database holds {existing_patients:,} residents, fewer than {patients:,}: "
            "--fill only fills an empty registry (use a fresh database)"
        )
    rng = random.Random(seed)
    started = time.monotonic()
    districts = list(District.objects.order_by("code"))
    with transaction.atomic(), connection.cursor() as cursor:
        existing = set(Institution.objects.values_list("code", flat=True))
        institutions = []
        for n in range(266):
            district = districts[n % len(districts)]
            code = f"B{district.code}{n:03d}"
            if code not in existing:
                institutions.append(
                    Institution(
                        code=code,
                        name=f"{district.name}第{n + 1}社区卫生服务中心",
                        district=district,
                        kind=KINDS[n % len(KINDS)],
                        is_chronic_care_centre=n % 3 == 0,
                    )
                )
        Institution.objects.bulk_create(institutions)
        pool = list(Institution.objects.filter(code__startswith="B").select_related("district"))
        district_code = {d.pk: d.code for d in districts}

        rows = []
        homes = []
        for i in range(1, patients + 1):
            home = rng.choice(pool)
            homes.append(home.pk)
            sex = "M" if i % 2 else "F"
            # (birth date, serial) is unique per i below 3,000,000, so the IDs are unique.
            birth = dt.date(1930, 1, 1) + dt.timedelta(days=(i * 7919) % 30000)
            serial = (i // 30000) % 100
            resident_id = make_resident_id(district_code[home.district_id], birth, serial, sex)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else "")
            rows.append(
                (
                    i,
                    resident_id,
                    name,
                    sex,
                    birth.isoformat(),
                    f"13{i:09d}",
                    f"天津市第{i % 997}街{i % 101}号",
                    home.district_id,
                    home.pk,
                    "employee" if i % 5 < 2 else "resident",
                    f"TJ{i:010d}",
                )
            )
        _copy(
            cursor,
            "cloud_management_patient",
            [
                "id",
                "resident_id",
                "name",
                "sex",
                "birth_date",
                "phone",
                "address",
                "district_id",
                "home_institution_id",
                "insurance_type",
                "insurance_number",
            ],
            rows,
        )
        contracts = []
        enrolments = []
        for i in range(1, patients + 1):
            if i % 2 == 0:
                signed = dt.date(2023, 1, 1) + dt.timedelta(days=i % 900)
                contracts.append((len(contracts) + 1, i, homes[i - 1], signed.isoformat(), None))
            if i % 30 < 11:
                start = dt.date(2022, 1, 1) + dt.timedelta(days=i % 1200)
                dtype, code = ("T1", "E10.9") if i % 20 == 0 else ("T2", "E11.9")
                enrolments.append(
                    (len(enrolments) + 1, i, homes[i - 1], dtype, code, start.isoformat(), "")
                )
        _copy(
            cursor,
            "cloud_management_familydoctorcontract",
            ["id", "patient_id", "institution_id", "signed_on", "ended_on"],
            contracts,
        )
        _copy(
            cursor,
            "cloud_management_diabetesenrollment",
            [
                "id",
                "patient_id",
                "institution_id",
                "diabetes_type",
                "diagnosis_code",
                "enrolled_on",
                "end_reason",
            ],
            enrolments,
        )
        for table in (
            "cloud_management_patient",
            "cloud_management_familydoctorcontract",
            "cloud_management_diabetesenrollment",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
    print(
        f"filled {patients:,} residents, {len(contracts):,} contracts, "
        f"{len(enrolments):,} enrolments in {time.monotonic() - started:.1f} s"
    )


def _users(institution_id: int, district_id: int) -> dict[str, object]:
    from django.contrib.auth import get_user_model

    from cloud_management.models import StaffRole

    user_model = get_user_model()

    def user(username: str, **flags: bool) -> object:
        obj, _ = user_model.objects.update_or_create(
            username=username, defaults={"is_staff": True, "is_active": True, **flags}
        )
        return obj

    operator = user("bench_operator", is_superuser=True)
    city = user("bench_city_regulator")
    StaffRole.objects.get_or_create(
        user=city, role="regulator", defaults={"agency": "health_commission"}
    )
    district = user("bench_district_regulator")
    StaffRole.objects.update_or_create(
        user=district,
        role="regulator",
        defaults={"agency": "insurance_bureau", "district_id": district_id},
    )
    doctor = user("bench_doctor")
    StaffRole.objects.get_or_create(user=doctor, role="doctor", institution_id=institution_id)
    return {
        "operator": operator,
        "city_regulator": city,
        "district_regulator": district,
        "doctor": doctor,
    }


def _measure(
    client: object, url: str, params: dict[str, str], warmup: int, runs: int
) -> dict[str, float]:
    from django.db import connection
    from django.template import Template
    from django.test.utils import CaptureQueriesContext, instrumented_test_render

    def get() -> object:
        response = client.get(url, params)  # type: ignore[attr-defined]
        if response.status_code != 200:
            raise SystemExit(f"{url} {params}: HTTP {response.status_code}")
        return response

    for _ in range(warmup):
        get()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        get()
        timings.append((time.perf_counter() - started) * 1000)
    # One more request, untimed, with the test-only template instrumentation that lets the
    # Client see the context (rows shown, count shown) and with its queries captured.
    original_render = Template._render
    Template._render = instrumented_test_render  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)  # type: ignore[attr-defined]
    finally:
        Template._render = original_render  # type: ignore[method-assign]
    timings.sort()
    return {
        "median": statistics.median(timings),
        "p95": timings[max(0, round(0.95 * len(timings)) - 1)],
        "max": timings[-1],
        "queries": len(queries.captured_queries),
        "rows": len(response.context["cl"].result_list),
        "count": response.context["cl"].result_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/hc_bench")
    parser.add_argument("--fill", action="store_true", help="fill the database if it is short")
    parser.add_argument("--patients", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=20251123)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    setup_django(args.database_url, debug_off=True)
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from cloud_management.models import Institution, Patient

    if connection.vendor != "postgresql":
        raise SystemExit("the benchmark runs on PostgreSQL (--database-url postgres://…)")
    if args.fill:
        fill(args.patients, args.seed)
    total = Patient.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE cloud_management_patient; ANALYZE cloud_management_familydoctorcontract;"
            " ANALYZE cloud_management_diabetesenrollment; ANALYZE cloud_management_institution"
        )
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    # The busiest institution: the largest filtered list is the worst case.
    busiest = (
        Patient.objects.values("home_institution_id").annotate(n=Count("id")).order_by("-n").first()
    )
    if busiest is None:
        raise SystemExit("no residents: run seed_demo --scale tianjin first, or pass --fill")
    institution_id = busiest["home_institution_id"]
    district_id = Institution.objects.get(pk=institution_id).district_id
    users = _users(institution_id, district_id)
    url = "/admin/cloud_management/patient/"
    sample_name = Patient.objects.filter(home_institution_id=institution_id).values_list(
        "name", flat=True
    )[0][:1]
    scenarios = [
        ("operator", "filtered by institution", {"institution": str(institution_id)}),
        ("city_regulator", "filtered by institution", {"institution": str(institution_id)}),
        ("district_regulator", "filtered by institution", {"institution": str(institution_id)}),
        ("doctor", "own institution, unfiltered", {}),
        ("operator", "unfiltered (all residents)", {}),
        ("city_regulator", "filtered by district", {"district": str(district_id)}),
        ("operator", "search by name prefix", {"q": sample_name}),
        (
            "operator",
            "institution + sex + insurance",
            {
                "institution": str(institution_id),
                "sex__exact": "F",
                "insurance_type__exact": "resident",
            },
        ),
    ]
    print(
        f"PostgreSQL {pg_version}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"{total:,} residents; institution {institution_id} has {busiest['n']:,}; "
        f"{args.requests} timed requests after {args.warmup} warm-up requests each\n"
    )
    print(
        "| user | changelist | median ms | p95 ms | max ms | queries | rows shown | count shown |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for role, label, params in scenarios:
        client = Client()
        client.force_login(users[role])
        result = _measure(client, url, params, args.warmup, args.requests)
        print(
            f"| {role} | {label} | {result['median']:.1f} | {result['p95']:.1f} | "
            f"{result['max']:.1f} | {result['queries']} | {result['rows']} | {result['count']:,} |"
        )


if __name__ == "__main__":
    main()
