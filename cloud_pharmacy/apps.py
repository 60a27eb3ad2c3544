from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudPharmacyConfig(AppConfig):
    """云药房: formulary, prescriptions, review, circulation and dispensing (ISSUE 6)."""

    name = "cloud_pharmacy"
    verbose_name = _("Cloud pharmacy")

    def ready(self) -> None:
        from cloud_management.patient_pages import register_patient_link
        from cloud_pharmacy.monitoring import register_metrics
        from cloud_pharmacy.scoping import register_scope_rules

        register_scope_rules()
        register_metrics()
        register_patient_link(
            key="cloud_pharmacy.prescriptions",
            label=_("My prescriptions"),
            url_name="cloud_pharmacy:my_prescriptions",
            description=_("Your prescriptions, the pharmacist's review and where to collect them."),
        )
