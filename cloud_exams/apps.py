from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudExamsConfig(AppConfig):
    """云检查: exam catalogue, orders, specimens, verified results and reports (ISSUE 4)."""

    name = "cloud_exams"
    verbose_name = _("Cloud exams")

    def ready(self) -> None:
        from cloud_exams.imports import LabResultKind
        from cloud_exams.scoping import register_scope_rules
        from cloud_management.imports.registry import register_import_kind

        register_scope_rules()
        register_import_kind(LabResultKind)
