"""Benchmark annual settlement at Tianjin scale (issue 3): both schemes, beside a hand-written
SQL aggregate of the same figures on the same data in the same run, and the naive per-member
loop timed on a sample and extrapolated.

Two modes, against a PostgreSQL database seeded with ``seed_demo --scale tianjin``:

    # add the payment steps (schemes, ratios, a year of claims, settled runs) to a database
    # whose registry was seeded without them (e.g. a copy of one made before they existed):
    .venv/bin/python bench/settle_tianjin.py --database hc_bench_pay --seed
    # time the annual settlement of both schemes:
    .venv/bin/python bench/settle_tianjin.py --database hc_bench_pay

The settlement runs in this process (``payments.services.settlement.run_settlement``, the path
``run_settlement --wait`` takes without a broker) with the registered quality provider. Each
run supersedes the previous one, as a re-run does in production. Prints Markdown for
docs/benchmarks/settlement.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import astuple
from decimal import Decimal
from pathlib import Path

from quality_indicators import hand_written as indicators_by_hand
from support import postgres_url, setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def seed(year: int) -> None:
    """Run the demo's payment steps on an existing full-scale registry, in one transaction."""
    from django.db import transaction

    from cloud_management.models import District, Institution
    from healthcommunity.demo import payments as demo_payments
    from healthcommunity.demo.steps import SeedContext

    ctx = SeedContext(scale="tianjin", year=year, write=print)
    ctx.references.districts = dict(District.objects.values_list("code", "pk"))
    ctx.references.institutions = dict(Institution.objects.values_list("code", "pk"))
    started = time.monotonic()
    steps = demo_payments.steps(history=True)
    # The ledger first, then the settled runs, each committed on its own.
    for group in (steps[:-1], steps[-1:]):
        with transaction.atomic():
            for step in group:
                step_started = time.monotonic()
                step(ctx)
                print(f"step {step.__name__}: {time.monotonic() - step_started:.1f} s")
    print(f"payment steps: {time.monotonic() - started:.1f} s")


# --- the hand-written aggregate --------------------------------------------------------------

SQL_MEMBERS = """
SELECT m.institution_id, count(DISTINCT m.patient_id),
       sum(LEAST(COALESCE(m.ended_on, %(end)s), %(end)s) - GREATEST(m.{start}, %(start)s) + 1)
FROM {table} m
WHERE m.{start} <= %(end)s AND (m.ended_on IS NULL OR m.ended_on >= %(start)s)
GROUP BY m.institution_id
"""
SQL_SPENDING = """
SELECT m.institution_id, count(*), sum(c.fund_paid)
FROM {table} m
JOIN payments_claimline c ON c.patient_id = m.patient_id
WHERE m.{start} <= %(end)s AND (m.ended_on IS NULL OR m.ended_on >= %(start)s)
  AND c.service_date BETWEEN %(start)s AND %(end)s
  AND c.service_date >= m.{start} AND (m.ended_on IS NULL OR c.service_date <= m.ended_on)
  AND c.category = ANY(%(categories)s) {prefixes}
GROUP BY m.institution_id
"""


def hand_written(scheme) -> dict[int, tuple[int, int, int, Decimal]]:
    """institution → (enrolees, member_days, claim lines, spending) by plain SQL."""
    from django.db import connection, transaction

    from payments.formulas import parse_period

    period = parse_period(str(scheme.year))
    if scheme.kind == "per_disease":
        table, start = "cloud_management_diabetesenrollment", "enrolled_on"
    else:
        table, start = "cloud_management_familydoctorcontract", "signed_on"
    prefixes = scheme.prefix_list()
    prefix_sql = ""
    params: dict[str, object] = {
        "start": period.start,
        "end": period.end,
        "categories": list(scheme.category_list()),
    }
    if prefixes:
        prefix_sql = (
            "AND ("
            + " OR ".join(
                f"left(c.diagnosis_code, {len(p)}) = %(p{i})s" for i, p in enumerate(prefixes)
            )
            + ")"
        )
        params.update({f"p{i}": p for i, p in enumerate(prefixes)})
    # The same session settings as the settlement's own aggregates (JIT off).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(SQL_MEMBERS.format(table=table, start=start), params)
        members = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
        cursor.execute(SQL_SPENDING.format(table=table, start=start, prefixes=prefix_sql), params)
        spending = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    return {
        i: (enrolees, days, *spending.get(i, (0, Decimal("0.00"))))
        for i, (enrolees, days) in members.items()
    }


# --- the naive loop --------------------------------------------------------------------------


def naive_sample(scheme, sample_size: int) -> tuple[float, int]:
    """Seconds per membership for a per-member ORM loop (one query per member's claims, Python
    sums), timed on a random sample; returns (seconds per member, memberships in the year)."""
    from django.db.models import Q

    from cloud_management.models import DiabetesEnrollment, FamilyDoctorContract
    from payments.formulas import parse_period
    from payments.models import ClaimLine

    period = parse_period(str(scheme.year))
    model, start = (
        (DiabetesEnrollment, "enrolled_on")
        if scheme.kind == "per_disease"
        else (FamilyDoctorContract, "signed_on")
    )
    memberships = model.objects.filter(**{f"{start}__lte": period.end}).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=period.start)
    )
    ids = list(memberships.values_list("pk", flat=True))
    chosen = random.Random(7).sample(ids, min(sample_size, len(ids)))
    categories = scheme.category_list()
    prefixes = scheme.prefix_list()
    started = time.monotonic()
    totals: dict[int, Decimal] = {}
    for membership in model.objects.filter(pk__in=chosen):
        first = max(getattr(membership, start), period.start)
        last = min(membership.ended_on or period.end, period.end)
        spent = Decimal("0.00")
        for line in ClaimLine.objects.filter(
            patient_id=membership.patient_id, service_date__gte=first, service_date__lte=last
        ):
            if line.category in categories and (
                not prefixes or line.diagnosis_code.startswith(prefixes)
            ):
                spent += line.fund_paid
        totals[membership.institution_id] = totals.get(membership.institution_id, 0) + spent
    elapsed = time.monotonic() - started
    return elapsed / len(chosen), len(ids)


def benchmark(year: int, repeats: int, sample: int) -> None:
    from django.db import connection

    from healthcommunity.demo import payments as demo_payments
    from payments.models import ClaimLine, Scheme, SettlementLine
    from payments.registry import collect_quality_figures
    from payments.services.settlement import run_settlement

    schemes = [Scheme.objects.get(code=code) for code in demo_payments.scheme_codes(year)]
    claim_lines = ClaimLine.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    print(f"claim lines: {claim_lines:,}; PostgreSQL: {version.split(',')[0]}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print(
        "| scheme | run | settlement (s) | SQL: members and spending (s) "
        "| SQL: §5 indicators (s) | ratio to all the SQL | quality provider (s) "
        "| ratio without quality | lines | checked |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    summary: dict[str, list[tuple[float, float]]] = {}
    for repeat in range(1, repeats + 1):
        total_run = total_sql = total_quality = total_indicators = 0.0
        for scheme in schemes:
            started = time.monotonic()
            run = run_settlement(scheme=scheme, period=str(year))
            run_seconds = time.monotonic() - started
            if run.status != "finished":
                raise SystemExit(f"{scheme.code}: run {run.pk} {run.status}: {run.error}")
            started = time.monotonic()
            expected = hand_written(scheme)
            sql_seconds = time.monotonic() - started
            got = {
                line.institution_id: (
                    line.enrolees,
                    line.member_days,
                    line.claim_lines,
                    line.spending,
                )
                for line in SettlementLine.objects.filter(run=run)
            }
            checked = "same figures" if got == expected else "DIFFERENT"
            if got != expected:
                print(f"mismatch for {scheme.code}", file=sys.stderr)
            # The quality figures (CONTRACTS §5) come from chronic_care's provider, which the
            # hand-written SQL does not compute: timed apart, with the run's institutions.
            started = time.monotonic()
            provided = collect_quality_figures(year, sorted(got))
            quality_seconds = time.monotonic() - started
            # The same five counts by the hand-written §5 statement of
            # bench/quality_indicators.py (with chronic_care's two settings), timed per scheme
            # as each run computes them: the SQL side of "the same figures".
            started = time.monotonic()
            by_hand = indicators_by_hand(year, tuned=True)
            indicator_seconds = time.monotonic() - started
            if any(
                by_hand.get(pk, (0, 0, 0, 0, 0)) != astuple(figures)
                for pk, figures in provided.items()
            ):
                checked = "DIFFERENT"
                print(f"quality figures differ for {scheme.code}", file=sys.stderr)
            all_sql = sql_seconds + indicator_seconds
            summary.setdefault(scheme.code, []).append((run_seconds, all_sql))
            total_run += run_seconds
            total_sql += sql_seconds
            total_quality += quality_seconds
            total_indicators += indicator_seconds
            print(
                f"| {scheme.code} | {repeat} | {run_seconds:.1f} | {sql_seconds:.1f} "
                f"| {indicator_seconds:.1f} | {run_seconds / all_sql:.2f} | {quality_seconds:.1f} "
                f"| {(run_seconds - quality_seconds) / sql_seconds:.2f} | {len(got)} | {checked} |"
            )
        print(
            f"| both | {repeat} | {total_run:.1f} | {total_sql:.1f} | {total_indicators:.1f} "
            f"| {total_run / (total_sql + total_indicators):.2f} | {total_quality:.1f} "
            f"| {(total_run - total_quality) / total_sql:.2f} | | |"
        )
    print()
    for code, pairs in summary.items():
        runs = [p[0] for p in pairs]
        sqls = [p[1] for p in pairs]
        print(
            f"{code}: median settlement {statistics.median(runs):.1f} s, "
            f"median SQL (members, spending and §5 indicators) {statistics.median(sqls):.1f} s"
        )
    print()
    print("| scheme | naive loop: s per member (sample) | members | extrapolated |")
    print("| --- | ---: | ---: | ---: |")
    for scheme in schemes:
        per_member, members = naive_sample(scheme, sample)
        print(
            f"| {scheme.code} | {per_member * 1000:.2f} ms ({sample}) | {members:,} "
            f"| {per_member * members / 60:.0f} min |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="hc_bench_pay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2000, help="members in the naive sample")
    parser.add_argument("--seed", action="store_true", help="add the payment steps and stop")
    args = parser.parse_args()
    setup_django(postgres_url(args.database, args.host, args.port, args.user), without_redis=True)
    if args.seed:
        seed(args.year)
    else:
        benchmark(args.year, args.repeats, args.sample)


if __name__ == "__main__":
    main()
