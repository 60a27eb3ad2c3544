"""The exams API at /api/v1/exams/ (CONTRACTS §3): thin, over the selectors and services.

- ``items/``: the catalogue, for any logged-in user;
- ``orders/``: orders the user may see (staff of the ordering or performing institution, the
  district's regulators, the patient); ``POST`` orders exams (clinicians);
- ``specimens/{id}/collect/`` and ``receive/``: the chain of custody;
- ``results/``: results the user may see: verified ones in their scope, and for lab technicians
  every result of their lab; ``POST`` enters a result, ``results/{id}/verify/`` releases it;
- ``critical-alerts/``: the ordering institution's critical values;
  ``critical-alerts/{id}/acknowledge/`` takes one off the worklist.

Another scope's object is 404; a service's ``PermissionDenied`` is 403, its ``ValidationError``
400 with field errors, and an action that does not fit the current state 409.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from cloud_exams import selectors, services
from cloud_exams.api import filters
from cloud_exams.api.serializers import (
    AcknowledgeInputSerializer,
    CriticalValueAlertOutputSerializer,
    ExamItemOutputSerializer,
    ExamOrderInputSerializer,
    ExamOrderOutputSerializer,
    ExamResultInputSerializer,
    ExamResultOutputSerializer,
    SpecimenOutputSerializer,
)
from cloud_management.access import get_visible_or_404, visible_to
from cloud_management.api.service_calls import call_service
from cloud_management.models import Institution, Patient


class ExamItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """The exam catalogue."""

    permission_classes = [IsAuthenticated]
    serializer_class = ExamItemOutputSerializer
    lookup_field = "code"
    queryset = selectors.active_items().order_by("code")


class ExamOrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Exam orders with their items and specimens."""

    permission_classes = [IsAuthenticated]
    serializer_class = ExamOrderOutputSerializer
    filterset_class = filters.ExamOrderFilter

    def get_queryset(self) -> models.QuerySet[Any]:
        return (
            selectors.orders_visible_to(self.request.user)
            .select_related("patient", "ordering_institution", "performing_institution")
            .prefetch_related("items__item", "items__specimen", "specimens")
            .order_by("-ordered_at", "-id")
        )

    @extend_schema(request=ExamOrderInputSerializer, responses={201: ExamOrderOutputSerializer})
    def create(self, request: Request) -> Response:
        data = ExamOrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user
        patient = get_visible_or_404(user, Patient.objects.all(), pk=values["patient"])
        institutions = visible_to(user, Institution.objects.all())
        ordering = _institution(
            institutions, values["ordering_institution"], "ordering_institution"
        )
        performing = None
        if values.get("performing_institution"):
            # A lab elsewhere may perform the order: any active institution by code.
            performing = _institution(
                Institution.objects.filter(is_active=True),
                values["performing_institution"],
                "performing_institution",
            )
        order = call_service(
            services.order_exams,
            ordered_by=user,
            patient=patient,
            ordering_institution=ordering,
            performing_institution=performing,
            item_codes=values["items"],
            source=values["source"],
            source_ref=values["source_ref"],
            clinical_note=values["clinical_note"],
        )
        order = self.get_queryset().get(pk=order.pk)
        return Response(ExamOrderOutputSerializer(order).data, status=status.HTTP_201_CREATED)


def _institution(queryset: models.QuerySet[Institution], code: str, field: str) -> Institution:
    found = queryset.filter(code=code).first()
    if found is None:
        raise serializers.ValidationError({field: [_("No institution has this code.")]})
    return found


class SpecimenViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]):
    """Specimens and their chain of custody."""

    permission_classes = [IsAuthenticated]
    serializer_class = SpecimenOutputSerializer

    def get_queryset(self) -> models.QuerySet[Any]:
        return selectors.specimens_visible_to(self.request.user)

    @extend_schema(request=None, responses={200: SpecimenOutputSerializer})
    @action(detail=True, methods=["post"])
    def collect(self, request: Request, pk: str | None = None) -> Response:
        specimen = call_service(
            services.collect_specimen, user=request.user, specimen=self.get_object()
        )
        return Response(SpecimenOutputSerializer(specimen).data)

    @extend_schema(request=None, responses={200: SpecimenOutputSerializer})
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str | None = None) -> Response:
        specimen = call_service(
            services.receive_specimen, user=request.user, specimen=self.get_object()
        )
        return Response(SpecimenOutputSerializer(specimen).data)


class ExamResultViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Results: verified ones within the user's scope; the lab's own also before verification."""

    permission_classes = [IsAuthenticated]
    serializer_class = ExamResultOutputSerializer
    filterset_class = filters.ExamResultFilter

    def get_queryset(self) -> models.QuerySet[Any]:
        return (
            selectors.results_visible_to(self.request.user)
            .select_related("item", "order_item", "ordering_institution", "performing_institution")
            .order_by("-collected_on", "-id")
        )

    @extend_schema(request=ExamResultInputSerializer, responses={201: ExamResultOutputSerializer})
    def create(self, request: Request) -> Response:
        data = ExamResultInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        order_item = get_visible_or_404(
            request.user, selectors.order_items_visible_to(request.user), pk=values["order_item"]
        )
        result = call_service(
            services.enter_result,
            user=request.user,
            order_item=order_item,
            value=values.get("value"),
            finding=values["finding"],
            is_abnormal=values["is_abnormal"],
        )
        result = self.get_queryset().get(pk=result.pk)
        return Response(ExamResultOutputSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ExamResultOutputSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        result = call_service(services.verify_result, user=request.user, result=self.get_object())
        result = self.get_queryset().get(pk=result.pk)
        return Response(ExamResultOutputSerializer(result).data)


class CriticalValueAlertViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Critical values of the ordering institution; open ones until acknowledged."""

    permission_classes = [IsAuthenticated]
    serializer_class = CriticalValueAlertOutputSerializer
    filterset_class = filters.CriticalValueAlertFilter

    def get_queryset(self) -> models.QuerySet[Any]:
        return (
            selectors.alerts_visible_to(self.request.user)
            .select_related(
                "institution",
                "result__item",
                "result__order_item",
                "result__ordering_institution",
                "result__performing_institution",
            )
            .order_by("-raised_at", "-id")
        )

    @extend_schema(
        request=AcknowledgeInputSerializer, responses={200: CriticalValueAlertOutputSerializer}
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        data = AcknowledgeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = call_service(
            services.acknowledge_critical_alert,
            user=request.user,
            alert=self.get_object(),
            action_taken=data.validated_data["action_taken"],
        )
        alert = self.get_queryset().get(pk=alert.pk)
        return Response(CriticalValueAlertOutputSerializer(alert).data)
