"""Read queries for the patient pages and the operations-monitoring dashboards.

All set-based: a page costs a fixed number of queries however many rows it shows, and every
figure is one GROUP BY over its table (an index-only scan on PostgreSQL where an index allows).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import BooleanField, Case, Count, Prefetch, Q, QuerySet, Value, When
from django.utils import numberformat

from cloud_management.access import (
    districts_visible_to,
    get_visible_or_404,
    institutions_visible_to,
    scope_of,
)
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
)
from cloud_management.monitoring import Figures, FigureValue, Metric

# --- Figures per institution (the registry's own monitoring providers) -----------------------


def _active_on(day: dt.date, *, start: str) -> Q:
    """Active on ``day``: started on or before it, and not ended or ended on or after it."""
    return Q(**{f"{start}__lte": day}) & (Q(ended_on__isnull=True) | Q(ended_on__gte=day))


def _counts(queryset: QuerySet[Any], field: str) -> dict[int, int]:
    # order_by() drops the models' default ordering, which would otherwise join the GROUP BY.
    rows = queryset.order_by().values(field).annotate(n=Count("pk")).values_list(field, "n")
    return dict(rows)


def residents_by_institution(day: dt.date) -> dict[int, int]:
    """Residents registered per home institution (the register has no dates: ``day`` is for
    the provider's uniform signature)."""
    return _counts(Patient.objects.all(), "home_institution_id")


def active_contracts_by_institution(day: dt.date) -> dict[int, int]:
    """Family-doctor contracts active on ``day``, per contracting institution."""
    return _counts(
        FamilyDoctorContract.objects.filter(_active_on(day, start="signed_on")), "institution_id"
    )


def active_enrolments_by_institution(
    day: dt.date, *, diabetes_type: str | None = None
) -> dict[int, int]:
    """Diabetes enrolments active on ``day`` per responsible institution, optionally of one
    diabetes type."""
    queryset = DiabetesEnrollment.objects.filter(_active_on(day, start="enrolled_on"))
    if diabetes_type is not None:
        queryset = queryset.filter(diabetes_type=diabetes_type)
    return _counts(queryset, "institution_id")


# --- The patient's own record ---------------------------------------------------------------


def _is_active_on(day: dt.date, *, start: str) -> Case:
    return Case(
        When(_active_on(day, start=start), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def patient_record(*, user: Any, patient_id: int, day: dt.date) -> Patient:
    """The resident's record with ``contract_list`` and ``enrolment_list`` (each row with
    ``is_active`` on ``day``), in three queries; 404 unless the user may see the resident."""
    contracts = (
        FamilyDoctorContract.objects.select_related("institution")
        .annotate(is_active=_is_active_on(day, start="signed_on"))
        .order_by("-signed_on", "-pk")
    )
    enrolments = (
        DiabetesEnrollment.objects.select_related("institution")
        .annotate(is_active=_is_active_on(day, start="enrolled_on"))
        .order_by("-enrolled_on", "-pk")
    )
    queryset = Patient.objects.select_related(
        "district", "home_institution__district"
    ).prefetch_related(
        Prefetch("contracts", queryset=contracts, to_attr="contract_list"),
        Prefetch("enrolments", queryset=enrolments, to_attr="enrolment_list"),
    )
    return get_visible_or_404(user, queryset, pk=patient_id)


# --- The monitoring dashboards --------------------------------------------------------------


class MonitoringAudience(StrEnum):
    """What a user's dashboard index shows."""

    DISTRICTS = "districts"  # operators and regulators: a row per district they regulate
    INSTITUTIONS = "institutions"  # staff: a row per institution where they hold a role


def monitoring_audience(user: Any) -> MonitoringAudience | None:
    """None for patients and users without a role: the dashboards do not exist for them."""
    scope = scope_of(user)
    if scope.is_operator or scope.is_regulator:
        return MonitoringAudience.DISTRICTS
    if scope.is_staff_member:
        return MonitoringAudience.INSTITUTIONS
    return None


def monitored_institutions(user: Any) -> QuerySet[Institution]:
    """The institutions whose figures the user may read.

    Operators and regulators: every institution ``access`` lets them see. Staff: only the
    institutions where they hold a role (not, say, the home institution they see as a patient).
    """
    audience = monitoring_audience(user)
    if audience is None:
        return Institution.objects.none()
    institutions = institutions_visible_to(user).select_related("district")
    if audience is MonitoringAudience.INSTITUTIONS:
        institutions = institutions.filter(pk__in=sorted(scope_of(user).institution_ids))
    return institutions.order_by("code")


def monitored_districts(user: Any) -> QuerySet[District]:
    """The districts whose summary the user may read: regulators and operators only."""
    if monitoring_audience(user) is not MonitoringAudience.DISTRICTS:
        return District.objects.none()
    return districts_visible_to(user).order_by("code")


@dataclass(frozen=True)
class FigureCell:
    metric: Metric
    display: str


@dataclass(frozen=True)
class DistrictRow:
    district: District
    institution_ids: tuple[int, ...]
    cells: list[FigureCell]

    @property
    def institution_count(self) -> int:
        return len(self.institution_ids)


@dataclass(frozen=True)
class InstitutionRow:
    institution: Institution
    cells: list[FigureCell]


def format_figure(value: FigureValue | None) -> str:
    """Digits grouped by thousands with commas (Chinese statistical tables do the same, though
    Django's zh-hans format does not group); an absent figure is an em dash."""
    if value is None:
        return "—"
    return numberformat.format(
        value, decimal_sep=".", grouping=3, thousand_sep=",", force_grouping=True
    )


def _cells(metrics: tuple[Metric, ...], values: list[FigureValue | None]) -> list[FigureCell]:
    return [
        FigureCell(metric=metric, display=format_figure(value))
        for metric, value in zip(metrics, values, strict=True)
    ]


def district_rows(
    *, districts: QuerySet[District], figures: Figures, metrics: tuple[Metric, ...]
) -> list[DistrictRow]:
    """One row per district summing its institutions' figures: two queries in all."""
    district_list = list(districts)
    institution_ids: dict[int, list[int]] = {district.pk: [] for district in district_list}
    for pk, district_id in Institution.objects.filter(district__in=district_list).values_list(
        "pk", "district_id"
    ):
        institution_ids[district_id].append(pk)
    return [
        DistrictRow(
            district=district,
            institution_ids=tuple(institution_ids[district.pk]),
            cells=_cells(
                metrics,
                [figures.total(metric, institution_ids[district.pk]) for metric in metrics],
            ),
        )
        for district in district_list
    ]


def total_cells(
    *, rows: list[DistrictRow], figures: Figures, metrics: tuple[Metric, ...]
) -> list[FigureCell]:
    """The sum over the districts shown (the city, for operators and city regulators)."""
    institution_ids = [pk for row in rows for pk in row.institution_ids]
    return _cells(metrics, [figures.total(metric, institution_ids) for metric in metrics])


def institution_rows(
    *, institutions: Iterable[Institution], figures: Figures, metrics: tuple[Metric, ...]
) -> list[InstitutionRow]:
    """One row per institution; the figures come from ``figures``, so no query per row."""
    return [
        InstitutionRow(
            institution=institution,
            cells=_cells(metrics, [figures.value(metric, institution.pk) for metric in metrics]),
        )
        for institution in institutions
    ]
