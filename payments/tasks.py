"""Celery entry points for settlement runs: thin, id-taking, idempotent (STYLE.md 4.4, 4.6).

A run fans out per institution (DESIGN.md "Growing past one machine"): the parent task begins
the run and enqueues one child per institution without a line; each child settles its
institution, and the child that settles the last one finishes the run. Tasks are acknowledged
late and rejected when their worker dies, so a killed worker's task is delivered again; a
repeated parent or child finds its work done and changes nothing. A run whose messages were
lost is resumed by sending the parent again (``run_settlement --resume``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from functools import partial
from typing import Any

from celery import shared_task
from django.db import IntegrityError, OperationalError, transaction
from django.utils.translation import gettext as _

from payments.models import Scheme, SettlementRun
from payments.services.settlement import (
    EXPECTED_ERRORS,
    begin_settlement_run,
    fail_settlement_run,
    finish_settlement_run,
    pending_institutions,
    request_settlement_run,
    settle_institutions,
)

logger = logging.getLogger(__name__)

# Database hiccups and a race on a (run, institution) line are worth another try; anything
# else is a defect or bad input and fails the run.
TRANSIENT_ERRORS = (OperationalError, IntegrityError)


def _fail_on_defect(run_id: int, exc: Exception) -> None:
    # A defect, not bad input: the run must not stay "running" and block the next request.
    logger.exception("settlement run %s failed", run_id)
    fail_settlement_run(run_id=run_id, error=_("Internal error: %(error)s") % {"error": exc})


def _finish_if_complete(run_id: int) -> None:
    run = SettlementRun.objects.get(pk=run_id)
    if run.status == SettlementRun.Status.RUNNING and not pending_institutions(run=run):
        finish_settlement_run(run_id=run_id)


@shared_task(
    name="payments.tasks.run_settlement_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_settlement_task(run_id: int) -> None:
    """Begin a run and fan it out: one child task per institution still to settle."""
    try:
        run = begin_settlement_run(run_id=run_id)
    except TRANSIENT_ERRORS:
        raise
    except EXPECTED_ERRORS as exc:
        fail_settlement_run(run_id=run_id, error=str(exc))
        return
    except Exception as exc:
        _fail_on_defect(run_id, exc)
        raise
    if run.status != SettlementRun.Status.RUNNING:
        return
    pending = pending_institutions(run=run)
    if not pending:
        try:
            _finish_if_complete(run_id)
        except EXPECTED_ERRORS as exc:
            fail_settlement_run(run_id=run_id, error=str(exc))
        return
    for institution_id in pending:
        # on_commit: a child never starts before what it reads is committed.
        transaction.on_commit(partial(settle_institution_task.delay, run_id, institution_id))


@shared_task(
    name="payments.tasks.settle_institution_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def settle_institution_task(run_id: int, institution_id: int) -> None:
    """Settle one institution of a run, keyed (run, institution); the last child finishes the
    run."""
    try:
        settle_institutions(run_id=run_id, institution_ids=[institution_id])
        _finish_if_complete(run_id)
    except TRANSIENT_ERRORS:
        raise
    except EXPECTED_ERRORS as exc:
        fail_settlement_run(run_id=run_id, error=str(exc))
    except Exception as exc:
        _fail_on_defect(run_id, exc)
        raise


def start_settlement_run(*, scheme: Scheme, period: str) -> tuple[SettlementRun, bool]:
    """Request a run for the scheme and period and, when it is new, send it to the workers once
    the caller's transaction commits (in this process when no broker is configured). A run
    already under way is returned as it is, not sent again: two requests give one run. Returns
    the run and whether it was created; a bad period is a ValidationError naming ``period``."""
    run, created = request_settlement_run(scheme=scheme, period=period)
    if created:
        transaction.on_commit(partial(run_settlement_task.delay, run.pk))
    return run, created


@shared_task(
    name="payments.tasks.run_scheduled_settlements_task",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def run_scheduled_settlements_task(period: str, today: str | None = None) -> list[dict[str, Any]]:
    """The beat schedules' entry point (``payments.schedules``): settle every scheme for the
    ``period`` before the day it runs, ``"month"`` or ``"year"``; ``today`` (ISO) fixes that
    day. Idempotent: a scheme and period with a run under way or finished gets no other."""
    # Imported here: payments.schedules starts runs through this module.
    from payments.schedules import start_scheduled_settlements

    day = dt.date.fromisoformat(today) if today else None
    runs = start_scheduled_settlements(kind=period, today=day)
    for run in runs:
        logger.info(
            "scheduled settlement %s %s: run %s %s",
            run.scheme_code,
            run.period,
            run.run_id,
            run.outcome,
        )
    return [asdict(run) for run in runs]
