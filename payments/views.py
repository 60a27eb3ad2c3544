"""Regulator settlement dashboards at ``/dashboards/settlements/`` (issue 3, Deliver 5, 6, 8).

Read-only pages over the latest finished run of a scheme and period: city → district →
institution, down to the members and claim lines behind an institution's line; CSV and Excel
downloads of the lines; the what-if simulation. Who sees what is decided in
``payments.dashboard_selectors`` from ``cloud_management.access.scope_of``:

- anonymous visitors are sent to the login page;
- patients and users without a role get 404 everywhere;
- operators and city regulators see everything; a district regulator sees their district, and
  another district's pages, institutions and downloads are 404;
- staff see their own institutions' lines (district pages and the what-if are 404); the members
  and claim lines behind a line only where they may edit the institution's registry.

Resident IDs are always masked here: the whole number is shown only on the record itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cloud_management.models import Institution
from payments import charts, selectors
from payments.dashboard_selectors import (
    Audience,
    ClaimCursor,
    FigureRow,
    MonthFigures,
    TrendSource,
    claim_lines_for_trace,
    claim_page,
    claim_totals,
    default_period,
    default_scheme,
    district_rows,
    districts_for_dashboards,
    finished_periods,
    get_assessment,
    indicator_rows,
    institution_row,
    institutions_for_dashboards,
    lines_for,
    may_simulate,
    may_trace,
    member_rows,
    monthly_trend,
    settlement_audience,
    sum_row,
)
from payments.exports import XLSX_CONTENT_TYPE, settlement_csv, settlement_xlsx
from payments.forms import SchemeChoiceForm, SettlementChoiceForm, WhatIfForm
from payments.formulas import PeriodError, parse_period
from payments.models import Scheme, SettlementLine, SettlementRun
from payments.whatif import (
    Parameters,
    Projection,
    Source,
    WhatIfError,
    current_parameters,
    latest_final_run,
    project,
)

PAGE_SIZE = 50


def _audience_or_404(request: HttpRequest) -> Audience:
    audience = settlement_audience(request.user)
    if audience is None:
        raise Http404
    return audience


# --- Scheme and period ------------------------------------------------------------------------


@dataclass
class Selection:
    """The scheme and period a page shows, the form that chose them, and their run."""

    form: SettlementChoiceForm
    scheme: Scheme | None = None
    period: str = ""
    run: SettlementRun | None = None
    finished: set[str] = field(default_factory=set)
    # The period asked for belonged to another year than the chosen scheme's.
    adjusted: bool = False

    @property
    def query(self) -> str:
        """``scheme=…&period=…`` for links that keep the selection."""
        if self.scheme is None:
            return ""
        return urlencode({"scheme": self.scheme.code, "period": self.period})

    @property
    def is_final(self) -> bool:
        return self.run is not None and self.run.is_final


def _selection(request: HttpRequest) -> Selection:
    code = request.GET.get("scheme", "")
    scheme = Scheme.objects.filter(code=code).first() if code else default_scheme()
    finished = finished_periods(scheme=scheme) if scheme is not None else set()
    period = request.GET.get("period", "")
    adjusted = False
    if scheme is not None:
        if not period:
            period = default_period(scheme=scheme, finished=finished)
        else:
            try:
                other_year = parse_period(period).year != scheme.year
            except PeriodError:
                other_year = False  # the form names the error
            if other_year:
                # The scheme was changed in the form: show its own default period.
                period = default_period(scheme=scheme, finished=finished)
                adjusted = True
    data = {"scheme": code or (scheme.code if scheme else ""), "period": period}
    form = SettlementChoiceForm(data, scheme=scheme, finished=finished)
    selection = Selection(form=form, finished=finished, adjusted=adjusted)
    if scheme is not None and form.is_valid():
        selection.scheme = scheme
        selection.period = period
        selection.run = selectors.get_latest_finished_run(scheme=scheme, period=period)
    elif scheme is not None:
        selection.scheme = scheme
        selection.period = period
    return selection


# --- Charts -----------------------------------------------------------------------------------


def _budget_chart(rows: list[FigureRow], *, chart_id: str, title: str) -> str:
    return charts.bar_chart(
        chart_id=chart_id,
        title=title,
        description=_("Budget and spending of each row of the table below, in CNY."),
        labels=[row.name for row in rows],
        series=[
            charts.Series(_("Budget"), [row.budget for row in rows], charts.BUDGET_COLOUR),
            charts.Series(_("Spending"), [row.spending for row in rows], charts.SPENDING_COLOUR),
        ],
    )


def _trend_chart(months: list[MonthFigures], *, year: int) -> str:
    labels = [date_format(dt.date(year, m.month, 1), "M") for m in months]
    return charts.line_chart(
        chart_id="trend",
        title=_("Monthly budget, spending and fund payable in %(year)s") % {"year": year},
        description=_(
            "One point per month, in CNY; the table below the chart gives the same figures."
        ),
        labels=labels,
        series=[
            charts.Series(
                _("Budget"), [m.budget for m in months], charts.BUDGET_COLOUR, dashed=True
            ),
            charts.Series(_("Spending"), [m.spending for m in months], charts.SPENDING_COLOUR),
            charts.Series(
                _("Fund payable"), [m.fund_payable for m in months], charts.PAYABLE_COLOUR
            ),
        ],
    )


def _trend_context(selection: Selection, institution_ids: list[int] | None) -> dict[str, Any]:
    if selection.scheme is None:
        return {}
    months = monthly_trend(scheme=selection.scheme, institution_ids=institution_ids)
    return {
        "trend": months,
        "trend_chart": _trend_chart(months, year=selection.scheme.year),
        "trend_has_computed": any(m.source == TrendSource.COMPUTED for m in months),
    }


def _scoped_ids(user: Any, audience: Audience) -> list[int] | None:
    if audience == Audience.CITY:
        return None
    return list(institutions_for_dashboards(user).values_list("pk", flat=True))


# --- Pages ------------------------------------------------------------------------------------


@require_GET
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The city (or the user's district, or their institutions): one row per district, or per
    institution for staff, with the totals, a budget/spending chart and the monthly trend."""
    audience = _audience_or_404(request)
    selection = _selection(request)
    context: dict[str, Any] = {
        "audience": audience,
        "selection": selection,
        "may_simulate": may_simulate(request.user),
    }
    if selection.run is not None:
        institutions = (
            None if audience == Audience.CITY else institutions_for_dashboards(request.user)
        )
        lines = lines_for(run=selection.run, institutions=institutions)
        if audience == Audience.INSTITUTIONS:
            rows = [institution_row(line) for line in lines]
        else:
            rows = district_rows(lines)
        context["rows"] = rows
        if len(rows) > 1:
            context["total"] = sum_row(lines, code="", name=_("Total"))
        if rows:
            context["chart"] = _budget_chart(
                rows,
                chart_id="budget",
                title=_("Budget and spending per district")
                if audience != Audience.INSTITUTIONS
                else _("Budget and spending per institution"),
            )
    context.update(_trend_context(selection, _scoped_ids(request.user, audience)))
    return render(request, "payments/dashboards/index.html", context)


@require_GET
@login_required
def district(request: HttpRequest, code: str) -> HttpResponse:
    """One district's institutions, for operators, city regulators and its own regulators."""
    audience = _audience_or_404(request)
    found = get_object_or_404(districts_for_dashboards(request.user), code=code)
    selection = _selection(request)
    institutions = institutions_for_dashboards(request.user).filter(district=found)
    context: dict[str, Any] = {
        "audience": audience,
        "selection": selection,
        "district": found,
        "may_simulate": may_simulate(request.user),
    }
    if selection.run is not None:
        lines = lines_for(run=selection.run, institutions=institutions)
        rows = [institution_row(line) for line in lines]
        context["rows"] = rows
        if len(rows) > 1:
            context["total"] = sum_row(lines, code=found.code, name=_("Total"))
        if rows:
            context["chart"] = _budget_chart(
                rows,
                chart_id="budget",
                title=_("Budget and spending per institution of %(district)s")
                % {"district": found.name},
            )
    context.update(_trend_context(selection, list(institutions.values_list("pk", flat=True))))
    return render(request, "payments/dashboards/district.html", context)


def _institution_or_404(request: HttpRequest, code: str) -> Institution:
    return get_object_or_404(
        institutions_for_dashboards(request.user).select_related("district"), code=code
    )


def _line(selection: Selection, institution: Institution) -> SettlementLine | None:
    if selection.run is None:
        return None
    return (
        SettlementLine.objects.filter(run=selection.run, institution=institution)
        .select_related("run__scheme", "institution__district")
        .first()
    )


@require_GET
@login_required
def institution(request: HttpRequest, code: str) -> HttpResponse:
    """An institution's line: every figure, the quality score and each indicator, the monthly
    trend, and links to the members and claim lines behind it."""
    audience = _audience_or_404(request)
    found = _institution_or_404(request, code)
    selection = _selection(request)
    line = _line(selection, found)
    context: dict[str, Any] = {
        "audience": audience,
        "selection": selection,
        "institution": found,
        "line": line,
        "row": institution_row(line) if line is not None else None,
        "may_trace": line is not None and may_trace(request.user, found),
        "show_district_link": audience != Audience.INSTITUTIONS,
    }
    if line is not None and selection.run is not None and selection.run.is_final:
        assessment = get_assessment(run=selection.run, institution=found)
        context["assessment"] = assessment
        if assessment is not None and assessment.managed_population > 0:
            context["indicators"] = indicator_rows(assessment=assessment, run=selection.run)
    context.update(_trend_context(selection, [found.pk]))
    return render(request, "payments/dashboards/institution.html", context)


def _traced_line(request: HttpRequest, code: str) -> tuple[Selection, Institution, SettlementLine]:
    _audience_or_404(request)
    found = _institution_or_404(request, code)
    if not may_trace(request.user, found):
        raise Http404
    selection = _selection(request)
    line = _line(selection, found)
    if line is None:
        raise Http404
    return selection, found, line


def _page(request: HttpRequest, paginator: Paginator) -> Page:
    return paginator.get_page(request.GET.get("page"))


@require_GET
@login_required
def members(request: HttpRequest, code: str) -> HttpResponse:
    """The enrolments or contracts whose covered days make up the line's member days."""
    selection, found, line = _traced_line(request, code)
    memberships = selectors.memberships_behind_line(line=line)
    page = _page(request, Paginator(memberships, PAGE_SIZE))
    run = line.run
    return render(
        request,
        "payments/dashboards/members.html",
        {
            "selection": selection,
            "institution": found,
            "line": line,
            "page": page,
            "rows": member_rows(page.object_list, run=run),
            "is_per_disease": run.parameters.get("kind") == Scheme.Kind.PER_DISEASE,
        },
    )


@require_GET
@login_required
def claims(request: HttpRequest, code: str) -> HttpResponse:
    """The claim lines whose fund-paid amounts sum to the line's spending, page by page in
    (service date, id) order; ``after`` is where a page starts (``ClaimCursor``).

    The page shows the count and spending the run recorded and does not recount them: at city
    scale that is a pass over tens of thousands of lines. ``verify=1`` recounts them from the
    ledger and says whether it still gives the run's figures.
    """
    selection, found, line = _traced_line(request, code)
    after_text = request.GET.get("after", "")
    try:
        after = ClaimCursor.parse(after_text) if after_text else None
    except ValueError:
        return HttpResponseBadRequest(
            _("after: %(value)s is not a position in the claim lines (date.id).")
            % {"value": after_text},
            content_type="text/plain; charset=utf-8",
        )
    page = claim_page(line=line, after=after, size=PAGE_SIZE)
    context: dict[str, Any] = {
        "selection": selection,
        "institution": found,
        "line": line,
        "page": page,
        "verified": False,
    }
    if request.GET.get("verify") == "1":
        count, paid = claim_totals(claim_lines_for_trace(line=line))
        context.update(
            verified=True,
            count=count,
            paid=paid,
            matches_run=count == line.claim_lines and paid == line.spending,
        )
    return render(request, "payments/dashboards/claims.html", context)


# --- Downloads --------------------------------------------------------------------------------


def _download_lines(request: HttpRequest) -> tuple[Selection, list[SettlementLine], str]:
    _audience_or_404(request)
    selection = _selection(request)
    if selection.run is None or selection.scheme is None:
        raise Http404
    institutions = institutions_for_dashboards(request.user)
    name = f"settlement-{selection.scheme.code}-{selection.period}"
    district_code = request.GET.get("district")
    if district_code:
        found = get_object_or_404(districts_for_dashboards(request.user), code=district_code)
        institutions = institutions.filter(district=found)
        name += f"-{found.code}"
    lines = list(
        selectors.list_settlement_lines(run=selection.run).filter(
            institution__in=institutions.values("pk")
        )
    )
    return selection, lines, name


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def download_csv(request: HttpRequest) -> HttpResponse:
    """The visible lines of the run as CSV (CONTRACTS §4 columns, UTF-8 with BOM)."""
    _chosen, lines, name = _download_lines(request)
    response = HttpResponse(settlement_csv(lines), content_type="text/csv; charset=utf-8")
    return _attachment(response, f"{name}.csv")


@require_GET
@login_required
def download_xlsx(request: HttpRequest) -> HttpResponse:
    """The visible lines of the run as an Excel workbook (CONTRACTS §4 columns)."""
    selection, lines, name = _download_lines(request)
    response = HttpResponse(
        settlement_xlsx(lines, title=selection.period), content_type=XLSX_CONTENT_TYPE
    )
    return _attachment(response, f"{name}.xlsx")


# --- What-if ----------------------------------------------------------------------------------


@require_GET
@login_required
def what_if(request: HttpRequest) -> HttpResponse:
    """Change the annual rate or the tiers of a scheme's year and see each institution's
    projected fund payable beside the current one. Nothing is written."""
    if not may_simulate(request.user):
        raise Http404
    audience = _audience_or_404(request)
    code = request.GET.get("scheme", "")
    scheme = Scheme.objects.filter(code=code).first() if code else default_scheme()
    choice = SchemeChoiceForm({"scheme": code or (scheme.code if scheme else "")})
    context: dict[str, Any] = {"choice": choice, "audience": audience, "scheme": scheme}
    if scheme is None or not choice.is_valid():
        return render(request, "payments/dashboards/what_if.html", context)
    run = latest_final_run(scheme=scheme)
    current = current_parameters(scheme=scheme, run=run)
    context["run"] = run
    context["current"] = current
    institution_ids = _scoped_ids(request.user, audience)
    projection: Projection | None = None
    if "annual_rate" in request.GET:
        form = WhatIfForm(request.GET)
        if form.is_valid():
            try:
                projection = project(
                    scheme=scheme,
                    parameters=Parameters(form.cleaned_data["annual_rate"], form.tiers()),
                    source=Source(form.cleaned_data["source"]),
                    institution_ids=institution_ids,
                )
            except WhatIfError as exc:
                form.add_error(None, str(exc))
    else:
        source = Source.RUN if run is not None else Source.LEDGER
        form = WhatIfForm(
            initial=WhatIfForm.initial_for(
                scheme=scheme,
                annual_rate=current.annual_rate,
                tiers=current.tiers,
                source=source.value,
            )
        )
        if run is not None:
            # The recorded figures cost one query: show them at once, projected = current.
            projection = project(
                scheme=scheme, parameters=current, source=source, institution_ids=institution_ids
            )
    context["form"] = form
    context["projection"] = projection
    return render(request, "payments/dashboards/what_if.html", context)
