from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudManagementConfig(AppConfig):
    """云管理: the shared registry (districts, institutions, staff, residents, contracts,
    diabetes enrolments), data scoping and operations monitoring."""

    name = "cloud_management"
    verbose_name = _("Cloud management")

    def ready(self) -> None:
        from cloud_management.access import register_registry_rules

        register_registry_rules()
        __import__("cloud_management.monitoring").monitoring.register_registry_metrics()
