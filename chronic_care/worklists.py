"""Health managers' worklists for one institution, on one day: three queries however many
enrolees the institution has.

The lists, over the residents whose enrolment at the institution runs on the day:

- **follow-up overdue**, by CONTRACTS §5 pro-rated to the day. §5 asks for
  ceil(4 × covered_days / days_in_year) counting follow-ups (face to face, with a fasting
  glucose, on distinct covered days) over a year. Applied to the year so far, each full quarter
  of a year's days (days_in_year / 4 covered days) owes one: a resident is overdue when their
  counting follow-ups this year are fewer than floor(4 × covered_days_so_far / days_in_year).
  The ceiling of §5 would make every enrolee overdue on the first day of each year and of each
  enrolment; the floor only asks for a follow-up once its quarter has passed. At the year's end
  the two agree except for a partial last quarter, which the "due this week" list announces.
- **due this week**: not overdue, but a quarter closes within the next seven days without
  enough follow-ups, or the latest follow-up set its next date in those seven days (today
  included).
- **uncontrolled**: the latest fasting glucose of the past year (follow-ups and verified lab
  results together; the latest date wins, on one date the highest value) is 7.0 mmol/L or more.
- **no HbA1c this year**: no HbA1c value (follow-up or lab) on a covered day this year.
- **recheck due**: the latest fasting glucose is 7.0 or more and was taken in the past 14
  days: a recheck is due within two weeks of it, by ``recheck_due``.

The busiest institutions have nearly two thousand enrolees and the page shows a hundred, so the
lists are decided from plain rows (no model instance per enrolee) and only the entries shown
get their enrolment, resident and health manager, by :meth:`Worklists.with_details` (one more
query).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from chronic_care.indicators import _to_date, _to_decimal, member_indicators
from chronic_care.models import FollowUp
from chronic_care.selectors import Kind, measurements
from cloud_management.models import DiabetesEnrollment, Institution, Patient
from payments.formulas import FBG_CONTROLLED_BELOW, FOLLOW_UPS_PER_YEAR, days_in_year

RECHECK_WITHIN_DAYS = 14
# What the worklist table shows of an enrolment, its resident and its health manager.
DETAIL_COLUMNS = (
    "patient_id", "institution_id", "health_manager_id", "enrolled_on", "ended_on",
    "patient__name", "patient__resident_id", "patient__phone", "patient__birth_date",
    "patient__sex", "health_manager__username", "health_manager__first_name",
    "health_manager__last_name",
)  # fmt: skip
DUE_SOON_DAYS = 7
# Entries per page of a list (the page and the admin).
WORKLIST_PAGE_SIZE = 100
# How far back the latest fasting glucose is looked for.
LATEST_FBG_LOOKBACK_DAYS = 366


class Worklist(StrEnum):
    OVERDUE = "overdue"
    DUE_THIS_WEEK = "due"
    UNCONTROLLED = "uncontrolled"
    NO_HBA1C = "no_hba1c"
    RECHECK = "recheck"

    @property
    def label(self) -> str:
        return str(WORKLIST_LABELS[self])


WORKLIST_LABELS = {
    Worklist.OVERDUE: _("Follow-up overdue"),
    Worklist.DUE_THIS_WEEK: _("Follow-up due this week"),
    Worklist.UNCONTROLLED: _("Glucose uncontrolled"),
    Worklist.NO_HBA1C: _("No HbA1c this year"),
    Worklist.RECHECK: _("Recheck due after an uncontrolled result"),
}


@dataclass(frozen=True)
class Entry:
    """One enrolee on the worklists, with what put them there. ``enrolment`` (with its
    resident and health manager) is loaded only for the entries shown: see
    :meth:`Worklists.with_details`."""

    enrolment_id: int
    patient_id: int
    patient_name: str
    covered_days: int
    counted_follow_ups: int
    owed_follow_ups: int
    last_follow_up_on: dt.date | None
    next_date: dt.date | None
    latest_fbg: Decimal | None
    latest_fbg_on: dt.date | None
    latest_hba1c_on: dt.date | None
    lists: frozenset[Worklist]
    enrolment: DiabetesEnrollment | None = None

    @property
    def patient(self) -> Patient:
        if self.enrolment is None:
            raise LookupError("Load the entry's enrolment first: Worklists.with_details().")
        return self.enrolment.patient

    @property
    def recheck_due(self) -> dt.date | None:
        if Worklist.RECHECK not in self.lists or self.latest_fbg_on is None:
            return None
        return self.latest_fbg_on + dt.timedelta(days=RECHECK_WITHIN_DAYS)


@dataclass
class Worklists:
    institution: Institution
    today: dt.date
    entries: list[Entry] = field(default_factory=list)

    def of(self, worklist: Worklist) -> list[Entry]:
        """The entries on ``worklist``, by name (the recheck list by its due date), without
        their details."""
        chosen = [entry for entry in self.entries if worklist in entry.lists]
        if worklist == Worklist.RECHECK:
            chosen.sort(key=lambda entry: (entry.recheck_due or dt.date.max, entry.patient_id))
        return chosen

    def counts(self) -> dict[Worklist, int]:
        counts = dict.fromkeys(Worklist, 0)
        for entry in self.entries:
            for worklist in entry.lists:
                counts[worklist] += 1
        return counts

    def with_details(self, entries: Sequence[Entry]) -> list[Entry]:
        """``entries`` with their enrolment, resident and health manager: one query."""
        enrolments = (
            DiabetesEnrollment.objects.select_related("patient", "health_manager")
            .only(*DETAIL_COLUMNS)
            .in_bulk([entry.enrolment_id for entry in entries])
        )
        return [replace(entry, enrolment=enrolments[entry.enrolment_id]) for entry in entries]

    def page(self, worklist: Worklist, number: str | int | None, per_page: int) -> Page[Entry]:
        """One page of ``worklist`` (``Paginator.get_page`` semantics), its entries with
        their details."""
        page = Paginator(self.of(worklist), per_page).get_page(number)
        page.object_list = self.with_details(list(page.object_list))
        return page


def owed_follow_ups(covered_days: int, year_days: int) -> int:
    """Counting follow-ups owed after ``covered_days`` covered days of a year: one for each
    full quarter of the year's days (the module docstring)."""
    return math.floor(FOLLOW_UPS_PER_YEAR * covered_days / year_days)


def _running_enrolments(institution: Institution, today: dt.date) -> QuerySet[DiabetesEnrollment]:
    return DiabetesEnrollment.objects.filter(
        institution=institution, enrolled_on__lte=today
    ).exclude(ended_on__lt=today)


def _latest_fbg_by_patient(
    residents: QuerySet[Any], today: dt.date
) -> dict[int, tuple[dt.date | None, Decimal | None]]:
    """The latest fasting glucose (date, value) of each of ``residents`` (a queryset of
    patient ids): one query, one row per resident (the measurements ranked newest first, on
    one date the highest value)."""
    readings_sql, params = (
        measurements(
            kinds=[Kind.FBG],
            patients=residents,
            date_from=today - dt.timedelta(days=LATEST_FBG_LOOKBACK_DAYS),
            date_to=today,
        )
        .query.get_compiler(connection=connection)
        .as_sql()
    )
    sql = f"""
SELECT subject, measured_on, reading FROM (
    SELECT r.subject, r.measured_on, r.reading,
           ROW_NUMBER() OVER (
               PARTITION BY r.subject ORDER BY r.measured_on DESC, r.reading DESC
           ) AS position
    FROM ({readings_sql}) r
) ranked
WHERE position = 1
"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        subject: (_to_date(measured_on), _to_decimal(reading))
        for subject, measured_on, reading in rows
    }


def worklists_for_institution(*, institution: Institution, today: dt.date) -> Worklists:
    """The worklists of ``institution`` on ``today`` (three queries; the entries come
    without their details)."""
    latest_follow_up = FollowUp.objects.filter(
        patient_id=OuterRef("patient_id"), date__lte=today
    ).order_by("-date")
    running = _running_enrolments(institution, today)
    enrolments = list(
        running.annotate(
            last_follow_up_on=Subquery(latest_follow_up.values("date")[:1]),
            planned_next_date=Subquery(latest_follow_up.values("next_date")[:1]),
        )
        .order_by("patient__name", "patient_id")
        .values_list(
            "pk",
            "patient_id",
            "patient__name",
            "ended_on",
            "last_follow_up_on",
            "planned_next_date",
        )
    )
    members = {
        row.patient_id: row
        for row in member_indicators(
            year=today.year, institution_ids=[institution.pk], through=today, min_days=1
        )
    }
    latest_fbg = _latest_fbg_by_patient(running.values("patient_id"), today)
    year_days = days_in_year(today.year)
    year_end = dt.date(today.year, 12, 31)
    week_end = min(today + dt.timedelta(days=DUE_SOON_DAYS - 1), year_end)
    result = Worklists(institution=institution, today=today)
    for pk, patient_id, name, ended_on, last_follow_up_on, next_date in enrolments:
        member = members.get(patient_id)
        covered = member.covered_days if member else 0
        counted = member.counted_follow_ups if member else 0
        hba1c_on = member.latest_hba1c_on if member else None
        owed = owed_follow_ups(covered, year_days)
        last_day = week_end if ended_on is None else min(week_end, ended_on)
        covered_by_week_end = covered + max(0, (last_day - today).days)
        fbg_on, fbg = latest_fbg.get(patient_id, (None, None))
        lists: set[Worklist] = set()
        if counted < owed:
            lists.add(Worklist.OVERDUE)
        elif counted < owed_follow_ups(covered_by_week_end, year_days) or (
            next_date is not None and today <= next_date <= week_end
        ):
            lists.add(Worklist.DUE_THIS_WEEK)
        if fbg is not None and fbg >= FBG_CONTROLLED_BELOW:
            lists.add(Worklist.UNCONTROLLED)
            if fbg_on is not None and (today - fbg_on).days <= RECHECK_WITHIN_DAYS:
                lists.add(Worklist.RECHECK)
        if hba1c_on is None:
            lists.add(Worklist.NO_HBA1C)
        result.entries.append(
            Entry(
                enrolment_id=pk,
                patient_id=patient_id,
                patient_name=name,
                covered_days=covered,
                counted_follow_ups=counted,
                owed_follow_ups=owed,
                last_follow_up_on=last_follow_up_on,
                next_date=next_date,
                latest_fbg=fbg,
                latest_fbg_on=fbg_on,
                latest_hba1c_on=hba1c_on,
                lists=frozenset(lists),
            )
        )
    return result
