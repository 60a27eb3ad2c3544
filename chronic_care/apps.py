from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChronicCareConfig(AppConfig):
    """Diabetes follow-ups, measurements, worklists and quality indicators (ISSUE 4)."""

    name = "chronic_care"
    verbose_name = _("Chronic care")

    def ready(self) -> None:
        """Registrations with the lower apps' registries; no queries, safe to run twice."""
        from chronic_care import monitoring
        from chronic_care.access import register_scope_rules
        from chronic_care.imports import FollowUpKind
        from chronic_care.indicators import diabetes_quality_figures
        from cloud_management.imports.registry import register_import_kind
        from payments.registry import register_quality_provider

        register_scope_rules()
        register_import_kind(FollowUpKind)
        register_quality_provider(diabetes_quality_figures)
        monitoring.register_metrics()
