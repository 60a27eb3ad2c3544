from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """医保支付: schemes, the claim ledger, reimbursement, quality assessment, settlement runs
    and regulator dashboards (ISSUE 3)."""

    name = "payments"
    verbose_name = _("Payments")
