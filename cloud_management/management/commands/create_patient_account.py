"""``create_patient_account RESIDENT_ID --password PW`` (CONTRACTS §2): a login for a registered
resident, named after their phone number."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from cloud_management import services
from cloud_management.identifiers import mask_resident_id, normalize_resident_id
from cloud_management.models import Patient


class Command(BaseCommand):
    help = "Create the patient-pages login of a registered resident; the username is their phone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("resident_id", metavar="RESIDENT_ID")
        parser.add_argument("--password", required=True, metavar="PW")

    def handle(self, *args: Any, **options: Any) -> None:
        resident_id = normalize_resident_id(options["resident_id"])
        masked = mask_resident_id(resident_id)
        patient = Patient.objects.filter(resident_id=resident_id).first()
        if patient is None:
            raise CommandError(_("No resident with the ID %(id)s is registered.") % {"id": masked})
        try:
            account = services.create_patient_account(patient=patient, password=options["password"])
        except ValidationError as exc:
            reasons = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(
                _("No login created for %(id)s: %(reasons)s") % {"id": masked, "reasons": reasons}
            ) from exc
        self.stdout.write(
            _("Created the login %(username)s for resident %(id)s.")
            % {"username": account.get_username(), "id": masked}
        )
