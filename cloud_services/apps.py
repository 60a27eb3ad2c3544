from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudServicesConfig(AppConfig):
    """云服务: home medical services, slots, bookings and visits (ISSUE 5)."""

    name = "cloud_services"
    verbose_name = _("Cloud services")

    def ready(self) -> None:
        from cloud_management.patient_pages import register_patient_link, register_signup_page
        from cloud_services.monitoring import register_metrics

        register_scope_rules()
        register_metrics()
        register_patient_link(
            key="cloud_services.bookings",
            label=_("Home services"),
            url_name="cloud_services:my_bookings",
            description=_("Book a nurse's home visit, such as a blood draw, and follow it."),
        )
        register_signup_page(url_name="cloud_services:register", label=_("Create my login"))


def register_scope_rules() -> None:
    """How the home-service rows are scoped (cloud_management.access): a slot, a booking and
    its visit events are the slot's institution's, its district regulator's and the booking
    patient's. Idempotent: the rules are plain paths, equal when ``ready()`` runs twice."""
    from cloud_management.access import ScopeRule, register_scope_rule
    from cloud_services.models import (
        Booking,
        FirstVisitAssessment,
        ServiceSlot,
        SlotTemplate,
        VisitEvent,
    )

    by_institution = ScopeRule(district="institution__district_id", institution="institution_id")
    register_scope_rule(ServiceSlot, by_institution)
    register_scope_rule(SlotTemplate, by_institution)
    register_scope_rule(
        FirstVisitAssessment,
        ScopeRule(
            district="institution__district_id", institution="institution_id", patient="patient_id"
        ),
    )
    register_scope_rule(
        Booking,
        ScopeRule(
            district="slot__institution__district_id",
            institution="slot__institution_id",
            patient="patient_id",
        ),
    )
    register_scope_rule(
        VisitEvent,
        ScopeRule(
            district="booking__slot__institution__district_id",
            institution="booking__slot__institution_id",
            patient="booking__patient_id",
        ),
    )
