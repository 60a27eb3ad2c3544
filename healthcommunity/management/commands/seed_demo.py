"""``seed_demo [--scale small|tianjin] [--year YYYY] [--if-empty]`` (CONTRACTS §2)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_management.models import Institution
from healthcommunity.demo.runner import SCALES, run_seed
from healthcommunity.demo.staff import DEMO_LOGINS_TITLE, demo_logins, format_logins
from healthcommunity.demo.steps import SeedRefused

MIN_YEAR = 2000
MAX_YEAR = 2100


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Translated when the parser is built, so --help follows the active language.
        self.help = _(
            "Seed a believable Tianjin health community and print the demo logins. "
            "--scale small (default) takes seconds: about 30 institutions, 2,000 residents, "
            "contracts, diabetes enrolments and one login per role; running it again for the "
            "same year adds nothing. --scale tianjin is the full city: 266 institutions, "
            "600,000 residents, contracts and 220,000 diabetes enrolments (COPY on PostgreSQL); "
            "it refuses a database that already has residents, so seed a freshly migrated one. "
            "--year sets the year the data describes (default: this year). --if-empty seeds "
            "only when there are no institutions yet, and prints the logins either way."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--scale",
            choices=sorted(SCALES),
            default="small",
            help=_("small (default) or tianjin."),
        )
        parser.add_argument("--year", type=int, default=None, help=_("Default: the current year."))
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("Seed only when the database has no institutions yet."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"] if options["year"] is not None else timezone.localdate().year
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise CommandError(
                _("--year: %(year)d is not between %(min)d and %(max)d.")
                % {"year": year, "min": MIN_YEAR, "max": MAX_YEAR}
            )
        if options["if_empty"] and Institution.objects.exists():
            self.stdout.write(_("The database already has institutions; nothing was seeded."))
        else:
            try:
                run_seed(scale=options["scale"], year=year, write=self.stdout.write)
            except SeedRefused as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write("")
        self.stdout.write(str(DEMO_LOGINS_TITLE))
        self.stdout.write(format_logins(demo_logins()))
