"""The page cloud_pharmacy owns: the patient's prescriptions, their review outcome and where
each one is in its circulation (``/me/prescriptions/``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cloud_management.access import scope_of
from cloud_pharmacy import selectors


@login_required
def my_prescriptions(request: HttpRequest) -> HttpResponse:
    """The logged-in patient's prescriptions, newest first, with their status timeline."""
    scope = scope_of(request.user)
    if scope.patient_id is None:
        raise Http404
    prescriptions = selectors.patient_prescriptions(patient_id=scope.patient_id)
    return render(request, "cloud_pharmacy/my_prescriptions.html", {"prescriptions": prescriptions})
