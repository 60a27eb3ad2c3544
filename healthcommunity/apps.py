from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HealthCommunityConfig(AppConfig):
    """Makes the project package an app so it owns seed_demo and the base templates."""

    name = "healthcommunity"
    verbose_name = _("Health community")
