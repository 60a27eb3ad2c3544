"""``run_settlement --scheme CODE --period P [--wait] [--resume]`` (CONTRACTS §2)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from payments.formulas import money
from payments.models import Scheme, SettlementRun
from payments.services.settlement import execute_settlement_run, request_settlement_run
from payments.tasks import run_settlement_task


class Command(BaseCommand):
    help = (
        "Compute a scheme's settlement for a period as a Celery task (in this process when no "
        "broker is configured); print progress and a summary. Exit 0 when finished, 1 when failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scheme", required=True, help="scheme code")
        parser.add_argument("--period", required=True, help="YYYY, YYYY-MM or YYYY-Qn")
        parser.add_argument("--wait", action="store_true", help="follow a queued run until it ends")
        parser.add_argument(
            "--resume",
            action="store_true",
            help="send a run already under way to the workers again (after a lost worker)",
        )
        parser.add_argument(
            "--poll-seconds", type=float, default=2.0, help="seconds between progress lines"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scheme = Scheme.objects.filter(code=options["scheme"]).first()
        if scheme is None:
            raise CommandError(
                _("No scheme has the code “%(code)s”.") % {"code": options["scheme"]}
            )
        try:
            run, created = request_settlement_run(scheme=scheme, period=options["period"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not created:
            self.stdout.write(
                _("Run %(id)s for %(code)s %(period)s is already under way; following it.")
                % {"id": run.pk, "code": scheme.code, "period": run.period}
            )
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # No broker: the same services, step by step in this process.
            run = execute_settlement_run(run_id=run.pk, on_progress=self._progress)
        else:
            if created or options["resume"]:
                run_settlement_task.delay(run.pk)
            if not options["wait"]:
                self.stdout.write(
                    _("Run %(id)s queued for %(code)s %(period)s.")
                    % {"id": run.pk, "code": scheme.code, "period": run.period}
                )
                return
            run = self._follow(run, options["poll_seconds"])
        self._summary(run)

    def _progress(self, run: SettlementRun) -> None:
        self.stdout.write(
            _("run %(id)s: %(progress)s%% (%(done)s of %(total)s institutions)")
            % {
                "id": run.pk,
                "progress": run.progress,
                "done": run.lines.count(),
                "total": run.institutions_total,
            }
        )

    def _follow(self, run: SettlementRun, poll_seconds: float) -> SettlementRun:
        last = None
        while True:
            run.refresh_from_db()
            if run.status not in SettlementRun.ACTIVE_STATUSES:
                return run
            if run.progress != last:
                self._progress(run)
                last = run.progress
            time.sleep(poll_seconds)

    def _summary(self, run: SettlementRun) -> None:
        if run.status != SettlementRun.Status.FINISHED:
            raise CommandError(
                _("Run %(id)s %(status)s: %(error)s")
                % {"id": run.pk, "status": run.get_status_display(), "error": run.error}
            )
        # Summed here rather than with SQL SUM, which SQLite computes in binary floating point.
        figures = list(run.lines.values_list("budget", "spending", "fund_payable"))
        budget, spending, payable = (
            money(sum((row[i] for row in figures), Decimal(0))) for i in range(3)
        )
        self.stdout.write(
            _(
                "Run %(id)s finished: %(code)s %(period)s, %(count)s institutions, budget "
                "%(budget)s, spending %(spending)s, fund payable %(payable)s; inputs digest "
                "%(digest)s."
            )
            % {
                "id": run.pk,
                "code": run.scheme.code,
                "period": run.period,
                "count": run.institutions_total,
                "budget": budget,
                "spending": spending,
                "payable": payable,
                "digest": run.inputs_digest,
            }
        )
