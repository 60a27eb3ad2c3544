"""The home-services API at /api/v1/services/ (CONTRACTS §3): thin, over selectors and services.

- ``items/``: the catalogue; ``slots/``: slots from today on (or ``date_from``) with the places
  left, for any logged-in user;
- ``bookings/``: the bookings the user may see (a patient their own, staff their institution's,
  regulators their district's); ``POST`` books for the logged-in patient (``201``, or ``409``
  when the slot is full or the patient already holds a booking in it);
- ``bookings/{id}/cancel/``: the patient or the institution's staff cancel (``409`` once the
  nurse is on the way or the booking is already cancelled);
- ``bookings/{id}/assess/``, ``confirm/``, ``assign/``, ``on-the-way/``, ``arrived/``,
  ``specimen-collected/``, ``complete/``, ``no-show/``: the institution's staff run the visit.

Another scope's booking is 404; a service's ``PermissionDenied`` is 403, its ``ValidationError``
400 with field errors, and a state conflict 409.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from cloud_management.access import get_visible_or_404
from cloud_management.api.service_calls import call_service
from cloud_services import selectors, services
from cloud_services.api import filters
from cloud_services.api.authentication import PatientTokenAuthentication
from cloud_services.api.serializers import (
    AssessmentInputSerializer,
    AssignNurseInputSerializer,
    BookingInputSerializer,
    BookingOutputSerializer,
    NoteInputSerializer,
    ServiceItemOutputSerializer,
    ServiceSlotOutputSerializer,
)
from cloud_services.models import Booking, ServiceSlot


class ServiceItemViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """The home-service catalogue."""

    permission_classes = [IsAuthenticated]
    serializer_class = ServiceItemOutputSerializer
    filterset_class = filters.ServiceItemFilter
    lookup_field = "code"
    queryset = selectors.active_items()


class ServiceSlotViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Home-visit slots with their places left; from today on unless ``date_from`` is given."""

    permission_classes = [IsAuthenticated]
    serializer_class = ServiceSlotOutputSerializer
    filterset_class = filters.ServiceSlotFilter

    def get_queryset(self) -> models.QuerySet[ServiceSlot]:
        if self.action == "list" and not self.request.query_params.get("date_from"):
            return selectors.available_slots()
        return ServiceSlot.objects.select_related("institution").order_by(
            "date", "start", "institution__code", "pk"
        )


class BookingViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Any]
):
    """Home-service bookings."""

    # The project's token and session authentication; the token also loads the patient.
    authentication_classes = [PatientTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    serializer_class = BookingOutputSerializer
    filterset_class = filters.BookingFilter

    def get_queryset(self) -> models.QuerySet[Booking]:
        return selectors.bookings_visible_to(self.request.user).order_by("-created_at", "-id")

    def _booking(self, pk: str | None) -> Booking:
        return get_visible_or_404(
            self.request.user, selectors.bookings_visible_to(self.request.user), pk=pk
        )

    def _respond(self, booking: Booking) -> Response:
        booking = selectors.bookings_visible_to(self.request.user).get(pk=booking.pk)
        return Response(BookingOutputSerializer(booking).data)

    @extend_schema(request=BookingInputSerializer, responses={201: BookingOutputSerializer})
    def create(self, request: Request) -> Response:
        data = BookingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = call_service(
            services.book_home_service,
            user=request.user,
            slot_id=data.validated_data["slot"],
            item_code=data.validated_data["item"],
            address=data.validated_data["address"],
            phone=data.validated_data["phone"],
            notes=data.validated_data["notes"],
        )
        return Response(BookingOutputSerializer(booking).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        return self._respond(
            call_service(services.cancel_booking, user=request.user, booking=booking)
        )

    @extend_schema(request=AssessmentInputSerializer, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def assess(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        data = AssessmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        call_service(
            services.record_first_visit_assessment,
            user=request.user,
            booking=booking,
            is_suitable=data.validated_data["is_suitable"],
            note=data.validated_data["note"],
        )
        return self._respond(booking)

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        return self._respond(
            call_service(services.confirm_booking, user=request.user, booking=booking)
        )

    @extend_schema(request=AssignNurseInputSerializer, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        data = AssignNurseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        nurse = get_user_model()._default_manager.filter(pk=data.validated_data["nurse"]).first()
        return self._respond(
            call_service(services.assign_nurse, user=request.user, booking=booking, nurse=nurse)
        )

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"], url_path="on-the-way")
    def on_the_way(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        return self._respond(call_service(services.start_visit, user=request.user, booking=booking))

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def arrived(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        return self._respond(
            call_service(services.record_arrival, user=request.user, booking=booking)
        )

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"], url_path="specimen-collected")
    def specimen_collected(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        return self._respond(
            call_service(services.record_specimen_collected, user=request.user, booking=booking)
        )

    @extend_schema(request=None, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        return self._respond(
            call_service(services.complete_visit, user=request.user, booking=booking)
        )

    @extend_schema(request=NoteInputSerializer, responses=BookingOutputSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, pk: str | None = None) -> Response:
        booking = self._booking(pk)
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(
            call_service(
                services.record_no_show,
                user=request.user,
                booking=booking,
                note=data.validated_data["note"],
            )
        )
