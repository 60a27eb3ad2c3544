"""Payments API views (CONTRACTS §3): thin, over the selectors and services.

- ``GET settlements/?scheme=CODE&period=P``: the latest finished run's lines (§4 columns) that
  the user may see: operators and city regulators every institution, district regulators their
  district's, staff their own institution's, patients none.
- ``POST settlement-runs/`` ``{"scheme", "period"}``: operators start a run, ``202`` with its
  id; while a run for the scheme and period is under way the same run is answered.
- ``GET settlement-runs/``, ``settlement-runs/{id}/``: status, progress and timestamps, for
  operators and regulators.
- ``GET claims/``: the claim ledger, scoped, with masked resident IDs.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from cloud_management.access import visible_to
from payments.api import filters
from payments.api.permissions import OperatorWritesPermission, runs_visible_to
from payments.api.serializers import (
    ClaimLineOutputSerializer,
    RunReferenceSerializer,
    SchemePeriodSerializer,
    SettlementLineOutputSerializer,
    SettlementRunOutputSerializer,
)
from payments.models import ClaimLine, SettlementLine, SettlementRun
from payments.selectors import get_latest_finished_run, list_settlement_lines
from payments.tasks import start_settlement_run


class SettlementLinePagination(PageNumberPagination):
    """The usual page, plus the run the lines come from (``null`` when there is none)."""

    run: SettlementRun | None = None

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        run = RunReferenceSerializer(self.run).data if self.run is not None else None
        response.data = OrderedDict([*response.data.items(), ("run", run)])
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["run"] = {
            "type": "object",
            "nullable": True,
            "properties": {
                "id": {"type": "integer"},
                "finished_at": {"type": "string", "format": "date-time"},
                "inputs_digest": {"type": "string"},
            },
        }
        return paginated


@extend_schema(parameters=[SchemePeriodSerializer])
class SettlementLineListView(generics.ListAPIView[SettlementLine]):
    """The lines of the latest finished run of a scheme and period (CONTRACTS §4 columns) that
    the user may see; an empty list when there is no finished run."""

    queryset = SettlementLine.objects.none()
    serializer_class = SettlementLineOutputSerializer
    filterset_class = filters.SettlementLineFilter
    pagination_class = SettlementLinePagination
    permission_classes = [OperatorWritesPermission]

    def get_queryset(self) -> models.QuerySet[SettlementLine]:
        if getattr(self, "swagger_fake_view", False):
            return SettlementLine.objects.none()
        query = SchemePeriodSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        run = get_latest_finished_run(
            scheme=query.validated_data["scheme"], period=query.validated_data["period"]
        )
        if isinstance(self.paginator, SettlementLinePagination):
            self.paginator.run = run
        if run is None:
            return SettlementLine.objects.none()
        return visible_to(self.request.user, list_settlement_lines(run=run))


@extend_schema_view(
    create=extend_schema(
        request=SchemePeriodSerializer,
        responses={202: SettlementRunOutputSerializer},
        description="Start a settlement run (operators only). While a run for the scheme and "
        "period is pending or running, that run is answered instead of a new one.",
    )
)
class SettlementRunViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[SettlementRun],
):
    """Settlement runs: operators start them; operators and regulators follow them."""

    queryset = SettlementRun.objects.select_related("scheme").order_by("-requested_at", "-id")
    serializer_class = SettlementRunOutputSerializer
    filterset_class = filters.SettlementRunFilter
    permission_classes = [OperatorWritesPermission]

    def get_queryset(self) -> models.QuerySet[SettlementRun]:
        return runs_visible_to(self.request.user, super().get_queryset())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = SchemePeriodSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        try:
            run, _created = start_settlement_run(
                scheme=query.validated_data["scheme"], period=query.validated_data["period"]
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(detail=serializers.as_serializer_error(exc)) from exc
        # Without a broker the run has already been computed in this process.
        run.refresh_from_db()
        return Response(SettlementRunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ClaimLineViewSet(viewsets.ReadOnlyModelViewSet[ClaimLine]):
    """The claim ledger: lines given at the user's institutions (staff), in their district or
    city (regulators), or charged to them (patients); newest service date first."""

    queryset = ClaimLine.objects.select_related("patient", "institution").order_by(
        "-service_date", "-id"
    )
    serializer_class = ClaimLineOutputSerializer
    filterset_class = filters.ClaimLineFilter
    lookup_field = "claim_id"
    lookup_value_regex = "[^/]+"
    permission_classes = [OperatorWritesPermission]

    def get_queryset(self) -> models.QuerySet[ClaimLine]:
        return visible_to(self.request.user, super().get_queryset())
