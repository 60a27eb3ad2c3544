"""``import_records KIND FILE [--partial]`` (CONTRACTS §2)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cloud_management.identifiers import mask_resident_ids_in_text
from cloud_management.imports.errors import RecordImportError
from cloud_management.imports.registry import import_kind_names
from cloud_management.imports.service import import_records


class Command(BaseCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # argparse needs a str, not a lazy string, so the help is translated here.
        self.help = _(
            "Import a CSV file of CONTRACTS.md section 1: validate every row, then write all "
            "of them in one transaction. Bad rows are reported as 'row N: field: reason' and "
            "nothing is written, unless --partial is given."
        )

    def add_arguments(self, parser: ArgumentParser) -> None:
        kinds = ", ".join(import_kind_names())
        # argparse formats help with %, so the kinds' text is escaped for it.
        parser.add_argument(
            "kind",
            help=(_("What the file holds: %(kinds)s.") % {"kinds": kinds}).replace("%", "%%"),
        )
        parser.add_argument("file", help=_("The CSV file: UTF-8, comma-separated, a header row."))
        parser.add_argument(
            "--partial",
            action="store_true",
            help=_("Write the good rows even when some rows are bad (the exit status stays 1)."),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # What this command prints is read by other systems: CONTRACTS §2 fixes its lines
        # ("imported N KIND", "row 7: resident_id: checksum does not verify") in English, so
        # they do not follow the site's language.
        with translation.override("en"):
            self._import(options)

    def _import(self, options: dict[str, Any]) -> None:
        kind: str = options["kind"]
        try:
            outcome = import_records(kind=kind, path=options["file"], partial=options["partial"])
        except RecordImportError as exc:
            raise CommandError(mask_resident_ids_in_text(str(exc)), returncode=1) from exc
        # Every line is masked again, whatever produced it: resident IDs are never printed whole.
        for line in outcome.error_lines():
            self.stderr.write(mask_resident_ids_in_text(line))
        if outcome.written:
            # The line other systems read (CONTRACTS §2), hence not translated.
            self.stdout.write(f"imported {outcome.imported} {kind}")
        count = len(outcome.bad_rows)
        if not count:
            return
        if outcome.written:
            message = ngettext(
                "%(count)d bad row was not imported.",
                "%(count)d bad rows were not imported.",
                count,
            ) % {"count": count}
        else:
            message = ngettext(
                "%(count)d of %(total)d rows is bad; nothing was imported.",
                "%(count)d of %(total)d rows are bad; nothing was imported.",
                count,
            ) % {"count": count, "total": outcome.rows}
        raise CommandError(message, returncode=1)
