from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudManagementConfig(AppConfig):
    """云管理: the shared registry (districts, institutions, staff, residents, contracts,
    diabetes enrolments), data scoping and operations monitoring."""

    name = "cloud_management"
    verbose_name = _("Cloud management")

    def ready(self) -> None:
        from cloud_management import monitoring
        from cloud_management.access import register_registry_rules

        # Importing the module registers the registry's import kinds (CONTRACTS §1).
        from cloud_management.imports import registry_kinds  # noqa: F401

        register_registry_rules()
        monitoring.register_registry_metrics()
