from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudExamsConfig(AppConfig):
    """云检查: exam catalogue, orders, specimens, verified results and reports (ISSUE 4)."""

    name = "cloud_exams"
    verbose_name = _("Cloud exams")

    def ready(self) -> None:
        from cloud_exams.imports import LabResultKind
        from cloud_exams.monitoring import register_metrics
        from cloud_exams.scoping import register_scope_rules
        from cloud_management.imports.registry import register_import_kind
        from cloud_management.patient_pages import register_patient_link

        register_scope_rules()
        register_import_kind(LabResultKind)
        register_metrics()
        register_patient_link(
            key="cloud_exams.results",
            label=_("My exam results"),
            url_name="cloud_exams:my_results",
            description=_("Blood tests, ECG and eye photographs checked by the laboratory."),
        )
