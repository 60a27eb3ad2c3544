"""Chronic-care pages.

``/dashboards/quality/``: the four diabetes quality indicators (CONTRACTS §5) and the quality
score for a year, by district and institution, with a monthly year-to-date trend. Who sees what
follows the settlement dashboards (``payments.dashboard_selectors``): operators and city
regulators the city, a district regulator their district (another district is 404), staff their
own institutions. The residents behind an institution's figures are shown only to its staff
who may edit its registry (never to regulators, who read figures, not identities).

``/care/``: the health managers' worklists of the user's institutions (staff only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chronic_care.indicators import (
    EMPTY_FIGURES,
    MemberIndicators,
    QualityFigures,
    member_indicators,
)
from chronic_care.snapshots import StoredQuality, stored_quality
from chronic_care.worklists import WORKLIST_PAGE_SIZE, Worklist, worklists_for_institution
from cloud_management.access import institutions_editable_by, scope_of
from cloud_management.models import District, Institution, Patient
from payments import charts
from payments.dashboard_selectors import (
    Audience,
    districts_for_dashboards,
    institutions_for_dashboards,
    settlement_audience,
)
from payments.formulas import IndicatorFigures

FIRST_YEAR = 2015
SMR_COLOUR = charts.BUDGET_COLOUR
GCR_COLOUR = charts.SPENDING_COLOUR
HTR_COLOUR = charts.PAYABLE_COLOUR
GCI_COLOUR = "#5b3f8c"
SCORE_COLOUR = "#1b1b1b"


def _share(value: Fraction | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value.numerator) / Decimal(value.denominator)


@dataclass(frozen=True)
class QualityRow:
    """One line of a quality table."""

    code: str
    name: str
    url: str
    quality: QualityFigures

    @property
    def managed(self) -> int:
        return self.quality.managed_population

    @property
    def smr(self) -> Decimal | None:
        return _share(self.quality.smr)

    @property
    def gcr(self) -> Decimal | None:
        return _share(self.quality.gcr)

    @property
    def htr(self) -> Decimal | None:
        return _share(self.quality.htr)

    @property
    def gci(self) -> Decimal | None:
        return _share(self.quality.gci)

    @property
    def score(self) -> Decimal | None:
        return self.quality.score


def _audience_or_404(request: HttpRequest) -> Audience:
    audience = settlement_audience(request.user)
    if audience is None:
        raise Http404
    return audience


def _year(request: HttpRequest) -> tuple[int, list[int]]:
    """The year asked for (``?year=``), the current one by default, and the years offered."""
    current = timezone.localdate().year
    years = list(range(current, FIRST_YEAR - 1, -1))
    text = request.GET.get("year", "")
    if not text:
        return current, years
    if not text.isdigit() or int(text) not in years:
        raise Http404
    return int(text), years


def _today_for(year: int) -> dt.date:
    today = timezone.localdate()
    return today if year == today.year else dt.date(year, 12, 31)


def _stored(*, year: int, institution_ids: list[int], by_district: bool) -> StoredQuality:
    return stored_quality(
        year=year, today=_today_for(year), institution_ids=institution_ids, by_district=by_district
    )


def _trend(stored: StoredQuality, *, year: int, chart_id: str = "quality-trend") -> dict[str, Any]:
    rows = [(end, QualityFigures(figures)) for end, figures in stored.trend]
    labels = [date_format(end, "M") for end, _figures in rows]

    def series(label: str, pick: Any, colour: str, dashed: bool = False) -> charts.Series:
        values = []
        for _end, quality in rows:
            share = _share(pick(quality))
            values.append(None if share is None else share * 100)
        return charts.Series(label, values, colour, dashed)

    chart = charts.line_chart(
        chart_id=chart_id,
        title=_("Year-to-date indicators in %(year)s, %%") % {"year": year},
        description=_(
            "At the end of each month, the indicators as they would be if the year ended that "
            "day; the table below the chart gives the same figures."
        ),
        labels=labels,
        series=[
            series("SMR", lambda q: q.smr, SMR_COLOUR),
            series("GCR", lambda q: q.gcr, GCR_COLOUR),
            series("HTR", lambda q: q.htr, HTR_COLOUR),
            series("GCI", lambda q: q.gci, GCI_COLOUR, dashed=True),
        ],
        value_format=lambda value: f"{Decimal(value):.1f}%",
    )
    return {
        "trend": [
            {"end": end, "row": QualityRow(code="", name="", url="", quality=quality)}
            for end, quality in rows
        ],
        "trend_chart": chart,
        "computed_at": stored.computed_at,
    }


def _institution_rows(
    institutions: list[Institution], figures: dict[int, IndicatorFigures], year: int
) -> list[QualityRow]:
    return [
        QualityRow(
            code=institution.code,
            name=institution.name,
            url=f"{_url('chronic_care_quality:institution', institution.code)}?year={year}",
            quality=QualityFigures(figures.get(institution.pk, EMPTY_FIGURES)),
        )
        for institution in institutions
    ]


def _url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _base_context(
    request: HttpRequest, audience: Audience, year: int, years: list[int]
) -> dict[str, Any]:
    return {"audience": audience, "year": year, "years": years}


@require_GET
@login_required
def quality_index(request: HttpRequest) -> HttpResponse:
    """The city by district, a district regulator's district, or a member of staff's
    institutions."""
    audience = _audience_or_404(request)
    year, years = _year(request)
    context = _base_context(request, audience, year, years)
    if audience == Audience.CITY:
        ids = list(Institution.objects.values_list("pk", flat=True))
        stored = _stored(year=year, institution_ids=ids, by_district=True)
        districts = District.objects.order_by("code")
        context["rows"] = [
            QualityRow(
                code=district.code,
                name=district.name,
                url=f"{_url('chronic_care_quality:district', district.code)}?year={year}",
                quality=QualityFigures(stored.groups.get(district.pk, EMPTY_FIGURES)),
            )
            for district in districts
        ]
        context["level"] = "districts"
        context["total"] = QualityRow(
            code="", name=_("City"), url="", quality=QualityFigures(stored.total)
        )
    else:
        institutions = list(institutions_for_dashboards(request.user).order_by("code"))
        ids = [institution.pk for institution in institutions]
        stored = _stored(year=year, institution_ids=ids, by_district=False)
        context["rows"] = _institution_rows(institutions, stored.groups, year)
        context["level"] = "institutions"
        if len(institutions) > 1:
            context["total"] = QualityRow(
                code="", name=_("Total"), url="", quality=QualityFigures(stored.total)
            )
    context.update(_trend(stored, year=year))
    return render(request, "chronic_care/quality_index.html", context)


@require_GET
@login_required
def quality_district(request: HttpRequest, code: str) -> HttpResponse:
    """One district's institutions, for operators, city regulators and its own regulators."""
    audience = _audience_or_404(request)
    year, years = _year(request)
    district = get_object_or_404(districts_for_dashboards(request.user), code=code)
    institutions = list(Institution.objects.filter(district=district).order_by("code"))
    ids = [institution.pk for institution in institutions]
    stored = _stored(year=year, institution_ids=ids, by_district=False)
    context = _base_context(request, audience, year, years)
    context.update(
        {
            "district": district,
            "rows": _institution_rows(institutions, stored.groups, year),
            "level": "institutions",
            "total": QualityRow(
                code=district.code,
                name=district.name,
                url="",
                quality=QualityFigures(stored.total),
            ),
        }
    )
    context.update(_trend(stored, year=year))
    return render(request, "chronic_care/quality_district.html", context)


def _may_drill_down(user: Any, institution: Institution) -> bool:
    """The residents behind the figures: staff who may edit the institution's registry and
    operators; never regulators."""
    scope = scope_of(user)
    return scope.is_operator or institution.pk in scope.editable_institution_ids


@require_GET
@login_required
def quality_institution(request: HttpRequest, code: str) -> HttpResponse:
    audience = _audience_or_404(request)
    year, years = _year(request)
    institution = get_object_or_404(
        institutions_for_dashboards(request.user).select_related("district"), code=code
    )
    stored = _stored(year=year, institution_ids=[institution.pk], by_district=False)
    context = _base_context(request, audience, year, years)
    context.update(
        {
            "institution": institution,
            "rows": [
                QualityRow(
                    code=institution.code,
                    name=institution.name,
                    url="",
                    quality=QualityFigures(stored.groups.get(institution.pk, EMPTY_FIGURES)),
                )
            ],
            "may_drill_down": _may_drill_down(request.user, institution),
            "district_visible": districts_for_dashboards(request.user)
            .filter(pk=institution.district_id)
            .exists(),
        }
    )
    context.update(_trend(stored, year=year))
    return render(request, "chronic_care/quality_institution.html", context)


DRILL_DOWN_FILTERS = {
    "all": (None, None),
    "smr_missed": ("is_standardized", False),
    "gcr_missed": ("is_controlled", False),
    "htr_missed": ("is_hba1c_tested", False),
}


@dataclass(frozen=True)
class PatientRow:
    patient: Patient
    member: MemberIndicators


@require_GET
@login_required
def quality_patients(request: HttpRequest, code: str) -> HttpResponse:
    """The managed population behind an institution's figures, for its staff only."""
    year, years = _year(request)
    institution = get_object_or_404(institutions_for_dashboards(request.user), code=code)
    if not _may_drill_down(request.user, institution):
        raise Http404
    shown = request.GET.get("show", "all")
    if shown not in DRILL_DOWN_FILTERS:
        raise Http404
    members = member_indicators(year=year, institution_ids=[institution.pk])
    attribute, wanted = DRILL_DOWN_FILTERS[shown]
    if attribute is not None:
        members = [m for m in members if getattr(m, attribute) is wanted]
    patients = Patient.objects.in_bulk([m.patient_id for m in members])
    rows = sorted(
        (PatientRow(patient=patients[m.patient_id], member=m) for m in members),
        key=lambda row: (row.patient.name, row.patient.pk),
    )
    context = {
        "institution": institution,
        "year": year,
        "years": years,
        "rows": rows,
        "shown": shown,
        "filters": [
            ("all", _("Everyone managed")),
            ("smr_missed", _("Too few follow-ups (SMR)")),
            ("gcr_missed", _("Not controlled (GCR)")),
            ("htr_missed", _("No HbA1c (HTR)")),
        ],
    }
    return render(request, "chronic_care/quality_patients.html", context)


# --- Worklists ----------------------------------------------------------------------------------


def _worklist_institutions(request: HttpRequest) -> list[Institution]:
    """Institutions whose worklists the user may open (every one for operators)."""
    return list(institutions_editable_by(request.user).order_by("code"))


@require_GET
@login_required
def care_index(request: HttpRequest) -> HttpResponse:
    """The user's institutions; straight to the worklists when there is one."""
    scope = scope_of(request.user)
    if not (scope.editable_institution_ids or scope.is_operator):
        raise Http404
    institutions = _worklist_institutions(request)
    if len(institutions) == 1:
        return redirect("chronic_care:worklists", code=institutions[0].code)
    return render(request, "chronic_care/care_index.html", {"institutions": institutions})


@require_GET
@login_required
def worklists(request: HttpRequest, code: str) -> HttpResponse:
    """One institution's worklists, for its staff."""
    # Operators may edit every institution (cloud_management.access).
    institution = get_object_or_404(institutions_editable_by(request.user), code=code)
    chosen_text = request.GET.get("list", Worklist.OVERDUE.value)
    try:
        chosen = Worklist(chosen_text)
    except ValueError:
        raise Http404 from None
    lists = worklists_for_institution(institution=institution, today=timezone.localdate())
    # A page of the list at a time: the busiest institutions have a thousand residents on one.
    page = lists.page(chosen, request.GET.get("page"), WORKLIST_PAGE_SIZE)
    context = {
        "institution": institution,
        "today": lists.today,
        "counts": lists.counts(),
        "chosen": chosen,
        "entries": page.object_list,
        "page": page,
        "page_query": urlencode({"list": chosen.value}),
    }
    return render(request, "chronic_care/worklists.html", context)
