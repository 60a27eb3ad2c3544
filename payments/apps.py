from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """医保支付: schemes, the claim ledger, reimbursement, quality assessment, settlement runs
    and regulator dashboards (ISSUE 3)."""

    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        from cloud_management.imports.registry import register_import_kind
        from cloud_management.work_pages import Audience, register_work_link
        from payments.import_kinds import ClaimKind, SchemeKind

        register_scope_rules()
        # CONTRACTS §1 ``schemes`` and ``claims`` for import_records; idempotent.
        register_import_kind(SchemeKind)
        register_import_kind(ClaimKind)
        register_work_link(
            key="payments.settlements",
            label=_("Insurance settlements"),
            url_name="settlements:index",
            audience=Audience.DASHBOARDS,
            description=_(
                "Budget against spending, retained surplus and fund payable per scheme and "
                "period, down to the claim lines; downloads and a what-if simulation."
            ),
        )


def register_scope_rules() -> None:
    """How the payments rows are scoped (cloud_management.access): an institution's lines are its
    staff's and its district regulator's. Claim lines belong to the institution where the service
    was given, and to the resident they charge. Settlement and quality figures are not shown to
    patients. Idempotent: the rules are plain paths, equal when ``ready()`` runs twice."""
    from cloud_management.access import ScopeRule, register_scope_rule
    from payments.models import ClaimLine, QualityAssessment, SettlementLine

    by_institution = ScopeRule(district="institution__district_id", institution="institution_id")
    register_scope_rule(SettlementLine, by_institution)
    register_scope_rule(QualityAssessment, by_institution)
    register_scope_rule(
        ClaimLine,
        ScopeRule(
            district="institution__district_id", institution="institution_id", patient="patient_id"
        ),
    )
