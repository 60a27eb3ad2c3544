"""Stored quality figures (:class:`chronic_care.models.QualitySnapshot`): what the quality
dashboards read instead of running the indicator statement once per month of the trend.

Each row holds one institution's CONTRACTS §5 counts for a year as of one day, exactly what
:func:`chronic_care.indicators.indicator_figures` gives with ``through`` that day: the end of
each month of the trend, the running month's day (today when computed), and 31 December for
the year's table (the same as no ``through``). Every institution of a computation gets a row,
an empty managed population included, so a missing row means "not computed yet".

- :func:`refresh_year` recomputes a year for every institution, one statement per day, and
  drops the running month's older days; the nightly task (``chronic_care.tasks``) runs it.
- :func:`stored_quality` reads a page's figures with SQL sums, first computing (once) and
  storing whatever is missing: a fresh install, a new year or month, an invalidated row.
- :func:`invalidate_follow_ups` and :func:`invalidate_institutions` delete the rows that a new
  or changed follow-up or enrolment makes wrong (the rows as of its day or later of the
  institutions whose figures it can change); chronic care's services and the ``followups``
  import call them. Lab results are verified in cloud_exams, which may not call chronic care:
  their effect waits for the nightly recompute, and the pages say when the figures were
  computed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from chronic_care.indicators import EMPTY_FIGURES, indicator_figures, month_ends
from chronic_care.models import QualitySnapshot
from cloud_management.models import DiabetesEnrollment, Institution
from payments.formulas import IndicatorFigures

COUNTS = (
    "managed_population",
    "standardized_managed",
    "glucose_controlled",
    "hba1c_tested",
    "baseline_controlled",
)
# Patients per statement when invalidating after a large import.
INVALIDATE_CHUNK = 500
INSERT_BATCH = 1000


@dataclass(frozen=True)
class StoredQuality:
    """A page's figures: the year's (as of 31 December) per group (district or institution
    id) and pooled, the trend (one entry per month so far, dated as of the day its figures
    hold), and when the oldest of them was computed."""

    groups: dict[int, IndicatorFigures]
    total: IndicatorFigures
    trend: list[tuple[dt.date, IndicatorFigures]]
    computed_at: dt.datetime | None


def year_end(year: int) -> dt.date:
    return dt.date(year, 12, 31)


def _month_last_day(day: dt.date) -> dt.date:
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def snapshot_days(year: int, today: dt.date) -> list[dt.date]:
    """The days a year's pages show: each month end so far (today for the running month)
    and 31 December."""
    days = month_ends(year, today)
    if year_end(year) not in days:
        days.append(year_end(year))
    return days


def _figures(values: Mapping[str, Any]) -> IndicatorFigures:
    return IndicatorFigures(*(int(values[name] or 0) for name in COUNTS))


def compute_snapshots(
    *, year: int, days: Iterable[dt.date], institution_ids: Collection[int] | None = None
) -> int:
    """Compute the figures of the institutions (None: every institution) as of each day and
    store them, replacing any stored for those days; one indicator statement per day.
    Returns the number of rows written."""
    if institution_ids is None:
        ids = list(Institution.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(set(institution_ids))
    written = 0
    for day in days:
        if day.year != year:
            raise ValueError("Every day must fall in the year.")
        figures = indicator_figures(
            year=year, institution_ids=None if institution_ids is None else ids, through=day
        )
        now = timezone.now()
        rows = [
            QualitySnapshot(
                institution_id=pk,
                year=year,
                as_of=day,
                computed_at=now,
                **{name: getattr(figures.get(pk, EMPTY_FIGURES), name) for name in COUNTS},
            )
            for pk in ids
        ]
        with transaction.atomic():
            stale = QualitySnapshot.objects.filter(year=year, as_of=day)
            if institution_ids is not None:
                stale = stale.filter(institution_id__in=ids)
            stale.delete()
            # A page filling the same gap at the same moment computed the same figures.
            QualitySnapshot.objects.bulk_create(
                rows, batch_size=INSERT_BATCH, ignore_conflicts=True
            )
        written += len(rows)
    return written


def refresh_year(*, year: int, today: dt.date) -> int:
    """Recompute every institution's figures of ``year`` for the pages (each ended month,
    the running month to ``today``, the whole year) and drop the year's other days (the
    running month's earlier days). Returns the number of rows written."""
    days = snapshot_days(year, today if today.year == year else year_end(year))
    written = compute_snapshots(year=year, days=days)
    QualitySnapshot.objects.filter(year=year).exclude(as_of__in=days).delete()
    return written


def stored_quality(
    *, year: int, today: dt.date, institution_ids: Sequence[int], by_district: bool
) -> StoredQuality:
    """The figures of the institutions for a page: the year's per district (``by_district``)
    or per institution, and the monthly trend, pooled with SQL sums from the stored rows.
    ``today`` is the last day the trend reaches (31 December for a past year). Three queries
    when everything is stored; a missing row is computed once (for the institutions lacking
    it) and stored."""
    ids = sorted(set(institution_ids))
    ends = month_ends(year, today)
    if not ids:
        return StoredQuality({}, EMPTY_FIGURES, [(end, EMPTY_FIGURES) for end in ends], None)
    scope = QualitySnapshot.objects.filter(year=year, institution_id__in=ids)
    closing = year_end(year)
    ended = [end for end in ends if end == _month_last_day(end)]
    running = ends[-1] if ends and ends[-1] not in ended else None
    wanted = Q(as_of__in=[*ended, closing])
    if running is not None:
        wanted |= Q(as_of__gte=running.replace(day=1), as_of__lte=running)
    present = dict(
        scope.filter(wanted).values("as_of").annotate(n=Count("id")).values_list("as_of", "n")
    )
    if running is not None:
        # The running month as of the newest day stored (the nightly recompute's), else today.
        stored_days = [day for day in present if running.replace(day=1) <= day <= running]
        running = max(stored_days, default=running)
    trend_days = [*ended, running] if running is not None else ended
    days = list(dict.fromkeys([*trend_days, closing]))
    for day in days:
        if present.get(day, 0) < len(ids):
            have = set(scope.filter(as_of=day).values_list("institution_id", flat=True))
            compute_snapshots(
                year=year, days=[day], institution_ids=[pk for pk in ids if pk not in have]
            )
    sums = {name: Sum(name) for name in COUNTS}
    group = "institution__district_id" if by_district else "institution_id"
    groups = {
        values[group]: _figures(values)
        for values in scope.filter(as_of=closing).values(group).annotate(**sums).order_by()
    }
    per_day = {
        values["as_of"]: values
        for values in scope.filter(as_of__in=days)
        .values("as_of")
        .annotate(computed=Min("computed_at"), **sums)
        .order_by()
    }
    trend = [
        (day, _figures(per_day[day]) if day in per_day else EMPTY_FIGURES) for day in trend_days
    ]
    total = _figures(per_day[closing]) if closing in per_day else EMPTY_FIGURES
    computed = [values["computed"] for values in per_day.values()]
    return StoredQuality(groups, total, trend, min(computed, default=None))


def invalidate_institutions(institution_ids: Collection[int], since: dt.date) -> int:
    """Delete the stored figures of the institutions as of ``since`` or later (an enrolment
    changed on that day). Returns the number of rows deleted."""
    deleted, _by_model = QualitySnapshot.objects.filter(
        institution_id__in=list(institution_ids), as_of__gte=since
    ).delete()
    return deleted


def invalidate_follow_ups(events: Iterable[tuple[int, dt.date]]) -> int:
    """Delete the stored figures that follow-ups of the residents on those days (patient id,
    date) may change: as of the earliest such day of each year or later, of every institution
    where one of the residents has an enrolment running in that year (a reading counts at the
    institutions of the resident's enrolments, wherever it was taken). A few statements per
    year and 500 residents. Returns the number of rows deleted."""
    by_year: dict[int, tuple[set[int], list[dt.date]]] = defaultdict(lambda: (set(), []))
    for patient_id, day in events:
        patients, days = by_year[day.year]
        patients.add(patient_id)
        days.append(day)
    deleted = 0
    for year, (patients, days) in sorted(by_year.items()):
        ordered = sorted(patients)
        for start in range(0, len(ordered), INVALIDATE_CHUNK):
            chunk = ordered[start : start + INVALIDATE_CHUNK]
            institutions = (
                DiabetesEnrollment.objects.filter(
                    patient_id__in=chunk, enrolled_on__lte=year_end(year)
                )
                .exclude(ended_on__lt=dt.date(year, 1, 1))
                .values("institution_id")
            )
            count, _by_model = QualitySnapshot.objects.filter(
                year=year, as_of__gte=min(days), institution_id__in=institutions
            ).delete()
            deleted += count
    return deleted
