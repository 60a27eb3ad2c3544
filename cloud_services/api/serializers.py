"""Input and output serializers of the home-services API (CONTRACTS §3), kept apart."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from cloud_services.models import Booking, ServiceItem, ServiceSlot


class ServiceItemOutputSerializer(serializers.ModelSerializer[ServiceItem]):
    requires_specimen = serializers.BooleanField(read_only=True)
    exam_items = serializers.SerializerMethodField()

    class Meta:
        model = ServiceItem
        fields = [
            "code",
            "name",
            "category",
            "fee",
            "requires_specimen",
            "insurance_category",
            "duration_minutes",
            "performing_role",
            "eligibility",
            "exam_items",
        ]

    def get_exam_items(self, obj: ServiceItem) -> list[str]:
        """The codes of the exam items a collected specimen is tested for."""
        return sorted(item.code for item in obj.exam_items.all())


class ServiceSlotOutputSerializer(serializers.ModelSerializer[ServiceSlot]):
    institution = serializers.CharField(source="institution.code", read_only=True)
    remaining = serializers.IntegerField(read_only=True)

    class Meta:
        model = ServiceSlot
        fields = ["id", "institution", "date", "start", "end", "capacity", "remaining"]


class BookingInputSerializer(serializers.Serializer[Any]):
    # Within the databases' 64-bit keys: the booking's SQL passes the id as it is.
    slot = serializers.IntegerField(label=_("slot"), min_value=1, max_value=2**63 - 1)
    item = serializers.CharField(label=_("home service code"), max_length=20)
    address = serializers.CharField(label=_("address"), max_length=200)
    phone = serializers.CharField(label=_("phone"), max_length=20)
    notes = serializers.CharField(
        label=_("notes"), max_length=500, required=False, allow_blank=True, default=""
    )


class BookingOutputSerializer(serializers.ModelSerializer[Booking]):
    slot = serializers.IntegerField(source="slot_id", read_only=True)
    item = serializers.CharField(source="item.code", read_only=True)
    institution = serializers.CharField(source="slot.institution.code", read_only=True)
    date = serializers.DateField(source="slot.date", read_only=True)
    start = serializers.TimeField(source="slot.start", read_only=True)
    end = serializers.TimeField(source="slot.end", read_only=True)
    exam_order = serializers.IntegerField(source="exam_order_id", read_only=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "number",
            "status",
            "slot",
            "item",
            "institution",
            "date",
            "start",
            "end",
            "address",
            "phone",
            "notes",
            "fee",
            "needs_assessment",
            "specimen_barcode",
            "exam_order",
            "created_at",
        ]

    # The fields ModelSerializer derives from the model, derived once per class.
    _derived_fields: ClassVar[dict[str, serializers.Field[Any, Any, Any, Any]]]

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ModelSerializer derives the fields anew for every instance (about 0.2 ms of each
        # booking's answer, docs/benchmarks/booking.md). They depend on the class alone, so
        # derive them once and hand out copies, as Serializer does with declared fields.
        cls = type(self)
        if "_derived_fields" not in cls.__dict__:
            cls._derived_fields = super().get_fields()
        return copy.deepcopy(cls._derived_fields)


class AssignNurseInputSerializer(serializers.Serializer[Any]):
    nurse = serializers.IntegerField(label=_("nurse (user id)"))


class AssessmentInputSerializer(serializers.Serializer[Any]):
    is_suitable = serializers.BooleanField(label=_("suitable for home service"))
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class NoteInputSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
