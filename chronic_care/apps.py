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
        from cloud_management.work_pages import Audience, register_work_link
        from payments.registry import register_quality_provider

        register_scope_rules()
        register_import_kind(FollowUpKind)
        register_quality_provider(diabetes_quality_figures)
        monitoring.register_metrics()
        register_work_link(
            key="chronic_care.quality",
            label=_("Diabetes care quality"),
            url_name="chronic_care_quality:index",
            audience=Audience.DASHBOARDS,
            description=_(
                "Standardized management, glucose control and HbA1c testing rates and the "
                "quality score, by district and institution."
            ),
        )
        register_work_link(
            key="chronic_care.worklists",
            label=_("Diabetes worklists"),
            url_name="chronic_care:index",
            audience=Audience.STAFF,
            description=_(
                "Follow-ups overdue and due this week, uncontrolled glucose, no HbA1c this year."
            ),
        )
