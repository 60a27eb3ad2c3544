"""Registry API views: thin. Querysets go through ``visible_to``; writes call the services.

A service's ``ValidationError`` becomes a 400 with field errors and its ``PermissionDenied`` a
403 (DRF's own handling); an object outside the user's scope is 404.
"""

from __future__ import annotations

import abc
from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cloud_management import services
from cloud_management.access import visible_to
from cloud_management.api import filters
from cloud_management.api.permissions import RegistryPermission
from cloud_management.api.serializers import (
    REVEAL_RESIDENT_ID,
    ContractEndSerializer,
    ContractSerializer,
    DistrictSerializer,
    EnrolmentEndSerializer,
    EnrolmentSerializer,
    EnrolmentTransferSerializer,
    InstitutionSerializer,
    PatientSerializer,
)
from cloud_management.api.service_calls import call_service
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
)


class ScopedGenericViewSet(viewsets.GenericViewSet[Any]):
    """Rows the requesting user may see; everything else is absent (404, empty lists)."""

    permission_classes = [RegistryPermission]

    def get_queryset(self) -> models.QuerySet[Any]:
        return visible_to(self.request.user, super().get_queryset())


class DistrictViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """Districts (read-only): staff see their institutions' districts, regulators theirs."""

    queryset = District.objects.order_by("code")
    serializer_class = DistrictSerializer
    filterset_class = filters.DistrictFilter


class InstitutionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedGenericViewSet):
    """Institutions (read-only; operators manage them in the admin and by import)."""

    queryset = Institution.objects.select_related("district").order_by("code")
    serializer_class = InstitutionSerializer
    filterset_class = filters.InstitutionFilter


class PatientViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    ScopedGenericViewSet,
):
    """Residents. Lists show resident IDs masked; a record's own detail shows it whole to
    staff of an institution the resident belongs to, operators and the resident."""

    queryset = Patient.objects.select_related("district", "home_institution").order_by("-id")
    serializer_class = PatientSerializer
    filterset_class = filters.PatientFilter

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context[REVEAL_RESIDENT_ID] = self.action != "list"
        return context

    def perform_create(self, serializer: serializers.BaseSerializer[Patient]) -> None:
        serializer.instance = call_service(
            services.register_patient, user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Patient]) -> None:
        assert serializer.instance is not None  # noqa: S101 (set by UpdateModelMixin)
        serializer.instance = call_service(
            services.update_patient,
            user=self.request.user,
            patient=serializer.instance,
            **serializer.validated_data,
        )


class _EndableViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    ScopedGenericViewSet,
    abc.ABC,
):
    """Created through a service; afterwards changed only by ending it (PUT/PATCH)."""

    end_serializer_class: type[serializers.Serializer[Any]]

    @abc.abstractmethod
    def _end(self, obj: Any, data: dict[str, Any]) -> Any:
        """End ``obj`` through its service with the validated ``data``; return it."""

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        # The browsable API's PUT form then offers exactly what ending accepts.
        if self.action in {"update", "partial_update"}:
            return self.end_serializer_class
        return super().get_serializer_class()

    def _update(self, request: Request) -> Response:
        obj = self.get_object()
        end = self.end_serializer_class(data=request.data, context=self.get_serializer_context())
        end.is_valid(raise_exception=True)
        obj = self._end(obj, dict(end.validated_data))
        assert self.serializer_class is not None  # noqa: S101 (set by every subclass)
        return Response(self.serializer_class(obj, context=self.get_serializer_context()).data)


class ContractViewSet(_EndableViewSet):
    """Family-doctor contracts (家庭医生签约). PUT/PATCH ``{"ended_on"}`` ends a contract."""

    queryset = FamilyDoctorContract.objects.select_related("patient", "institution").order_by("-id")
    serializer_class = ContractSerializer
    filterset_class = filters.ContractFilter
    end_serializer_class = ContractEndSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = call_service(
            services.sign_contract, user=self.request.user, **serializer.validated_data
        )

    def _end(self, obj: Any, data: dict[str, Any]) -> Any:
        return call_service(
            services.end_contract, user=self.request.user, contract=obj, ended_on=data["ended_on"]
        )

    @extend_schema(request=ContractEndSerializer, responses=ContractSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(request)

    @extend_schema(request=ContractEndSerializer, responses=ContractSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(request)


class EnrolmentViewSet(_EndableViewSet):
    """Diabetes enrolments (门特). PUT/PATCH ``{"ended_on", "reason"}`` ends one;
    ``POST …/transfer/`` moves it to another institution from a given day."""

    queryset = DiabetesEnrollment.objects.select_related("patient", "institution").order_by("-id")
    serializer_class = EnrolmentSerializer
    filterset_class = filters.EnrolmentFilter
    end_serializer_class = EnrolmentEndSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.instance = call_service(
            services.enrol_patient, user=self.request.user, **serializer.validated_data
        )

    def _end(self, obj: Any, data: dict[str, Any]) -> Any:
        return call_service(
            services.end_enrolment,
            user=self.request.user,
            enrolment=obj,
            ended_on=data["ended_on"],
            reason=data["reason"],
        )

    @extend_schema(request=EnrolmentEndSerializer, responses=EnrolmentSerializer)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(request)

    @extend_schema(request=EnrolmentEndSerializer, responses=EnrolmentSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._update(request)

    @extend_schema(request=EnrolmentTransferSerializer, responses={201: EnrolmentSerializer})
    @action(detail=True, methods=["post"], serializer_class=EnrolmentTransferSerializer)
    def transfer(self, request: Request, pk: str | None = None) -> Response:
        enrolment = self.get_object()
        transfer = EnrolmentTransferSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        transfer.is_valid(raise_exception=True)
        successor = call_service(
            services.transfer_enrolment,
            user=request.user,
            enrolment=enrolment,
            **transfer.validated_data,
        )
        return Response(
            EnrolmentSerializer(successor, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
