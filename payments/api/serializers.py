"""Serializers of the payments API: parsing and presentation only; the services validate.

Money, quality scores and retention ratios are strings with two places, and empty figures are
``null`` (CONTRACTS §3-4). Resident IDs are always masked: the claim ledger is read for money,
not identities.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from payments.exports import COLUMNS
from payments.formulas import PeriodError, parse_period
from payments.models import ClaimLine, Scheme, SettlementLine, SettlementRun


class SchemePeriodSerializer(serializers.Serializer[Any]):
    """A scheme by code and a period of that scheme's year."""

    scheme = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Scheme.objects.all(),
        help_text=_("Scheme code."),
        error_messages={"does_not_exist": _("No scheme has the code “{value}”.")},
    )
    period = serializers.CharField(
        max_length=10, help_text=_("Period: YYYY (final), YYYY-MM or YYYY-Qn (interim).")
    )

    def validate_period(self, value: str) -> str:
        try:
            return str(parse_period(value))
        except PeriodError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scheme: Scheme = attrs["scheme"]
        if parse_period(attrs["period"]).year != scheme.year:
            raise serializers.ValidationError(
                {
                    "period": _("The scheme %(code)s is for %(year)s; %(period)s is another year.")
                    % {"code": scheme.code, "year": scheme.year, "period": attrs["period"]}
                }
            )
        return attrs


class SettlementLineOutputSerializer(serializers.ModelSerializer[SettlementLine]):
    """One institution's line, exactly CONTRACTS §4's export columns in their order."""

    institution_code = serializers.CharField(source="institution.code", read_only=True)

    class Meta:
        model = SettlementLine
        fields = list(COLUMNS)
        read_only_fields = fields


class SettlementRunOutputSerializer(serializers.ModelSerializer[SettlementRun]):
    scheme = serializers.CharField(source="scheme.code", read_only=True)
    progress = serializers.IntegerField(
        read_only=True, min_value=0, max_value=100, help_text=_("Percent done, 0 to 100.")
    )

    class Meta:
        model = SettlementRun
        fields = [
            "id",
            "scheme",
            "period",
            "status",
            "progress",
            "institutions_total",
            "requested_at",
            "started_at",
            "finished_at",
            "superseded_by",
            "inputs_digest",
            "error",
        ]
        read_only_fields = fields


class RunReferenceSerializer(serializers.ModelSerializer[SettlementRun]):
    """The run a list of lines comes from, for tracing."""

    class Meta:
        model = SettlementRun
        fields = ["id", "finished_at", "inputs_digest"]
        read_only_fields = fields


class ClaimLineOutputSerializer(serializers.ModelSerializer[ClaimLine]):
    masked_resident_id = serializers.CharField(
        source="patient.masked_resident_id",
        read_only=True,
        help_text=_("The resident ID with its birth date and sequence hidden."),
    )
    institution = serializers.CharField(source="institution.code", read_only=True)
    self_paid = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = ClaimLine
        fields = [
            "claim_id",
            "masked_resident_id",
            "institution",
            "service_date",
            "category",
            "diagnosis_code",
            "total_amount",
            "fund_paid",
            "self_paid",
            "source",
            "source_ref",
        ]
        read_only_fields = fields
