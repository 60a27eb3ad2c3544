from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChronicCareConfig(AppConfig):
    """Diabetes follow-ups, measurements, worklists and quality indicators (ISSUE 4)."""

    name = "chronic_care"
    verbose_name = _("Chronic care")
