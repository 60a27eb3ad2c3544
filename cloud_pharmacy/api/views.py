"""The pharmacy API at /api/v1/pharmacy/: thin, over the selectors and services.

- ``drugs/``: the formulary, for any logged-in user;
- ``prescriptions/``: those the user may see (prescribers of the writing institution, pharmacists
  of the dispensing one, the district's regulators, the patient); ``POST`` writes one (doctors);
  ``{id}/approve/``, ``reject/``, ``dispense/``, ``deliver/`` for the dispensing pharmacists,
  ``cancel/`` for the prescriber;
- ``findings/{id}/override/``: a pharmacist overrides a warning with a justification;
- ``stock/``: the batches of the user's institutions.

Another scope's object is 404; a service's PermissionDenied 403, its ValidationError 400 with
field errors, and an action that does not fit the current state 409.
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

from cloud_management.access import get_visible_or_404, scope_of, visible_to
from cloud_management.api.service_calls import call_service
from cloud_management.models import Institution, Patient
from cloud_pharmacy import selectors, services
from cloud_pharmacy.api.serializers import (
    DrugOutputSerializer,
    FindingOutputSerializer,
    JustificationInputSerializer,
    PrescriptionInputSerializer,
    PrescriptionOutputSerializer,
    ReorderSuggestionOutputSerializer,
    ReplenishmentInputSerializer,
    ReplenishmentOrderOutputSerializer,
    StockBatchOutputSerializer,
)
from cloud_pharmacy.models import Drug, ReplenishmentOrder, ReviewFinding


class DrugViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]):
    """The formulary."""

    permission_classes = [IsAuthenticated]
    serializer_class = DrugOutputSerializer
    lookup_field = "code"
    queryset = Drug.objects.filter(is_active=True).order_by("code")


class PrescriptionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Prescriptions with their lines, review findings and circulation events."""

    permission_classes = [IsAuthenticated]
    serializer_class = PrescriptionOutputSerializer
    filterset_fields = ["status", "fulfilment", "is_long"]

    def get_queryset(self) -> models.QuerySet[Any]:
        return (
            selectors.prescriptions_visible_to(self.request.user)
            .prefetch_related("lines__drug", "findings", "events__institution")
            .order_by("-written_at", "-id")
        )

    def _answer(self, prescription: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=prescription.pk)
        return Response(PrescriptionOutputSerializer(fresh).data, status=code)

    @extend_schema(
        request=PrescriptionInputSerializer, responses={201: PrescriptionOutputSerializer}
    )
    def create(self, request: Request) -> Response:
        data = PrescriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user
        patient = get_visible_or_404(user, Patient.objects.all(), pk=values["patient"])
        institution = _institution(
            visible_to(user, Institution.objects.all()), values["institution"], "institution"
        )
        dispensing = None
        if values["dispensing_institution"]:
            dispensing = _institution(
                Institution.objects.filter(is_active=True),
                values["dispensing_institution"],
                "dispensing_institution",
            )
        drugs = {
            d.code: d for d in Drug.objects.filter(code__in=[x["drug"] for x in values["lines"]])
        }
        lines = []
        for number, row in enumerate(values["lines"], start=1):
            found = drugs.get(row["drug"])
            if found is None:
                raise serializers.ValidationError(
                    {
                        f"lines[{number}].drug": [
                            _("Row %(row)s: unknown drug “%(code)s”.")
                            % {"row": number, "code": row["drug"]}
                        ]
                    }
                )
            lines.append(
                services.LineInput(
                    drug=found,
                    dose=row["dose"],
                    frequency=row["frequency"],
                    route=row["route"],
                    days=row["days"],
                    quantity=row["quantity"],
                )
            )
        prescription = call_service(
            services.write_prescription,
            user=user,
            patient=patient,
            institution=institution,
            diagnosis_codes=values["diagnosis_codes"],
            lines=lines,
            fulfilment=values["fulfilment"],
            dispensing_institution=dispensing,
            delivery_address=values["delivery_address"],
            is_long=values["is_long"],
            extended_reason=values["extended_reason"],
            is_pregnant=values["is_pregnant"],
        )
        return self._answer(prescription, status.HTTP_201_CREATED)

    @extend_schema(request=JustificationInputSerializer, responses=PrescriptionOutputSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        justification = _justification(request)
        done = call_service(
            services.approve_prescription,
            user=request.user,
            prescription=self.get_object(),
            justification=justification,
        )
        return self._answer(done)

    @extend_schema(request=JustificationInputSerializer, responses=PrescriptionOutputSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        done = call_service(
            services.reject_prescription,
            user=request.user,
            prescription=self.get_object(),
            justification=_justification(request),
        )
        return self._answer(done)

    @extend_schema(request=None, responses=PrescriptionOutputSerializer)
    @action(detail=True, methods=["post"])
    def dispense(self, request: Request, pk: str | None = None) -> Response:
        prescription = self.get_object()
        call_service(services.dispense_prescription, user=request.user, prescription=prescription)
        return self._answer(prescription)

    @extend_schema(request=None, responses=PrescriptionOutputSerializer)
    @action(detail=True, methods=["post"])
    def deliver(self, request: Request, pk: str | None = None) -> Response:
        done = call_service(
            services.confirm_delivery, user=request.user, prescription=self.get_object()
        )
        return self._answer(done)

    @extend_schema(request=None, responses=PrescriptionOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        done = call_service(
            services.cancel_prescription, user=request.user, prescription=self.get_object()
        )
        return self._answer(done)


class FindingViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]):
    """Review findings; ``override/`` accepts a warning with a justification."""

    permission_classes = [IsAuthenticated]
    serializer_class = FindingOutputSerializer

    def get_queryset(self) -> models.QuerySet[Any]:
        return visible_to(self.request.user, ReviewFinding.objects.select_related("prescription"))

    @extend_schema(request=JustificationInputSerializer, responses=FindingOutputSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request: Request, pk: str | None = None) -> Response:
        finding = call_service(
            services.override_finding,
            user=request.user,
            finding=self.get_object(),
            justification=_justification(request),
        )
        return Response(FindingOutputSerializer(finding).data)


class StockBatchViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Stock by batch at the user's institutions; ``expiring/?within_days=`` is the expiry
    alert list, ``reorder-suggestions/?institution=CODE`` what to order from consumption."""

    permission_classes = [IsAuthenticated]
    serializer_class = StockBatchOutputSerializer
    filterset_fields = ["drug__code", "institution__code"]

    def get_queryset(self) -> models.QuerySet[Any]:
        return selectors.stock_visible_to(self.request.user).order_by("expires_on", "id")

    @extend_schema(responses=StockBatchOutputSerializer(many=True))
    @action(detail=False, methods=["get"])
    def expiring(self, request: Request) -> Response:
        try:
            within = int(request.query_params.get("within_days", "90"))
        except ValueError:
            raise serializers.ValidationError(
                {"within_days": [_("Enter a whole number of days.")]}
            ) from None
        if not 0 <= within <= 3650:
            raise serializers.ValidationError(
                {"within_days": [_("Enter a number of days from 0 to 3650.")]}
            )
        # The stock rule, as for the list itself (a patient sees no stock).
        rows = visible_to(request.user, selectors.expiring_batches(within_days=within))
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(StockBatchOutputSerializer(page, many=True).data)

    @extend_schema(responses=ReorderSuggestionOutputSerializer(many=True))
    @action(detail=False, methods=["get"], url_path="reorder-suggestions")
    def reorder_suggestions(self, request: Request) -> Response:
        code = request.query_params.get("institution", "")
        institution = _institution(
            visible_to(request.user, Institution.objects.all()), code, "institution"
        )
        if not (
            scope_of(request.user).is_operator
            or institution.pk in scope_of(request.user).institution_ids
        ):
            raise serializers.ValidationError(
                {"institution": [_("Unknown institution “%(code)s”.") % {"code": code}]}
            )
        suggestions = selectors.reorder_suggestions(institution_id=institution.pk)
        return Response(ReorderSuggestionOutputSerializer(suggestions, many=True).data)


class ReplenishmentOrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Orders to the central cloud pharmacy: ``POST`` orders (pharmacists of the ordering
    institution), ``{id}/ship/`` (the central pharmacy's), ``{id}/receive/`` (the ordering
    institution's)."""

    permission_classes = [IsAuthenticated]
    serializer_class = ReplenishmentOrderOutputSerializer
    filterset_fields = ["status"]

    def get_queryset(self) -> models.QuerySet[Any]:
        return visible_to(
            self.request.user,
            ReplenishmentOrder.objects.select_related("institution", "supplier")
            .prefetch_related("lines__drug", "shipped__drug")
            .order_by("-requested_at", "-id"),
        )

    @extend_schema(
        request=ReplenishmentInputSerializer, responses={201: ReplenishmentOrderOutputSerializer}
    )
    def create(self, request: Request) -> Response:
        data = ReplenishmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        institution = _institution(
            visible_to(request.user, Institution.objects.all()),
            values["institution"],
            "institution",
        )
        codes = [row["drug"] for row in values["lines"]]
        drugs = {d.code: d for d in Drug.objects.filter(code__in=codes)}
        lines = []
        for number, row in enumerate(values["lines"], start=1):
            if row["drug"] not in drugs:
                raise serializers.ValidationError(
                    {
                        f"lines[{number}].drug": [
                            _("Row %(row)s: unknown drug “%(code)s”.")
                            % {"row": number, "code": row["drug"]}
                        ]
                    }
                )
            lines.append((drugs[row["drug"]], row["quantity"]))
        order = call_service(
            services.request_replenishment, user=request.user, institution=institution, lines=lines
        )
        return Response(
            ReplenishmentOrderOutputSerializer(order).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=ReplenishmentOrderOutputSerializer)
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str | None = None) -> Response:
        order = call_service(
            services.ship_replenishment, user=request.user, order=self.get_object()
        )
        return Response(ReplenishmentOrderOutputSerializer(order).data)

    @extend_schema(request=None, responses=ReplenishmentOrderOutputSerializer)
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, pk: str | None = None) -> Response:
        order = call_service(
            services.receive_replenishment, user=request.user, order=self.get_object()
        )
        return Response(ReplenishmentOrderOutputSerializer(order).data)


def _justification(request: Request) -> str:
    data = JustificationInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return str(data.validated_data["justification"])


def _institution(queryset: models.QuerySet[Institution], code: str, field: str) -> Institution:
    found = queryset.filter(code=code).first()
    if found is None:
        raise serializers.ValidationError(
            {field: [_("Unknown institution “%(code)s”.") % {"code": code}]}
        )
    return found
