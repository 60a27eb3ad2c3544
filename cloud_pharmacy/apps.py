from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudPharmacyConfig(AppConfig):
    """云药房: formulary, prescriptions, review, circulation and dispensing (ISSUE 6)."""

    name = "cloud_pharmacy"
    verbose_name = _("Cloud pharmacy")
