"""The patient pages at ``/`` and the operations-monitoring dashboards at ``/dashboards/``.

Who sees what comes from ``cloud_management.access`` alone:
- anonymous visitors get the welcome page; every other page asks them to log in;
- a patient sees their own record and nothing else: any other record is 404;
- staff, regulators and operators landing on a patient page are sent to their part
  (``/admin/`` for staff and operators, ``/dashboards/`` for regulators);
- the dashboards show operators and city regulators every district, a district regulator their
  district, and staff the lines of their own institutions (district pages are 404 for staff);
  patients and users without a role get 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_management.access import (
    Scope,
    get_visible_or_404,
    may_see_full_resident_id,
    scope_of,
)
from cloud_management.forms import LoginForm
from cloud_management.monitoring import figures_for, registered_metrics
from cloud_management.patient_pages import patient_links, signup_page
from cloud_management.selectors import (
    MonitoringAudience,
    district_rows,
    institution_rows,
    monitored_districts,
    monitored_institutions,
    monitoring_audience,
    patient_record,
    total_cells,
)
from cloud_management.work_pages import Audience, work_links

# --- Home, login, logout --------------------------------------------------------------------


def _has_other_role(scope: Scope) -> bool:
    return scope.is_operator or scope.is_staff_member or scope.is_regulator


def home(request: HttpRequest) -> HttpResponse:
    """Welcome for visitors; a patient's own record; links to their part for everyone else."""
    if not request.user.is_authenticated:
        return render(request, "cloud_management/welcome.html", {"signup": signup_page()})
    scope = scope_of(request.user)
    if scope.is_patient and not _has_other_role(scope):
        return redirect("cloud_management:my_record")
    uses_dashboards = monitoring_audience(request.user) is not None
    context = {
        "is_patient": scope.is_patient,
        "uses_admin": scope.may_use_admin and request.user.is_staff,
        "uses_dashboards": uses_dashboards,
        "is_regulator": scope.is_regulator,
        "has_role": scope.is_patient or _has_other_role(scope),
        # The other apps' dashboards and work pages (cloud_management.work_pages).
        "dashboard_links": work_links(Audience.DASHBOARDS) if uses_dashboards else [],
        "staff_links": work_links(Audience.STAFF) if scope.may_write else [],
    }
    return render(request, "cloud_management/start.html", context)


class PatientLoginView(LoginView):
    """Log in by phone number (patients) or user name (staff, regulators)."""

    template_name = "cloud_management/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(signup=signup_page(), **kwargs)


class PatientLogoutView(LogoutView):
    """GET asks for confirmation; POST logs out and returns home with a confirmation."""

    template_name = "cloud_management/logout.html"
    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("cloud_management:home")
        return render(request, self.template_name)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.success(request, _("You have logged out. Thank you for your visit."))
        return response


# --- The patient's record -------------------------------------------------------------------


def _elsewhere(scope: Scope) -> HttpResponseRedirect:
    """Where a user who is not a patient belongs."""
    if scope.is_operator or scope.is_staff_member:
        return HttpResponseRedirect(reverse("admin:index"))
    if scope.is_regulator:
        return HttpResponseRedirect(reverse("dashboards:index"))
    return HttpResponseRedirect(reverse("cloud_management:home"))


def _render_record(request: HttpRequest, patient_id: int) -> HttpResponse:
    today = timezone.localdate()
    patient = patient_record(user=request.user, patient_id=patient_id, day=today)
    # This is the record's own detail view: the one place the whole resident ID may appear.
    resident_id = (
        patient.resident_id
        if may_see_full_resident_id(request.user, patient)
        else patient.masked_resident_id
    )
    return render(
        request,
        "cloud_management/record.html",
        {
            "patient": patient,
            "resident_id": resident_id,
            "today": today,
            "patient_links": patient_links(),
        },
    )


@login_required
def my_record(request: HttpRequest) -> HttpResponse:
    """The logged-in patient's own record, full resident ID included."""
    scope = scope_of(request.user)
    if scope.patient_id is None:
        return _elsewhere(scope)
    return _render_record(request, scope.patient_id)


@login_required
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A record by id: only ever the patient's own; anything else is 404."""
    scope = scope_of(request.user)
    if scope.patient_id is None:
        return _elsewhere(scope)
    # Patient pages show only the patient themselves, even to a patient who is also staff.
    if pk != scope.patient_id:
        raise Http404
    return _render_record(request, pk)


# --- Operations monitoring ------------------------------------------------------------------


def _audience_or_404(request: HttpRequest) -> MonitoringAudience:
    audience = monitoring_audience(request.user)
    if audience is None:
        raise Http404
    return audience


@login_required
def dashboard_index(request: HttpRequest) -> HttpResponse:
    """Districts for operators and regulators; staff get their own institutions' lines."""
    audience = _audience_or_404(request)
    figures = figures_for()
    metrics = registered_metrics()
    context: dict[str, Any] = {
        "figures": figures,
        "metrics": metrics,
        "audience": audience,
        "dashboard_links": work_links(Audience.DASHBOARDS),
    }
    if audience is MonitoringAudience.DISTRICTS:
        rows = district_rows(
            districts=monitored_districts(request.user), figures=figures, metrics=metrics
        )
        context["district_rows"] = rows
        if len(rows) > 1:
            context["totals"] = total_cells(rows=rows, figures=figures, metrics=metrics)
    else:
        context["institution_rows"] = institution_rows(
            institutions=monitored_institutions(request.user), figures=figures, metrics=metrics
        )
    return render(request, "cloud_management/dashboards/index.html", context)


@login_required
def dashboard_district(request: HttpRequest, code: str) -> HttpResponse:
    """One district's institutions, for operators and the regulators of that district."""
    audience = _audience_or_404(request)
    if audience is not MonitoringAudience.DISTRICTS:
        raise Http404
    district = get_visible_or_404(request.user, monitored_districts(request.user), code=code)
    figures = figures_for()
    metrics = registered_metrics()
    rows = institution_rows(
        institutions=monitored_institutions(request.user).filter(district=district),
        figures=figures,
        metrics=metrics,
    )
    return render(
        request,
        "cloud_management/dashboards/district.html",
        {"district": district, "institution_rows": rows, "figures": figures, "metrics": metrics},
    )


@login_required
def dashboard_institution(request: HttpRequest, code: str) -> HttpResponse:
    """Every figure of one institution."""
    audience = _audience_or_404(request)
    institution = get_visible_or_404(request.user, monitored_institutions(request.user), code=code)
    figures = figures_for()
    metrics = registered_metrics()
    (row,) = institution_rows(institutions=[institution], figures=figures, metrics=metrics)
    return render(
        request,
        "cloud_management/dashboards/institution.html",
        {
            "institution": institution,
            "row": row,
            "figures": figures,
            "show_district_link": audience is MonitoringAudience.DISTRICTS,
        },
    )
