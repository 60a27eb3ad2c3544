"""Diabetes follow-ups for the small demo (ISSUE 4), appended to ``small.STEPS``.

Every diabetes patient enrolled in the year gets the year's follow-ups at the institution they
are enrolled with, as the public-health system sends them (the ``followups`` import of
CONTRACTS §1): one a quarter, mostly at the clinic or at home, some by phone (which the
standardized-management rate does not count), a few missed, glucose and blood pressure from the
patient's own level of control (a few high enough for an urgent referral), HbA1c now and then.
Each patient's latest follow-up then sets the next date (two weeks after an uncontrolled one,
a quarter after any other, as BPHS asks), so the worklists and the quality pages have something
to show.

Running it again adds nothing: follow-ups are keyed by resident and date, and the same seed
draws the same dates.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
from pathlib import Path

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chronic_care.models import FollowUp
from cloud_management.imports.service import import_records
from cloud_management.models import DiabetesEnrollment
from healthcommunity.demo.steps import SeedContext, Step

SEED = 4_005
QUARTER_MONTHS = (2, 5, 8, 11)
MISSED_SHARE = 0.18
PHONE_SHARE = 0.12
HBA1C_SHARE = 0.35
# BPHS: the next follow-up within two weeks after an uncontrolled one, else a quarter later.
NEXT_VISIT_DAYS = 90
RECHECK_VISIT_DAYS = 14
COLUMNS = [
    "resident_id",
    "institution_code",
    "date",
    "mode",
    "fbg",
    "hba1c",
    "systolic",
    "diastolic",
    "weight_kg",
    "outcome",
]


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _rows(year: int, today: dt.date) -> list[dict[str, str]]:
    draw = random.Random(SEED + year)  # noqa: S311 - demo data, not security
    enrolments = (
        DiabetesEnrollment.objects.filter(enrolled_on__lte=dt.date(year, 12, 31))
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=dt.date(year, 1, 1)))
        .select_related("patient", "institution")
        .order_by("patient_id", "enrolled_on")
    )
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for enrolment in enrolments:
        patient = enrolment.patient
        level = draw.gauss(0, 1)
        weight = draw.gauss(68, 10)
        for month in QUARTER_MONTHS:
            day = dt.date(year, month, draw.randint(2, 27))
            if draw.random() < MISSED_SHARE or day > today or not enrolment.is_active_on(day):
                continue
            mode = (
                FollowUp.Mode.PHONE
                if draw.random() < PHONE_SHARE
                else draw.choice([FollowUp.Mode.CLINIC, FollowUp.Mode.CLINIC, FollowUp.Mode.HOME])
            )
            phone = mode == FollowUp.Mode.PHONE
            fbg = _clip(draw.gauss(7.3 + level * 1.6, 1.0), 3.2, 19.5)
            systolic = round(_clip(draw.gauss(136 + level * 8, 12), 100, 192))
            diastolic = round(_clip(draw.gauss(82 + level * 4, 8), 55, 112))
            diastolic = min(diastolic, systolic - 20)
            hba1c = (
                f"{_clip(draw.gauss(7.1 + level * 0.9, 0.5), 5.0, 13.0):.1f}"
                if draw.random() < HBA1C_SHARE
                else ""
            )
            if fbg <= 3.9:
                # Hypoglycaemia on treatment.
                outcome = FollowUp.Outcome.ADVERSE_REACTION
            elif fbg >= 7.0:
                outcome = FollowUp.Outcome.UNCONTROLLED
            elif draw.random() < 0.04:
                outcome = FollowUp.Outcome.COMPLICATION
            else:
                outcome = FollowUp.Outcome.CONTROLLED
            rows[(patient.resident_id, day.isoformat())] = {
                "resident_id": patient.resident_id,
                "institution_code": enrolment.institution.code,
                "date": day.isoformat(),
                "mode": str(mode),
                # Phone calls record what the patient measured at home, or nothing.
                "fbg": "" if phone and draw.random() < 0.5 else f"{fbg:.1f}",
                "hba1c": "" if phone else hba1c,
                "systolic": "" if phone else str(systolic),
                "diastolic": "" if phone else str(diastolic),
                "weight_kg": "" if phone else f"{weight:.1f}",
                "outcome": str(outcome),
            }
    return list(rows.values())


def seed_follow_ups(ctx: SeedContext) -> None:
    """A year of follow-ups for the diabetes patients, and the next date of each one's last."""
    today = timezone.localdate()
    rows = _rows(ctx.year, today)
    if not rows:
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "followups.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        outcome = import_records(kind="followups", path=path)
    if not outcome.written:
        raise RuntimeError("; ".join(outcome.error_lines()[:5]))
    # The next date of each patient's latest follow-up of the year.
    latest = (
        FollowUp.objects.filter(date__year=ctx.year)
        .values("patient_id")
        .annotate(last=Max("date"))
        .values_list("patient_id", "last")
    )
    planned = []
    for follow_up in FollowUp.objects.filter(
        date__year=ctx.year, patient_id__in=[patient_id for patient_id, _last in latest]
    ).only("id", "patient_id", "date", "outcome", "next_date"):
        days = (
            RECHECK_VISIT_DAYS
            if follow_up.outcome == FollowUp.Outcome.UNCONTROLLED
            else NEXT_VISIT_DAYS
        )
        follow_up.next_date = follow_up.date + dt.timedelta(days=days)
        planned.append(follow_up)
    last_dates = dict(latest)
    planned = [f for f in planned if last_dates.get(f.patient_id) == f.date]
    FollowUp.objects.bulk_update(planned, ["next_date"], batch_size=500)
    ctx.log(
        _("Follow-ups: %(rows)d imported, %(urgent)d marked for urgent referral.")
        % {
            "rows": outcome.imported,
            "urgent": FollowUp.objects.filter(
                date__year=ctx.year, needs_urgent_referral=True
            ).count(),
        }
    )


STEPS: list[Step] = [seed_follow_ups]
