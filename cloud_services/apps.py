from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloudServicesConfig(AppConfig):
    """云服务: home medical services, slots, bookings and visits (ISSUE 5)."""

    name = "cloud_services"
    verbose_name = _("Cloud services")
