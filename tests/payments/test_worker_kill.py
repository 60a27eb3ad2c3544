"""A settlement run survives its Celery worker being killed mid-run (issue 3, Acceptance).

A real worker process consumes the run's tasks from Redis and writes to the PostgreSQL test
database; the test SIGKILLs it while it is settling an institution (progress between 1 and 99),
starts a second worker, and checks that the run finishes by itself with the figures of a clean
run. The killed child was acknowledged late, so its message stays in the broker's unacked set and
is delivered again (``acks_late``, ``reject_on_worker_lost``); the workers here use a short
visibility timeout so that happens in seconds rather than the default hour.

Runs only with ``REDIS_URL``, ``CELERY_WORKER_TESTS=1`` and PostgreSQL (``.ci/run`` has all
three); SQLite's in-memory test database cannot be shared with another process.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.db import connection

from cloud_management.models import FamilyDoctorContract, Institution, Patient
from healthcommunity.celery import app as celery_app
from payments.models import ClaimLine, Scheme, SettlementLine, SettlementRun
from payments.services.settlement import run_settlement
from payments.tasks import run_settlement_task, settle_institution_task, start_settlement_run
from tests.factories.cloud_management import InstitutionFactory, PatientFactory, district
from tests.factories.payments import SchemeFactory

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL") or os.environ.get("CELERY_WORKER_TESTS") != "1",
        reason="needs REDIS_URL and CELERY_WORKER_TESTS=1 (a real broker and worker)",
    ),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the worker process needs a shared database"
    ),
]

ROOT = Path(__file__).resolve().parents[2]
INSTITUTIONS = 20
MEMBERS_PER_INSTITUTION = 2
# Each child pauses this long inside its task before settling, so a kill lands mid-task.
CHILD_PAUSE_SECONDS = 0.1
WAIT_SECONDS = 40

# The worker process: the project's Celery app with the test settings, consuming one queue of
# the test's own. Two test-only changes: a short visibility timeout (so a killed worker's
# unacknowledged message comes back in seconds), and a pause inside each child that also
# writes which institution it is settling to a marker file, so the test can kill it there.
WORKER_BOOTSTRAP = """
import os, time
from pathlib import Path

import django

django.setup()

import payments.tasks as tasks
from healthcommunity.celery import app

queue, marker = os.environ["HC_TEST_QUEUE"], Path(os.environ["HC_TEST_MARKER"])
pause = float(os.environ["HC_TEST_PAUSE"])
app.conf.update(
    task_routes={name: {"queue": queue} for name in (
        "payments.tasks.run_settlement_task", "payments.tasks.settle_institution_task")},
    broker_transport_options={
        "visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1},
)
settle = tasks.settle_institutions


def paused_settle(*, run_id, institution_ids):
    marker.write_text("in " + ",".join(str(i) for i in institution_ids))
    time.sleep(pause)
    written = settle(run_id=run_id, institution_ids=institution_ids)
    marker.write_text("out")
    return written


tasks.settle_institutions = paused_settle
app.worker_main(["worker", "-Q", queue, "-P", "solo", "-c", "1", "-l", "INFO",
                 "-n", os.environ["HC_TEST_NAME"] + "@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"])
"""


def _database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


class Worker:
    """A Celery worker in its own process (and process group), logging to a file."""

    def __init__(self, name: str, queue: str, marker: Path, log: Path) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
            "CELERY_WORKER_TESTS": "1",
            "HC_TEST_QUEUE": queue,
            "HC_TEST_MARKER": str(marker),
            "HC_TEST_PAUSE": str(CHILD_PAUSE_SECONDS),
            "HC_TEST_NAME": name,
            "PYTHONPATH": str(ROOT),
        }
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, the test's own code
            [sys.executable, "-c", WORKER_BOOTSTRAP],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log_file.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._log_file.close()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


@pytest.fixture
def queue() -> Iterator[str]:
    """Send the settlement tasks to a queue of this test's own."""
    name = f"hc-test-settlement-{uuid.uuid4().hex}"
    previous_eager = celery_app.conf.task_always_eager
    previous_routes = celery_app.conf.task_routes
    celery_app.conf.task_always_eager = False
    celery_app.conf.update(
        task_routes={
            run_settlement_task.name: {"queue": name},
            settle_institution_task.name: {"queue": name},
        }
    )
    yield name
    celery_app.conf.update(task_routes=previous_routes)
    celery_app.conf.task_always_eager = previous_eager
    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(name)


def _community() -> Scheme:
    """INSTITUTIONS institutions, each with family-doctor members and claim lines in 2025."""
    rows = []
    for number in range(INSTITUTIONS):
        institution = InstitutionFactory(code=f"WK{number:03d}", district=district("120104"))
        for member in range(MEMBERS_PER_INSTITUTION):
            patient = PatientFactory(home_institution=institution)
            FamilyDoctorContract.objects.create(
                patient=patient,
                institution=institution,
                signed_on=dt.date(2024, 6, 1) + dt.timedelta(days=number * 3 + member * 50),
            )
            for month in range(1, 13, 2):
                fund = Decimal(f"{(number * 7 + member * 13 + month) % 90 + 10}.{month:02d}")
                rows.append(
                    ClaimLine(
                        claim_id=f"WK-{patient.pk}-{month}",
                        patient=patient,
                        institution=institution,
                        service_date=dt.date(2025, month, 10 + member),
                        category="outpatient" if month % 3 else "pharmacy",
                        diagnosis_code="I10",
                        total_amount=fund + Decimal("20.00"),
                        fund_paid=fund,
                        source=ClaimLine.Source.INSURANCE,
                        source_ref=f"WK-{patient.pk}-{month}",
                    )
                )
    ClaimLine.objects.bulk_create(rows)
    assert Institution.objects.count() == INSTITUTIONS
    assert Patient.objects.count() == INSTITUTIONS * MEMBERS_PER_INSTITUTION
    return SchemeFactory(
        code="FD2025",
        kind=Scheme.Kind.PER_CAPITA,
        year=2025,
        annual_rate=Decimal("1200.00"),
        diagnosis_prefixes="",
        categories="outpatient;pharmacy",
    )


def _figures(run: SettlementRun) -> list[tuple]:
    return list(
        SettlementLine.objects.filter(run=run)
        .order_by("institution_id")
        .values_list(
            "institution_id", "enrolees", "member_days", "claim_lines", "budget", "spending",
            "balance", "quality_score", "retention_ratio", "retained", "overspend", "fund_payable",
        )
    )  # fmt: skip


def _wait_for(condition, what: str, workers: list[Worker]):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    logs = "\n\n".join(f"--- {w.log.name} ---\n{w.tail()}" for w in workers)
    pytest.fail(f"timed out after {WAIT_SECONDS} s waiting for {what}\n{logs}")


def test_a_run_whose_worker_is_killed_finishes_with_the_totals_of_a_clean_run(
    transactional_db, queue, tmp_path
) -> None:
    scheme = _community()
    marker = tmp_path / "marker"
    marker.write_text("")
    workers: list[Worker] = []
    try:
        # Given a run sent to a real worker.
        first = Worker("settlement-first", queue, marker, tmp_path / "first.log")
        workers.append(first)
        run, created = start_settlement_run(scheme=scheme, period="2025")
        assert created

        # When the worker is SIGKILLed inside a child, with the run part-way through.
        def killable():
            current = SettlementRun.objects.get(pk=run.pk)
            text = marker.read_text()
            if 1 <= current.progress <= 99 and text.startswith("in "):
                return current.progress, text
            return None

        progress_at_kill, inside = _wait_for(killable, "progress between 1 and 99", workers)
        first.kill()
        lines_at_kill = SettlementLine.objects.filter(run=run).count()
        killed = SettlementRun.objects.get(pk=run.pk)
        assert 1 <= progress_at_kill <= 99
        assert killed.status == SettlementRun.Status.RUNNING
        assert 0 < lines_at_kill < INSTITUTIONS, (progress_at_kill, inside)

        # Then a new worker finishes the run by itself: the killed child's message comes back.
        second = Worker("settlement-second", queue, marker, tmp_path / "second.log")
        workers.append(second)
        _wait_for(
            lambda: SettlementRun.objects.get(pk=run.pk).status != SettlementRun.Status.RUNNING,
            "the run to finish after the kill",
            workers,
        )
    finally:
        for worker in workers:
            worker.kill()

    finished = SettlementRun.objects.get(pk=run.pk)
    assert finished.status == SettlementRun.Status.FINISHED, finished.error
    assert finished.progress == 100
    assert finished.institutions_total == INSTITUTIONS
    killed_figures = _figures(finished)
    assert len(killed_figures) == INSTITUTIONS
    # The institution being settled at the kill has its one line.
    killed_institution = int(inside.split()[1])
    assert SettlementLine.objects.filter(run=run, institution_id=killed_institution).count() == 1

    # And its figures, digest and totals are a clean run's.
    clean = run_settlement(scheme=scheme, period="2025")
    assert clean.status == SettlementRun.Status.FINISHED
    assert _figures(clean) == killed_figures
    assert clean.inputs_digest == finished.inputs_digest
    total = sum((row[-1] for row in killed_figures), Decimal("0.00"))
    assert total == sum(
        SettlementLine.objects.filter(run=clean).values_list("fund_payable", flat=True),
        Decimal("0.00"),
    )
    assert total > 0
