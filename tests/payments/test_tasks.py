"""Settlement runs fanned out as Celery tasks (eager in tests; the real-worker kill test needs
PostgreSQL and Redis and is marked celery_worker)."""

import pytest

from payments.models import SettlementLine, SettlementRun
from payments.services.settlement import (
    begin_settlement_run,
    request_settlement_run,
    run_settlement,
    settle_institutions,
)
from payments.tasks import run_settlement_task, settle_institution_task

pytestmark = pytest.mark.django_db
Status = SettlementRun.Status


def _figures(run):
    return list(
        SettlementLine.objects.filter(run=run)
        .order_by("institution_id")
        .values_list("institution_id", "member_days", "spending", "fund_payable")
    )


def test_parent_fans_out_and_the_last_child_finishes(
    community, quality_provider, django_capture_on_commit_callbacks
):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    run, _ = request_settlement_run(scheme=community["scheme"], period="2024")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_settlement_task.delay(run.pk)

    run.refresh_from_db()
    assert len(callbacks) == 2  # one child per institution with members (A and C)
    assert run.status == Status.FINISHED
    assert run.progress == 100
    clean = run_settlement(scheme=community["scheme"], period="2024")
    assert clean.inputs_digest == run.inputs_digest
    assert _figures(clean) == [
        (i, d, s, p) for (i, d, s, p) in _figures(SettlementRun.objects.get(pk=run.pk))
    ]


def test_resumed_run_after_a_lost_worker_equals_a_clean_run(
    community, quality_provider, django_capture_on_commit_callbacks
):
    # A worker began the run and settled A, then died before C.
    run, _ = request_settlement_run(scheme=community["scheme"], period="2024")
    begin_settlement_run(run_id=run.pk)
    settle_institutions(run_id=run.pk, institution_ids=[community["a"].pk])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run_settlement_task.delay(run.pk)  # resume: the parent is sent again

    run.refresh_from_db()
    assert len(callbacks) == 1  # only C was left
    assert run.status == Status.FINISHED
    clean = run_settlement(scheme=community["scheme"], period="2024")
    assert clean.inputs_digest == run.inputs_digest


def test_repeated_child_changes_nothing(community, django_capture_on_commit_callbacks):
    run, _ = request_settlement_run(scheme=community["scheme"], period="2024-Q4")
    with django_capture_on_commit_callbacks(execute=True):
        run_settlement_task.delay(run.pk)
    before = list(SettlementLine.objects.filter(run=run).values())

    settle_institution_task.delay(run.pk, community["a"].pk)

    run.refresh_from_db()
    assert run.status == Status.FINISHED
    assert list(SettlementLine.objects.filter(run=run).values()) == before


def test_parent_marks_the_run_failed_on_bad_input(community, no_quality_provider):
    # A final run without a quality provider cannot begin.
    run, _ = request_settlement_run(scheme=community["scheme"], period="2024")

    run_settlement_task.delay(run.pk)

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "quality" in run.error
