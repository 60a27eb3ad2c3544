"""Benchmark: review of a five-line prescription at full formulary and interaction-table size
(ISSUE 6: median ≤ 10 ms, p99 ≤ 30 ms).

What is timed is the whole engine as the service runs it: loading the snapshot from the
database (lines and drugs, contraindications, the verified lab values they name from
cloud_exams, the interaction pairs among the lines' substances, the active enrolment and the
latest follow-up from chronic_care) and running every rule. Nothing is cached between runs.

"Full size": the seeded formulary plus generated products up to ``--drugs`` (3,000 by default,
about the size of the national insurance drug list's Western and Chinese patent medicines), two
contraindications per generated product, and ``--interactions`` generated pairs (20,000 by
default) beside the seeded real ones, some of them involving the five drugs' substances, so
the pair lookup has to discriminate. The prescription (metformin, sitagliptin, amlodipine,
atorvastatin, aspirin) is reviewed ``--runs`` times after ``--warmup`` untimed runs; the script
prints the median, p95, p99 and the query count as a Markdown table.

The database is migrated first and filled once (generated rows are marked ``BENCH``):

    .venv/bin/python bench/review_latency.py \\
        --database-url postgres://postgres@127.0.0.1:5432/hc_ph_bench
    .venv/bin/python bench/review_latency.py --database-url sqlite:////tmp/hc_ph_bench.sqlite3
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import statistics
import string
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIVE_LINES = (
    ("MET500", "500", "tid", 7, 21),
    ("SIT100", "100", "qd", 7, 7),
    ("AML5", "5", "qd", 7, 7),
    ("ATO20", "20", "qn", 7, 7),
    ("ASA100", "100", "qd", 7, 7),
)
ATC_GROUPS = "ABCDGHJLMNPRSV"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--drugs", type=int, default=3000)
    parser.add_argument("--interactions", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    return parser.parse_args()


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    # As in production: DEBUG off, so queries are not logged (the benchmark's own key).
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "review-latency-benchmark-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthcommunity.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def random_atc(rng: random.Random) -> str:
    return (
        rng.choice(ATC_GROUPS)
        + f"{rng.randint(1, 99):02d}"
        + rng.choice(string.ascii_uppercase)
        + rng.choice(string.ascii_uppercase)
        + f"{rng.randint(1, 99):02d}"
    )


def fill(drugs: int, interactions: int) -> None:
    """Generated products, contraindications and pairs up to the wanted sizes (once)."""
    from cloud_pharmacy.models import Contraindication, Drug, Interaction

    rng = random.Random(6006)
    missing = drugs - Drug.objects.count()
    if missing > 0:
        taken = set(Drug.objects.values_list("atc_code", flat=True))
        new = []
        for n in range(missing):
            atc = random_atc(rng)
            while atc in taken:
                atc = random_atc(rng)
            taken.add(atc)
            new.append(
                Drug(
                    code=f"BENCH{n:05d}",
                    generic_name=f"基准药品{n}",
                    atc_code=atc,
                    form=Drug.Form.TABLET,
                    strength=Decimal(rng.choice(["5", "10", "25", "50", "100", "250", "500"])),
                    strength_unit=Drug.StrengthUnit.MG,
                    unit="片",
                    price=Decimal("0.50"),
                    insurance_category=rng.choice(["A", "B", "none"]),
                    max_daily_dose=Decimal("3000"),
                )
            )
        Drug.objects.bulk_create(new, batch_size=1000)
        generated = Drug.objects.filter(code__startswith="BENCH")
        Contraindication.objects.bulk_create(
            [
                row
                for drug in generated
                for row in (
                    Contraindication(
                        drug=drug,
                        kind="diagnosis",
                        icd10_prefix=f"K{rng.randint(20, 95)}",
                        severity="warn",
                        note="基准",
                    ),
                    Contraindication(
                        drug=drug,
                        kind="lab",
                        lab_item_code=rng.choice(["EGFR", "ALT", "K"]),
                        comparator="lt",
                        limit=Decimal("30"),
                        severity="warn",
                        note="基准",
                    ),
                )
            ],
            batch_size=2000,
        )
    have = Interaction.objects.count()
    if have < interactions:
        codes = list(Drug.objects.values_list("atc_code", flat=True).distinct())
        mine = [Drug.objects.get(code=code).atc_code for code, *_rest in FIVE_LINES]
        pairs = set(Interaction.objects.values_list("atc_a", "atc_b"))
        # A fifth of the generated pairs involve one of the five substances (with others).
        while len(pairs) < interactions:
            first = rng.choice(mine) if rng.random() < 0.2 else rng.choice(codes)
            second = rng.choice(codes)
            if first == second or {first, second} <= set(mine):
                continue
            pairs.add((min(first, second), max(first, second)))
        existing = set(Interaction.objects.values_list("atc_a", "atc_b"))
        Interaction.objects.bulk_create(
            [
                Interaction(atc_a=a, atc_b=b, severity="info", effect="基准", source="BENCH")
                for a, b in sorted(pairs - existing)
            ],
            batch_size=2000,
        )


def the_prescription() -> object:
    """A five-line prescription for a 66-year-old enrolled diabetes patient with an eGFR of 62
    and a year of follow-ups, written once through the service."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from chronic_care.models import FollowUp
    from cloud_exams.models import ExamItem, ExamResult
    from cloud_management.identifiers import make_resident_id
    from cloud_management.models import (
        DiabetesEnrollment,
        District,
        Institution,
        Patient,
        StaffRole,
    )
    from cloud_pharmacy import services
    from cloud_pharmacy.models import Drug, Prescription

    existing = Prescription.objects.filter(patient__name="基准患者").first()
    if existing is not None:
        return existing
    district = District.objects.get(code="120104")
    institution, _ = Institution.objects.get_or_create(
        code="BENCHRX",
        defaults={"name": "基准社区卫生服务中心", "district": district, "kind": "community_centre"},
    )
    doctor, _ = get_user_model().objects.get_or_create(username="bench_rx_doctor")
    StaffRole.objects.get_or_create(user=doctor, role="doctor", institution=institution)
    today = timezone.localdate()
    birth = dt.date(today.year - 66, 3, 1)
    patient = Patient.objects.create(
        resident_id=make_resident_id("120104", birth, 7, "M"),
        name="基准患者",
        sex="M",
        birth_date=birth,
        district=district,
        home_institution=institution,
        insurance_type="employee",
    )
    DiabetesEnrollment.objects.create(
        patient=patient,
        institution=institution,
        diabetes_type="T2",
        diagnosis_code="E11.9",
        enrolled_on=today - dt.timedelta(days=800),
    )
    for months in range(0, 12, 3):
        FollowUp.objects.create(
            patient=patient,
            institution=institution,
            date=today - dt.timedelta(days=30 * months + 5),
            mode="clinic",
            fbg=Decimal("6.4"),
            outcome="controlled",
        )
    for code, value in (("EGFR", "62"), ("ALT", "28"), ("K", "4.3"), ("CREA", "96")):
        item = ExamItem.objects.get(code=code)
        ExamResult.objects.create(
            entry_key=f"bench:{code}",
            patient=patient,
            item=item,
            ordering_institution=institution,
            performing_institution=institution,
            collected_on=today - dt.timedelta(days=20),
            value=Decimal(value),
            unit=item.unit,
            origin=ExamResult.Origin.IMPORTED,
            entered_at=timezone.now(),
            verified_by=doctor,
            verified_at=timezone.now(),
        )
    lines = [
        services.LineInput(
            drug=Drug.objects.get(code=code),
            dose=Decimal(dose),
            frequency=frequency,
            route="oral",
            days=days,
            quantity=quantity,
        )
        for code, dose, frequency, days, quantity in FIVE_LINES
    ]
    return services.write_prescription(
        user=doctor,
        patient=patient,
        institution=institution,
        diagnosis_codes=["E11.9", "I10", "E78.0"],
        lines=lines,
    )


def main() -> None:
    args = parse()
    setup_django(args.database_url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cloud_pharmacy.models import Drug, Interaction
    from cloud_pharmacy.review import engine

    fill(args.drugs, args.interactions)
    prescription = the_prescription()
    if connection.vendor == "postgresql":
        # Fresh statistics after the bulk fill, as autovacuum would soon provide.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    from cloud_pharmacy.models import PrescriptionLine

    inputs = [
        (line.drug.code, line.dose, line.frequency, line.route, line.days, line.quantity)
        for line in prescription.lines.select_related("drug").order_by("id")
    ]
    patient = prescription.patient
    written_on = prescription.written_at.date()

    def at_writing() -> list[object]:
        """What write_prescription does: the drugs are looked up by code (as the API does
        per request), the unsaved lines are reviewed in hand."""
        drugs = {d.code: d for d in Drug.objects.filter(code__in=[row[0] for row in inputs])}
        lines = [
            PrescriptionLine(
                drug=drugs[code], dose=dose, frequency=freq, route=route, days=days, quantity=qty
            )
            for code, dose, freq, route, days, qty in inputs
        ]
        snapshot = engine.build_snapshot(
            patient=patient,
            written_on=written_on,
            diagnoses=prescription.diagnoses,
            lines=lines,
        )
        return list(engine.review(snapshot))

    def from_saved() -> list[object]:
        """Re-review of a saved prescription: a fresh row, its lines and everything else."""
        fresh = type(prescription).objects.select_related("patient").get(pk=prescription.pk)
        return list(engine.review(engine.snapshot_of(fresh)))

    print(
        f"database: {connection.vendor}; drugs {Drug.objects.count()}, "
        f"interaction pairs {Interaction.objects.count()}; python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs"
    )
    print()
    print(
        "| scenario | queries | findings | runs | median (ms) | p95 (ms) | p99 (ms) | max (ms) "
        "| client CPU per review (ms) | load average |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, once in (("at writing", at_writing), ("saved prescription", from_saved)):
        for _ in range(args.warmup):
            once()
        with CaptureQueriesContext(connection) as queries:
            findings = once()
        timings = []
        cpu_start = time.process_time()
        for _ in range(args.runs):
            start = time.perf_counter()
            once()
            timings.append((time.perf_counter() - start) * 1000)
        # This process's CPU per review (the database server's own work is not in it): the
        # engine's cost apart from waiting for a CPU on a loaded machine.
        cpu_per_review = (time.process_time() - cpu_start) * 1000 / args.runs
        timings.sort()

        def pct(p: float, timings: list[float] = timings) -> float:
            # Nearest-rank percentile.
            return timings[min(len(timings), math.ceil(p / 100 * len(timings))) - 1]

        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(
            f"| {name} | {len(queries)} | {len(findings)} | {args.runs} "
            f"| {statistics.median(timings):.2f} | {pct(95):.2f} | {pct(99):.2f} "
            f"| {timings[-1]:.2f} | {cpu_per_review:.2f} | {load} |"
        )


if __name__ == "__main__":
    main()
