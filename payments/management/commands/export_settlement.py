"""``export_settlement --scheme CODE --period P [--output FILE]`` (CONTRACTS §2, §4)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from payments.exports import settlement_csv
from payments.formulas import PeriodError, parse_period
from payments.models import Scheme
from payments.selectors import get_latest_finished_run, list_settlement_lines


class Command(BaseCommand):
    help = (
        "Write the latest finished settlement run of a scheme and period as CSV (CONTRACTS §4 "
        "columns, UTF-8 with BOM), to stdout unless --output is given. Exit 1 if there is none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scheme", required=True, help="scheme code")
        parser.add_argument("--period", required=True, help="YYYY, YYYY-MM or YYYY-Qn")
        parser.add_argument("--output", help="file to write instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = str(parse_period(options["period"]))
        except PeriodError as exc:
            raise CommandError(str(exc)) from exc
        scheme = Scheme.objects.filter(code=options["scheme"]).first()
        if scheme is None:
            raise CommandError(
                _("No scheme has the code “%(code)s”.") % {"code": options["scheme"]}
            )
        run = get_latest_finished_run(scheme=scheme, period=period)
        if run is None:
            raise CommandError(
                _("%(code)s %(period)s has no finished settlement run.")
                % {"code": scheme.code, "period": period}
            )
        text = settlement_csv(list_settlement_lines(run=run))
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as output:
                output.write(text)
        else:
            self.stdout.write(text, ending="")
