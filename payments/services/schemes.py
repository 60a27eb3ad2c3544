"""Creating and configuring payment schemes and their retention tiers (issue 3, Deliver 1)."""

from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from payments.formulas import (
    DEFAULT_RETENTION_TIERS,
    FormulaError,
    RetentionTier,
    validate_retention_tiers,
)
from payments.models import QualityTier, Scheme
from payments.models.schemes import LIST_SEPARATOR


def _joined(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else LIST_SEPARATOR.join(value)


@transaction.atomic
def save_scheme(
    *,
    code: str,
    name: str,
    kind: str,
    year: int,
    annual_rate: Decimal,
    categories: str | Sequence[str],
    diagnosis_prefixes: str | Sequence[str] = "",
) -> tuple[Scheme, bool]:
    """Create the scheme with ``code``, with the default tiers of CONTRACTS §4, or update it in
    place (its tiers are kept). Returns the scheme and whether it was created."""
    scheme = Scheme.objects.select_for_update().filter(code=code).first()
    is_new = scheme is None
    if scheme is None:
        scheme = Scheme(code=code)
    scheme.name = name
    scheme.kind = kind
    scheme.year = year
    scheme.annual_rate = annual_rate
    scheme.categories = _joined(categories)
    scheme.diagnosis_prefixes = _joined(diagnosis_prefixes)
    scheme.full_clean()
    scheme.save()
    if is_new:
        _replace_tiers(scheme, DEFAULT_RETENTION_TIERS)
    return scheme, is_new


@transaction.atomic
def set_retention_tiers(*, scheme: Scheme, tiers: Sequence[RetentionTier]) -> None:
    """Replace the scheme's tiers, after checking ratios in [0, 1], thresholds in [0, 100] and
    no threshold twice."""
    try:
        validate_retention_tiers(tiers)
    except FormulaError as exc:
        raise ValidationError({"tiers": str(exc)}) from exc
    _replace_tiers(scheme, tiers)


def _replace_tiers(scheme: Scheme, tiers: Sequence[RetentionTier]) -> None:
    QualityTier.objects.filter(scheme=scheme).delete()
    QualityTier.objects.bulk_create(
        QualityTier(scheme=scheme, min_score=tier.min_score, retention_ratio=tier.retention_ratio)
        for tier in tiers
    )
