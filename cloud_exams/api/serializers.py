"""Input and output serializers of the exams API (STYLE.md 4.4): outputs show masked resident
IDs only; inputs are validated here for shape and by the services for meaning."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cloud_exams.models import (
    CriticalValueAlert,
    ExamItem,
    ExamOrder,
    ExamOrderItem,
    ExamResult,
    Specimen,
)


class ExamItemOutputSerializer(serializers.ModelSerializer[ExamItem]):
    class Meta:
        model = ExamItem
        fields = [
            "code",
            "name",
            "loinc_code",
            "specimen_type",
            "result_type",
            "unit",
            "price",
            "insurance_category",
            "is_calculated",
        ]


class SpecimenOutputSerializer(serializers.ModelSerializer[Specimen]):
    class Meta:
        model = Specimen
        fields = ["id", "barcode", "specimen_type", "collected_at", "received_at"]


class OrderItemOutputSerializer(serializers.ModelSerializer[ExamOrderItem]):
    item = serializers.CharField(source="item.code")
    specimen = serializers.CharField(source="specimen.barcode", allow_null=True, default=None)

    class Meta:
        model = ExamOrderItem
        fields = ["id", "item", "specimen", "price"]


class ExamOrderOutputSerializer(serializers.ModelSerializer[ExamOrder]):
    number = serializers.CharField()
    patient = serializers.IntegerField(source="patient_id")
    patient_name = serializers.CharField(source="patient.name")
    resident_id = serializers.CharField(source="patient.masked_resident_id")
    ordering_institution = serializers.CharField(source="ordering_institution.code")
    performing_institution = serializers.CharField(source="performing_institution.code")
    items = OrderItemOutputSerializer(many=True)
    specimens = SpecimenOutputSerializer(many=True)

    class Meta:
        model = ExamOrder
        fields = [
            "id",
            "number",
            "patient",
            "patient_name",
            "resident_id",
            "ordering_institution",
            "performing_institution",
            "source",
            "source_ref",
            "ordered_at",
            "clinical_note",
            "items",
            "specimens",
        ]


class ExamOrderInputSerializer(serializers.Serializer[Any]):
    patient = serializers.IntegerField()
    ordering_institution = serializers.CharField(max_length=32)
    performing_institution = serializers.CharField(max_length=32, required=False)
    items = serializers.ListField(child=serializers.CharField(max_length=20), min_length=1)
    source = serializers.ChoiceField(choices=ExamOrder.Source.choices)  # type: ignore[assignment]
    source_ref = serializers.CharField(max_length=100, required=False, default="")
    clinical_note = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )


class ExamResultOutputSerializer(serializers.ModelSerializer[ExamResult]):
    patient = serializers.IntegerField(source="patient_id")
    item = serializers.CharField(source="item.code")
    item_name = serializers.CharField(source="item.name")
    order = serializers.IntegerField(source="order_item.order_id", allow_null=True, default=None)
    ordering_institution = serializers.CharField(source="ordering_institution.code")
    performing_institution = serializers.CharField(source="performing_institution.code")
    is_verified = serializers.BooleanField()

    class Meta:
        model = ExamResult
        fields = [
            "id",
            "order",
            "order_item",
            "patient",
            "item",
            "item_name",
            "collected_on",
            "value",
            "value_text",
            "unit",
            "flag",
            "reference_text",
            "origin",
            "ordering_institution",
            "performing_institution",
            "entered_at",
            "is_verified",
            "verified_at",
        ]


class ExamResultInputSerializer(serializers.Serializer[Any]):
    order_item = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=12, decimal_places=4, required=False)
    finding = serializers.CharField(max_length=500, required=False, default="")
    is_abnormal = serializers.BooleanField(required=False, default=False)


class CriticalValueAlertOutputSerializer(serializers.ModelSerializer[CriticalValueAlert]):
    result = ExamResultOutputSerializer()
    institution = serializers.CharField(source="institution.code")
    is_open = serializers.BooleanField()

    class Meta:
        model = CriticalValueAlert
        fields = [
            "id",
            "result",
            "institution",
            "raised_at",
            "is_open",
            "acknowledged_at",
            "action_taken",
        ]


class AcknowledgeInputSerializer(serializers.Serializer[Any]):
    action_taken = serializers.CharField(max_length=300)
