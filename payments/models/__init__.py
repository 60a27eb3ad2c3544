"""医保支付 tables: schemes and tiers, the claim ledger, settlement runs and quality assessments."""

from payments.models.claims import ClaimLine
from payments.models.quality import QualityAssessment
from payments.models.reimbursement import ReimbursementRatio
from payments.models.schemes import QualityTier, Scheme
from payments.models.settlements import SettlementLine, SettlementRun

__all__ = [
    "ClaimLine",
    "QualityAssessment",
    "QualityTier",
    "ReimbursementRatio",
    "Scheme",
    "SettlementLine",
    "SettlementRun",
]
