"""Benchmark ``seed_demo --scale tianjin`` on PostgreSQL (ISSUE 2: at most 5 minutes).

Recreates the database, migrates it, runs the command once under a wall clock, counts the rows
it wrote and prints a Markdown summary for docs/benchmarks.md. The database is left
seeded, for the benchmarks that read it (the admin changelist at 600,000 residents).

    .venv/bin/python bench/seed_tianjin.py --database hc_bench

Needs ``psql``/``createdb``/``dropdb`` and a PostgreSQL at --host/--port that trusts --user.
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
COUNTS = {
    "districts": "SELECT count(*) FROM cloud_management_district",
    "institutions": "SELECT count(*) FROM cloud_management_institution",
    "users": "SELECT count(*) FROM auth_user",
    "staff roles": "SELECT count(*) FROM cloud_management_staffrole",
    "residents": "SELECT count(*) FROM cloud_management_patient",
    "residents with a family doctor": (
        "SELECT count(DISTINCT patient_id) FROM cloud_management_familydoctorcontract"
    ),
    "family-doctor contracts": "SELECT count(*) FROM cloud_management_familydoctorcontract",
    "diabetes enrolments": "SELECT count(*) FROM cloud_management_diabetesenrollment",
    "residents enrolled": (
        "SELECT count(DISTINCT patient_id) FROM cloud_management_diabetesenrollment"
    ),
    "transfers (residents with two enrolments)": (
        "SELECT count(*) FROM (SELECT patient_id FROM cloud_management_diabetesenrollment"
        " GROUP BY patient_id HAVING count(*) > 1) AS moved"
    ),
}


def run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="hc_bench")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--year", default="2026")
    args = parser.parse_args()

    url = f"postgres://{args.user}@{args.host}:{args.port}/{args.database}"
    env = {**os.environ, "DATABASE_URL": url}
    connection_args = ["-h", args.host, "-p", args.port, "-U", args.user]
    python = str(ROOT / ".venv" / "bin" / "python")

    run(["dropdb", *connection_args, "--if-exists", args.database], env)
    run(["createdb", *connection_args, args.database], env)
    migrate_seconds, _ = run([python, "manage.py", "migrate", "-v", "0"], env)
    load_before = os.getloadavg()
    command = [python, "manage.py", "seed_demo", "--scale", "tianjin", "--year", args.year]
    seed_seconds, output = run(command, env)
    load_after = os.getloadavg()

    with (
        psycopg2.connect(
            host=args.host, port=args.port, user=args.user, dbname=args.database
        ) as db,
        db.cursor() as cursor,
    ):
        counts = {}
        for label, query in COUNTS.items():
            cursor.execute(query)
            counts[label] = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]

    print(f"## seed_demo --scale tianjin on PostgreSQL {server_version}\n")
    print(f"- command: `DATABASE_URL={url} {' '.join(command[1:])}`")
    print(
        f"- wall time: **{seed_seconds:.1f} s** (goal: at most 300 s);"
        f" migrate {migrate_seconds:.1f} s"
    )
    print(
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()},"
        f" Python {platform.python_version()};"
        f" load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    print("\n| table | rows |\n| --- | ---: |")
    for label, value in counts.items():
        print(f"| {label} | {value:,} |")
    print("\nProgress lines printed by the command:\n\n```")
    print("\n".join(line for line in output.splitlines() if line.startswith("[")))
    print("```")


if __name__ == "__main__":
    main()
