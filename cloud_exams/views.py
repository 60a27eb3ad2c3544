"""The pages cloud_exams owns: the patient's verified results (``/me/results/``), the report of
an order and the printable specimen label.

Who sees what comes from ``cloud_management.access`` and the selectors: a report shows only the
results the user may see (verified ones; the performing lab also its unverified ones), and any
order, specimen or record outside the user's scope is 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cloud_exams import selectors
from cloud_exams.labels import code128_svg
from cloud_management.access import get_visible_or_404, scope_of


@login_required
def my_results(request: HttpRequest) -> HttpResponse:
    """The logged-in patient's verified results, newest first."""
    scope = scope_of(request.user)
    if scope.patient_id is None:
        raise Http404
    results = selectors.patient_verified_results(patient_id=scope.patient_id)
    return render(request, "cloud_exams/my_results.html", {"results": results})


@login_required
def order_report(request: HttpRequest, pk: int) -> HttpResponse:
    """One order's report: every ordered item with its result where the user may see it."""
    order = get_visible_or_404(
        request.user,
        selectors.orders_visible_to(request.user).select_related(
            "patient", "ordering_institution", "performing_institution", "ordered_by"
        ),
        pk=pk,
    )
    lines = selectors.report_lines(user=request.user, order=order)
    return render(
        request,
        "cloud_exams/report.html",
        {
            "order": order,
            "lines": lines,
            "is_complete": all(
                line.result is not None and line.result.is_verified for line in lines
            ),
            "printed_at": timezone.localtime(),
        },
    )


@login_required
def specimen_label(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable label for the tube: barcode, patient, items, specimen type. Staff only."""
    scope = scope_of(request.user)
    if not (scope.is_operator or scope.is_staff_member):
        raise Http404
    specimen = get_visible_or_404(
        request.user,
        selectors.specimens_visible_to(request.user).select_related(
            "order__patient", "order__ordering_institution"
        ),
        pk=pk,
    )
    items = [line.item for line in specimen.order_items.select_related("item").order_by("id")]
    return render(
        request,
        "cloud_exams/label.html",
        {"specimen": specimen, "items": items, "barcode_svg": code128_svg(specimen.barcode)},
    )
