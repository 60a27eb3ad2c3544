"""Input and output serializers of the pharmacy API: outputs show masked resident IDs only;
inputs are checked here for shape and by the services for meaning."""

from __future__ import annotations

from rest_framework import serializers

from cloud_pharmacy.models import (
    Drug,
    Prescription,
    PrescriptionEvent,
    PrescriptionLine,
    ReplenishmentLine,
    ReplenishmentOrder,
    ReviewFinding,
    ShipmentLine,
    StockBatch,
)


class DrugOutputSerializer(serializers.ModelSerializer[Drug]):
    class Meta:
        model = Drug
        fields = [
            "code",
            "generic_name",
            "brand_name",
            "atc_code",
            "form",
            "strength",
            "strength_unit",
            "unit",
            "price",
            "insurance_category",
            "max_daily_dose",
            "is_controlled",
            "is_toxic",
            "is_antimicrobial",
        ]


class LineOutputSerializer(serializers.ModelSerializer[PrescriptionLine]):
    drug = serializers.CharField(source="drug.code")
    drug_name = serializers.CharField(source="drug.generic_name")

    class Meta:
        model = PrescriptionLine
        fields = [
            "id",
            "drug",
            "drug_name",
            "dose",
            "frequency",
            "route",
            "days",
            "quantity",
            "unit_price",
            "amount",
        ]


class FindingOutputSerializer(serializers.ModelSerializer[ReviewFinding]):
    reason = serializers.CharField()

    class Meta:
        model = ReviewFinding
        fields = ["id", "line", "rule", "code", "severity", "reason", "is_overridden"]


class EventOutputSerializer(serializers.ModelSerializer[PrescriptionEvent]):
    institution = serializers.CharField(source="institution.code", allow_null=True, default=None)

    class Meta:
        model = PrescriptionEvent
        fields = ["status", "institution", "at", "note"]


class PrescriptionOutputSerializer(serializers.ModelSerializer[Prescription]):
    patient = serializers.IntegerField(source="patient_id")
    patient_name = serializers.CharField(source="patient.name")
    resident_id = serializers.CharField(source="patient.masked_resident_id")
    institution = serializers.CharField(source="institution.code")
    dispensing_institution = serializers.CharField(source="dispensing_institution.code")
    diagnoses = serializers.ListField(child=serializers.CharField())
    lines = LineOutputSerializer(many=True)
    findings = FindingOutputSerializer(many=True)
    events = EventOutputSerializer(many=True)

    class Meta:
        model = Prescription
        fields = [
            "id",
            "patient",
            "patient_name",
            "resident_id",
            "institution",
            "written_at",
            "diagnoses",
            "is_long",
            "extended_reason",
            "fulfilment",
            "dispensing_institution",
            "status",
            "blocking_findings",
            "open_warnings",
            "total_amount",
            "lines",
            "findings",
            "events",
        ]


class LineInputSerializer(serializers.Serializer[dict[str, object]]):
    drug = serializers.CharField(max_length=32)
    dose = serializers.DecimalField(max_digits=10, decimal_places=3)
    frequency = serializers.ChoiceField(choices=PrescriptionLine.Frequency.choices)
    route = serializers.ChoiceField(choices=PrescriptionLine.Route.choices)
    days = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1)


class PrescriptionInputSerializer(serializers.Serializer[dict[str, object]]):
    patient = serializers.IntegerField()
    institution = serializers.CharField(max_length=20)
    diagnosis_codes = serializers.ListField(child=serializers.CharField(max_length=10))
    lines = LineInputSerializer(many=True)
    fulfilment = serializers.ChoiceField(
        choices=Prescription.Fulfilment.choices, default=Prescription.Fulfilment.ON_SITE
    )
    dispensing_institution = serializers.CharField(max_length=20, required=False, default="")
    delivery_address = serializers.CharField(max_length=200, required=False, default="")
    is_long = serializers.BooleanField(default=False)
    extended_reason = serializers.CharField(max_length=200, required=False, default="")
    is_pregnant = serializers.BooleanField(default=False)


class JustificationInputSerializer(serializers.Serializer[dict[str, object]]):
    justification = serializers.CharField(max_length=2000, required=False, default="")


class StockBatchOutputSerializer(serializers.ModelSerializer[StockBatch]):
    institution = serializers.CharField(source="institution.code")
    drug = serializers.CharField(source="drug.code")

    class Meta:
        model = StockBatch
        fields = ["id", "institution", "drug", "batch_number", "expires_on", "quantity"]


class ReorderSuggestionOutputSerializer(serializers.Serializer[object]):
    drug_id = serializers.IntegerField()
    drug = serializers.CharField()
    consumed = serializers.IntegerField()
    # A JSON number, as before; exact in Python.
    daily_use = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False)
    on_hand = serializers.IntegerField()
    suggested = serializers.IntegerField()


class ReplenishmentLineInputSerializer(serializers.Serializer[dict[str, object]]):
    drug = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1)


class ReplenishmentInputSerializer(serializers.Serializer[dict[str, object]]):
    institution = serializers.CharField(max_length=20)
    lines = ReplenishmentLineInputSerializer(many=True)


class ReplenishmentLineOutputSerializer(serializers.ModelSerializer[ReplenishmentLine]):
    drug = serializers.CharField(source="drug.code")

    class Meta:
        model = ReplenishmentLine
        fields = ["drug", "quantity"]


class ShipmentLineOutputSerializer(serializers.ModelSerializer[ShipmentLine]):
    drug = serializers.CharField(source="drug.code")

    class Meta:
        model = ShipmentLine
        fields = ["drug", "batch_number", "expires_on", "quantity"]


class ReplenishmentOrderOutputSerializer(serializers.ModelSerializer[ReplenishmentOrder]):
    institution = serializers.CharField(source="institution.code")
    supplier = serializers.CharField(source="supplier.code")
    lines = ReplenishmentLineOutputSerializer(many=True)
    shipped = ShipmentLineOutputSerializer(many=True)

    class Meta:
        model = ReplenishmentOrder
        fields = [
            "id",
            "institution",
            "supplier",
            "status",
            "requested_at",
            "shipped_at",
            "received_at",
            "lines",
            "shipped",
        ]
