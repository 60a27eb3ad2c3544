"""Benchmark the diabetes quality indicators for all 266 institutions at Tianjin scale (issue 4:
at most 1.5 × the hand-written SQL and at most 20 s).

The database is a Tianjin registry (``seed_demo --scale tianjin``: 220,000 enrolments) with the
year's follow-ups and lab results of ``healthcommunity.demo.care_tianjin`` (about 1.1 million
follow-ups and 300,000 verified results). ``--seed`` adds those to a registry that has none yet
(a copy of ``hc_bench`` made before this step existed), in one transaction, and prints the
step's log.

Timed, alternately, ``--runs`` times each after one untimed warm-up of each:

- ``chronic_care``: :func:`chronic_care.indicators.diabetes_quality_figures` for every
  institution's id, the call payments' settlement makes (one statement built from the
  ``measurements`` selector);
- ``hand-written SQL``: one PostgreSQL statement written directly against the tables for
  CONTRACTS §5 (``DISTINCT ON`` for the latest glucose, ``array_agg`` for the first
  baseline), independent of chronic_care's code.

The script checks that both give the same five counts for every institution, then prints the
median and every run of both, their ratio, the managed population and the load average.

    .venv/bin/python bench/quality_indicators.py --database hc_bench_care --seed
    .venv/bin/python bench/quality_indicators.py --database hc_bench_care
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from support import BENCH_SECRET_KEY, load_average, postgres_url, setup_django

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HAND_WRITTEN_SQL = """
WITH spans AS (
    SELECT institution_id AS inst, patient_id AS patient, enrolled_on, baseline_fbg,
           GREATEST(enrolled_on, %(first)s) AS s,
           LEAST(COALESCE(ended_on, %(last)s), %(last)s) AS e
    FROM cloud_management_diabetesenrollment
    WHERE enrolled_on <= %(last)s AND (ended_on IS NULL OR ended_on >= %(first)s)
),
members AS (
    SELECT inst, patient, SUM(e - s + 1) AS covered,
           (array_agg(baseline_fbg ORDER BY enrolled_on))[1] AS baseline
    FROM spans
    GROUP BY inst, patient
    HAVING SUM(e - s + 1) >= 90
),
member_spans AS (
    SELECT sp.* FROM spans sp JOIN members m USING (inst, patient)
),
visits AS (
    SELECT sp.inst, sp.patient, COUNT(DISTINCT f.date) AS counted
    FROM member_spans sp
    JOIN chronic_care_followup f
      ON f.patient_id = sp.patient AND f.date BETWEEN sp.s AND sp.e
    WHERE f.mode IN ('clinic', 'home') AND f.fbg IS NOT NULL
    GROUP BY sp.inst, sp.patient
),
readings AS (
    SELECT patient_id AS patient, date AS day, 'FBG' AS kind, fbg::numeric AS value
    FROM chronic_care_followup
    WHERE fbg IS NOT NULL AND date BETWEEN %(first)s AND %(last)s
    UNION ALL
    SELECT patient_id, date, 'HBA1C', hba1c::numeric
    FROM chronic_care_followup
    WHERE hba1c IS NOT NULL AND date BETWEEN %(first)s AND %(last)s
    UNION ALL
    SELECT r.patient_id, r.collected_on, i.code, r.value
    FROM cloud_exams_examresult r JOIN cloud_exams_examitem i ON i.id = r.item_id
    WHERE r.verified_at IS NOT NULL AND r.value IS NOT NULL AND i.code IN ('FBG', 'HBA1C')
      AND r.collected_on BETWEEN %(first)s AND %(last)s
),
covered AS (
    SELECT sp.inst, sp.patient, r.kind, r.day, r.value
    FROM member_spans sp
    JOIN readings r ON r.patient = sp.patient AND r.day BETWEEN sp.s AND sp.e
),
latest AS (
    SELECT DISTINCT ON (inst, patient) inst, patient, value
    FROM covered WHERE kind = 'FBG'
    ORDER BY inst, patient, day DESC, value DESC
),
tested AS (
    SELECT DISTINCT inst, patient FROM covered WHERE kind = 'HBA1C'
)
SELECT m.inst,
       COUNT(*),
       COUNT(*) FILTER (WHERE COALESCE(v.counted, 0) >= (4 * m.covered + %(diy)s - 1) / %(diy)s),
       COUNT(*) FILTER (WHERE l.value < 7.0),
       COUNT(t.patient),
       COUNT(*) FILTER (WHERE m.baseline < 7.0)
FROM members m
LEFT JOIN visits v USING (inst, patient)
LEFT JOIN latest l USING (inst, patient)
LEFT JOIN tested t USING (inst, patient)
GROUP BY m.inst
"""


def seed(year: int) -> None:
    """The care steps of the tianjin scale on a registry that has no follow-ups yet."""
    from django.db import transaction

    from healthcommunity.demo import care_tianjin
    from healthcommunity.demo.steps import SeedContext

    ctx = SeedContext(scale="tianjin", year=year, write=print)
    print(f"load average before seeding: {load_average()}")
    started = time.monotonic()
    with transaction.atomic():
        for step in care_tianjin.STEPS:
            step(ctx)
    print(f"seeded in {time.monotonic() - started:.1f} s; load average after: {load_average()}")


def hand_written(year: int, *, tuned: bool) -> dict[int, tuple[int, ...]]:
    """The hand-written statement, with PostgreSQL's default settings or (``tuned``) with the
    settings chronic_care sends with its own (no JIT, a larger work_mem)."""
    from django.db import connection

    from chronic_care.indicators import STATEMENT_WORK_MEM
    from payments.formulas import days_in_year

    params: dict[str, Any] = {
        "first": dt.date(year, 1, 1),
        "last": dt.date(year, 12, 31),
        "diy": days_in_year(year),
    }
    with connection.cursor() as cursor:
        sql = HAND_WRITTEN_SQL
        if tuned:
            prefix = f"SET LOCAL jit = off; SET LOCAL work_mem = '{STATEMENT_WORK_MEM}'; "
            sql = prefix + sql
        cursor.execute(sql, params)
        return {row[0]: tuple(int(x) for x in row[1:]) for row in cursor.fetchall()}


def through_chronic_care(year: int, institution_ids: list[int]) -> dict[int, tuple[int, ...]]:
    from chronic_care.indicators import diabetes_quality_figures

    figures = diabetes_quality_figures(year, institution_ids)
    return {
        pk: (
            f.managed_population,
            f.standardized_managed,
            f.glucose_controlled,
            f.hba1c_tested,
            f.baseline_controlled,
        )
        for pk, f in figures.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", default="hc_bench_care")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", action="store_true", help="add the care steps' rows first")
    args = parser.parse_args()
    setup_django(
        postgres_url(args.database, args.host, args.port, args.user),
        without_redis=True,
        secret_key=BENCH_SECRET_KEY,
        debug_off=True,
    )
    if args.seed:
        seed(args.year)
        return

    from django.db import connection

    from chronic_care.models import FollowUp
    from cloud_exams.models import ExamResult
    from cloud_management.models import DiabetesEnrollment, Institution

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    institution_ids = list(Institution.objects.order_by("pk").values_list("pk", flat=True))
    print(
        f"institutions {len(institution_ids)}, enrolments {DiabetesEnrollment.objects.count()}, "
        f"follow-ups {FollowUp.objects.count()}, "
        f"verified results {ExamResult.objects.filter(verified_at__isnull=False).count()}; "
        f"Python {platform.python_version()}, PostgreSQL {server_version}"
    )

    ours = through_chronic_care(args.year, institution_ids)
    for tuned in (False, True):
        theirs = hand_written(args.year, tuned=tuned)
        if ours != theirs:
            differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
            raise SystemExit(
                f"the two disagree for {len(differing)} institutions: {differing[:10]}"
            )
    managed = sum(counts[0] for counts in ours.values())
    print(f"same counts for {len(ours)} institutions; managed population {managed}")

    calls = {
        "chronic_care indicators (diabetes_quality_figures)": lambda: through_chronic_care(
            args.year, institution_ids
        ),
        "hand-written SQL, default settings": lambda: hand_written(args.year, tuned=False),
        "hand-written SQL, chronic_care's settings": lambda: hand_written(args.year, tuned=True),
    }
    times: dict[str, list[float]] = {label: [] for label in calls}
    loads = [load_average()]
    for _run in range(args.runs):
        for label, call in calls.items():
            started = time.perf_counter()
            call()
            times[label].append(time.perf_counter() - started)
        loads.append(load_average())
    medians = {label: statistics.median(values) for label, values in times.items()}
    print("| computation | median | runs (s) |")
    print("| --- | --- | --- |")
    for label, values in times.items():
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {label} | {medians[label]:.2f} s | {runs} |")
    ours_median, *sql_medians = medians.values()
    fastest_sql = min(sql_medians)
    print(
        f"ratio to the faster SQL {ours_median / fastest_sql:.2f} (goal ≤ 1.5); "
        f"chronic_care ≤ 20 s: {ours_median <= 20}"
    )
    print(f"load average (1 min) before and after each round: {', '.join(loads)}")


if __name__ == "__main__":
    main()
