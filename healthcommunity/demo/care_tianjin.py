"""Diabetes follow-ups and verified lab results for the full-scale demo (ISSUE 4), appended to
``tianjin.STEPS``.

For every diabetes enrolment that runs in the year (about 220,000), up to today:

- **Follow-ups** by the BPHS rhythm: one a quarter at the enrolment's institution, recorded by
  its health manager, about one in fourteen missed; mostly at the clinic or at home, some by phone
  or online (which the standardized-management rate does not count). Fasting glucose is
  log-normal around 7.3 mmol/L, each resident with their own level of control; an
  uncontrolled result is mostly followed by a recheck within two weeks (BPHS), so the year
  holds about five follow-ups per enrolee (about 1.1 million). Blood pressure, weight, height,
  adherence and symptoms come with them, the urgent ones referred, and every follow-up plans
  the next one (two weeks after an uncontrolled one, a quarter after any other).
- **Lab results** (about 300,000), imported from the institutions' lab systems and verified by
  a second person: HbA1c once or twice a year for about three in four residents, a venous
  fasting glucose for about a quarter (drawn with the HbA1c), creatinine for about one in ten.
  Critical values raise a critical-value alert, acknowledged by the resident's doctor unless
  it is from the past three days.

Both are generated from one seeded stream over the enrolments ordered by patient, so the same
registry gives the same rows. On PostgreSQL they are streamed with COPY into the empty tables
with their indexes deferred (``healthcommunity.demo.bulk``); elsewhere ``bulk_create`` writes
the same rows. The step writes nothing when the year already has follow-ups or imported
results (the tianjin scale seeds a fresh database).
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from chronic_care.models import (
    URGENT_FBG_HIGH,
    URGENT_FBG_LOW,
    FollowUp,
    needs_urgent_referral,
)
from cloud_exams import reference_ranges
from cloud_exams.models import CriticalValueAlert, ExamItem, ExamResult, ReferenceRange
from cloud_management.models import DiabetesEnrollment, Institution
from healthcommunity.demo.bulk import _copy, _text, indexes_deferred
from healthcommunity.demo.exams import _verifier
from healthcommunity.demo.steps import SeedContext, Step

SEED = 4_100
CHUNK = 100_000

# Follow-ups.
QUARTERS = ((1, 3), (4, 6), (7, 9), (10, 12))
MISSED_SHARE = 0.07
RECHECK_SHARE = 0.92
RECHECK_DAYS = (7, 14)
# BPHS: the next follow-up within two weeks after an uncontrolled one, else a quarter later.
NEXT_VISIT_DAYS = 90
RECHECK_VISIT_DAYS = 14
# (mode, weight) of a quarter's follow-up; a recheck is face to face.
MODES = (
    (FollowUp.Mode.CLINIC, 0.56),
    (FollowUp.Mode.HOME, 0.24),
    (FollowUp.Mode.PHONE, 0.15),
    (FollowUp.Mode.ONLINE, 0.05),
)
# Fasting glucose: log-normal, the resident's median exp(FBG_LOG_MEDIAN + FBG_PATIENT_SPREAD × z)
# with z standard normal per resident, and FBG_VISIT_SPREAD from one reading to the next.
FBG_LOG_MEDIAN = math.log(7.3)
FBG_PATIENT_SPREAD = 0.22
FBG_VISIT_SPREAD = 0.13
FBG_CONTROLLED_BELOW = 7.0
# HbA1c tracks the resident's level of glucose control.
HBA1C_LOG_MEDIAN = math.log(7.2)
HBA1C_PATIENT_SPREAD = 0.15
HBA1C_VISIT_SPREAD = 0.05
# Lab results: shares of the residents, and of those tested, the share tested twice.
HBA1C_TESTED_SHARE = 0.74
HBA1C_TWICE_SHARE = 0.50
LAB_FBG_SHARE = 0.28
CREATININE_SHARE = 0.10
SYMPTOMS = tuple(FollowUp.Symptom.values)
ADHERENCE = (
    FollowUp.Adherence.REGULAR.value,
    FollowUp.Adherence.INTERMITTENT.value,
    FollowUp.Adherence.NONE.value,
)
ADHERENCE_WEIGHTS = (0.76, 0.19, 0.05)
ALERT_OPEN_DAYS = 3
REFERRAL_TO = "天津医科大学朱宪彝纪念医院（内分泌科）"
ACTION_TAKEN = "已电话通知患者，当日到院复查并调整治疗"

_FOLLOW_UP_FIELDS = (
    "patient", "institution", "date", "mode", "symptoms", "fbg", "hba1c", "systolic",
    "diastolic", "weight_kg", "height_cm", "medication_adherence", "outcome", "next_date",
    "is_referred", "referral_to", "referral_reason", "recorded_by",
)  # fmt: skip
_RESULT_FIELDS = (
    "id", "entry_key", "patient", "item", "ordering_institution", "performing_institution",
    "collected_on", "value", "value_text", "unit", "flag", "reference_text", "origin",
    "entered_at", "verified_by", "verified_at",
)  # fmt: skip


def _today() -> dt.date:
    return timezone.localdate()


@dataclass(frozen=True)
class _Enrolment:
    patient_id: int
    resident_id: str
    sex: str
    birth_date: dt.date
    institution_id: int
    doctor_id: int | None
    manager_id: int | None
    start: dt.date  # the enrolment's days in the year up to today
    end: dt.date


@dataclass(frozen=True)
class _LabItem:
    pk: int
    code: str
    unit: str
    limits: list[reference_ranges.Limits]


@dataclass
class _Result:
    values: dict[str, Any]
    critical: bool
    doctor_id: int | None


def _enrolments(year: int, today: dt.date) -> Iterator[list[_Enrolment]]:
    """The enrolments running in the year up to ``today``, grouped by patient."""
    first = dt.date(year, 1, 1)
    last = min(dt.date(year, 12, 31), today)
    rows = (
        DiabetesEnrollment.objects.filter(enrolled_on__lte=last)
        .exclude(ended_on__lt=first)
        .order_by("patient_id", "enrolled_on")
        .values_list(
            "patient_id",
            "patient__resident_id",
            "patient__sex",
            "patient__birth_date",
            "institution_id",
            "responsible_doctor_id",
            "health_manager_id",
            "enrolled_on",
            "ended_on",
        )
    )
    enrolments = (
        _Enrolment(
            patient_id=row[0],
            resident_id=row[1],
            sex=row[2],
            birth_date=row[3],
            institution_id=row[4],
            doctor_id=row[5],
            manager_id=row[6],
            start=max(row[7], first),
            end=last if row[8] is None else min(row[8], last),
        )
        for row in rows.iterator(chunk_size=20_000)
    )
    for _patient, group in groupby(enrolments, key=lambda e: e.patient_id):
        yield list(group)


def _one_place(value: float, low: float, high: float) -> Decimal:
    return Decimal(f"{min(high, max(low, value)):.1f}")


def _random_day(draw: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=draw.randint(0, (end - start).days))


@dataclass
class _Resident:
    """What stays the same for a resident over the year."""

    fbg_log: float
    hba1c_log: float
    weight: float
    height: float
    blood_pressure: float  # standard normal: the resident's level of pressure


class _Generator:
    """One seeded stream of follow-ups and lab results, resident by resident."""

    def __init__(self, year: int, today: dt.date, items: dict[str, _LabItem]) -> None:
        self.year = year
        self.today = today
        self.items = items
        self.draw = random.Random(SEED + year)  # noqa: S311 - demo data, not security
        self.modes = [mode for mode, _weight in MODES]
        self.mode_weights = [weight for _mode, weight in MODES]
        self.zone = timezone.get_current_timezone()

    def resident(self, enrolments: Sequence[_Enrolment]) -> _Resident:
        draw = self.draw
        z = draw.gauss(0, 1)
        female = enrolments[0].sex == "F"
        height = draw.gauss(158 if female else 169, 6)
        return _Resident(
            fbg_log=FBG_LOG_MEDIAN + FBG_PATIENT_SPREAD * z,
            hba1c_log=HBA1C_LOG_MEDIAN + HBA1C_PATIENT_SPREAD * (0.8 * z + 0.6 * draw.gauss(0, 1)),
            weight=draw.gauss(62 if female else 72, 9),
            height=min(195.0, max(140.0, height)),
            blood_pressure=draw.gauss(0, 1),
        )

    # --- follow-ups -----------------------------------------------------------------------

    def follow_ups(
        self, enrolments: Sequence[_Enrolment], resident: _Resident
    ) -> list[dict[str, Any]]:
        draw = self.draw
        taken: set[dt.date] = set()
        rows: list[dict[str, Any]] = []
        for enrolment in enrolments:
            for first_month, last_month in QUARTERS:
                quarter_start = dt.date(self.year, first_month, 1)
                quarter_end = dt.date(self.year + last_month // 12, last_month % 12 + 1, 1)
                start = max(quarter_start, enrolment.start)
                end = min(quarter_end - dt.timedelta(days=1), enrolment.end)
                if start > end:
                    continue
                day = _random_day(draw, start, end)
                if draw.random() < MISSED_SHARE or day in taken:
                    continue
                mode = draw.choices(self.modes, self.mode_weights)[0]
                row = self._follow_up(enrolment, resident, day, mode)
                taken.add(day)
                rows.append(row)
                if row["outcome"] != FollowUp.Outcome.UNCONTROLLED:
                    continue
                if draw.random() >= RECHECK_SHARE:
                    continue
                recheck = day + dt.timedelta(days=draw.randint(*RECHECK_DAYS))
                if recheck > enrolment.end or recheck in taken:
                    continue
                mode = FollowUp.Mode.CLINIC if draw.random() < 0.8 else FollowUp.Mode.HOME
                taken.add(recheck)
                rows.append(self._follow_up(enrolment, resident, recheck, mode, shift=-0.06))
        return rows

    def _follow_up(
        self,
        enrolment: _Enrolment,
        resident: _Resident,
        day: dt.date,
        mode: str,
        shift: float = 0.0,
    ) -> dict[str, Any]:
        draw = self.draw
        remote = mode in {FollowUp.Mode.PHONE, FollowUp.Mode.ONLINE}
        fbg_value = math.exp(draw.gauss(resident.fbg_log + shift, FBG_VISIT_SPREAD))
        # A remote follow-up records what the resident measured at home, or nothing.
        fbg = None if remote and draw.random() < 0.5 else _one_place(fbg_value, 2.2, 33.0)
        hba1c = None
        if not remote and draw.random() < 0.05:
            hba1c = _one_place(
                math.exp(draw.gauss(resident.hba1c_log, HBA1C_VISIT_SPREAD)), 4.5, 15.0
            )
        systolic = diastolic = None
        weight = height = None
        if not remote:
            systolic = round(min(205, max(95, draw.gauss(134 + 9 * resident.blood_pressure, 11))))
            diastolic = round(min(118, max(55, draw.gauss(80 + 5 * resident.blood_pressure, 7))))
            diastolic = min(diastolic, systolic - 20)
            weight = _one_place(draw.gauss(resident.weight, 1.2), 35.0, 160.0)
            height = Decimal(f"{resident.height:.1f}")
        if fbg is not None and fbg <= URGENT_FBG_LOW:
            outcome = FollowUp.Outcome.ADVERSE_REACTION  # hypoglycaemia on treatment
        elif fbg is not None and fbg >= Decimal(FBG_CONTROLLED_BELOW):
            outcome = FollowUp.Outcome.UNCONTROLLED
        elif draw.random() < 0.03:
            outcome = FollowUp.Outcome.COMPLICATION
        else:
            outcome = FollowUp.Outcome.CONTROLLED
        symptoms = ""
        if draw.random() < 0.12:
            symptoms = draw.choice(SYMPTOMS)
        adherence = draw.choices(ADHERENCE, ADHERENCE_WEIGHTS)[0]
        urgent = needs_urgent_referral(fbg=fbg, systolic=systolic, diastolic=diastolic)
        referred = urgent and draw.random() < 0.85
        reason = ""
        if referred:
            # Data, written as the health manager writes it (in Chinese).
            reason = (
                f"空腹血糖 {fbg} mmol/L"
                if fbg is not None and (fbg >= URGENT_FBG_HIGH or fbg <= URGENT_FBG_LOW)
                else f"血压 {systolic}/{diastolic} mmHg"
            )
        next_days = (
            RECHECK_VISIT_DAYS if outcome == FollowUp.Outcome.UNCONTROLLED else NEXT_VISIT_DAYS
        )
        return {
            "patient": enrolment.patient_id,
            "institution": enrolment.institution_id,
            "date": day,
            "mode": str(mode),
            "symptoms": symptoms,
            "fbg": fbg,
            "hba1c": hba1c,
            "systolic": systolic,
            "diastolic": diastolic,
            "weight_kg": weight,
            "height_cm": height,
            "medication_adherence": adherence,
            "outcome": str(outcome),
            "next_date": day + dt.timedelta(days=next_days),
            "is_referred": referred,
            "referral_to": REFERRAL_TO if referred else "",
            "referral_reason": reason,
            "recorded_by": enrolment.manager_id,
        }

    # --- lab results ----------------------------------------------------------------------

    def results(
        self, enrolments: Sequence[_Enrolment], resident: _Resident, verifiers: dict[int, int]
    ) -> list[_Result]:
        """Results at the resident's latest enrolment of the year, on its days."""
        draw = self.draw
        enrolment = enrolments[-1]
        start, end = enrolment.start, enrolment.end
        days: list[dt.date] = []
        if draw.random() < HBA1C_TESTED_SHARE:
            if draw.random() < HBA1C_TWICE_SHARE and (end - start).days >= 120:
                middle = start + (end - start) / 2
                days = [
                    _random_day(draw, start, middle),
                    _random_day(draw, middle + dt.timedelta(days=1), end),
                ]
            else:
                days = [_random_day(draw, start, end)]
        results = []
        for day in days:
            value = math.exp(draw.gauss(resident.hba1c_log, HBA1C_VISIT_SPREAD))
            results.append(
                self._result(enrolment, "HBA1C", day, _one_place(value, 4.5, 15.0), verifiers)
            )
        fbg_day = days[0] if days else _random_day(draw, start, end)
        if draw.random() < LAB_FBG_SHARE:
            fbg = math.exp(draw.gauss(resident.fbg_log, FBG_VISIT_SPREAD))
            results.append(
                self._result(enrolment, "FBG", fbg_day, _one_place(fbg, 2.2, 33.0), verifiers)
            )
        if draw.random() < CREATININE_SHARE:
            mean = 68 if enrolment.sex == "F" else 84
            creatinine = round(min(400.0, max(35.0, draw.lognormvariate(math.log(mean), 0.22))))
            results.append(self._result(enrolment, "CREA", fbg_day, Decimal(creatinine), verifiers))
        return results

    def _result(
        self,
        enrolment: _Enrolment,
        code: str,
        day: dt.date,
        value: Decimal,
        verifiers: dict[int, int],
    ) -> _Result:
        draw = self.draw
        item = self.items[code]
        age = reference_ranges.age_in_years(enrolment.birth_date, day)
        limits = reference_ranges.applicable_limits(item.limits, sex=enrolment.sex, age_years=age)
        flag = reference_ranges.flag_for(value, limits)
        entered = dt.datetime.combine(
            day, dt.time(draw.randint(9, 15), draw.randint(0, 59)), tzinfo=self.zone
        )
        verified = entered + dt.timedelta(minutes=draw.randint(20, 240))
        values = {
            "entry_key": f"import:{enrolment.resident_id}:{code}:{day.isoformat()}",
            "patient": enrolment.patient_id,
            "item": item.pk,
            "ordering_institution": enrolment.institution_id,
            "performing_institution": enrolment.institution_id,
            "collected_on": day,
            "value": value,
            "value_text": "",
            "unit": item.unit,
            "flag": flag,
            "reference_text": limits.describe() if limits else "",
            "origin": ExamResult.Origin.IMPORTED.value,
            "entered_at": entered,
            "verified_by": verifiers[enrolment.institution_id],
            "verified_at": verified,
        }
        critical = flag in {reference_ranges.CRITICAL_LOW, reference_ranges.CRITICAL_HIGH}
        return _Result(values=values, critical=critical, doctor_id=enrolment.doctor_id)


def _lab_items() -> dict[str, _LabItem]:
    codes = ["HBA1C", "FBG", "CREA"]
    items = {item.code: item for item in ExamItem.objects.filter(code__in=codes)}
    missing = sorted(set(codes) - set(items))
    if missing:
        raise RuntimeError(f"Exam items {', '.join(missing)} are missing: run migrate first.")
    limits: dict[int, list[reference_ranges.Limits]] = {item.pk: [] for item in items.values()}
    for r in ReferenceRange.objects.filter(item__code__in=codes):
        limits[r.item_id].append(
            reference_ranges.Limits(
                sex=r.sex,
                age_from_years=r.age_from_years,
                age_to_years=r.age_to_years,
                low=r.low,
                high=r.high,
                critical_low=r.critical_low,
                critical_high=r.critical_high,
            )
        )
    return {
        code: _LabItem(pk=item.pk, code=code, unit=item.unit, limits=limits[item.pk])
        for code, item in items.items()
    }


def _verifiers(enrolments: Iterable[int]) -> dict[int, int]:
    """The lab technician who verifies each institution's results (healthcommunity.demo.exams)."""
    return {
        institution.pk: _verifier(institution).pk
        for institution in Institution.objects.filter(pk__in=set(enrolments)).order_by("pk")
    }


# --- writing ------------------------------------------------------------------------------


def _reserve_ids(model: type[ExamResult], count: int) -> int:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [sequence])
        (first,) = cursor.fetchone()
        if count > 1:
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return int(first)


def _copy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return _text(value)


def _write_follow_ups(rows: Sequence[dict[str, Any]], use_copy: bool) -> None:
    if use_copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_value(row[name]) for name in _FOLLOW_UP_FIELDS) + "\n")
        _copy(FollowUp, _FOLLOW_UP_FIELDS, buffer)
        return
    FollowUp.objects.bulk_create(
        [FollowUp(**{_attname(name): value for name, value in row.items()}) for row in rows],
        batch_size=2000,
    )


def _attname(name: str) -> str:
    return f"{name}_id" if name in _FOREIGN_KEYS else name


_FOREIGN_KEYS = frozenset(
    {"patient", "institution", "recorded_by", "item", "ordering_institution",
     "performing_institution", "verified_by"}
)  # fmt: skip


def _write_results(results: Sequence[_Result], use_copy: bool) -> list[tuple[int, _Result]]:
    """Write the results; their ids, for the alerts."""
    if not results:
        return []
    if use_copy:
        first = _reserve_ids(ExamResult, len(results))
        buffer = io.StringIO()
        for offset, result in enumerate(results):
            values = {"id": first + offset, **result.values}
            buffer.write("\t".join(_copy_value(values[name]) for name in _RESULT_FIELDS) + "\n")
        _copy(ExamResult, _RESULT_FIELDS, buffer)
        return [(first + offset, result) for offset, result in enumerate(results)]
    objects = [
        ExamResult(**{_attname(name): value for name, value in result.values.items()})
        for result in results
    ]
    ExamResult.objects.bulk_create(objects, batch_size=2000)
    return [(obj.pk, result) for obj, result in zip(objects, results, strict=True)]


def _alerts(written: Iterable[tuple[int, _Result]], today: dt.date) -> list[CriticalValueAlert]:
    alerts = []
    for pk, result in written:
        if not result.critical:
            continue
        verified_at = result.values["verified_at"]
        acknowledged = (
            result.doctor_id is not None
            and (today - result.values["collected_on"]).days > ALERT_OPEN_DAYS
        )
        alerts.append(
            CriticalValueAlert(
                result_id=pk,
                institution_id=result.values["ordering_institution"],
                raised_at=verified_at,
                acknowledged_by_id=result.doctor_id if acknowledged else None,
                acknowledged_at=verified_at + dt.timedelta(minutes=35) if acknowledged else None,
                action_taken=ACTION_TAKEN if acknowledged else "",
            )
        )
    return alerts


def seed_care_history(ctx: SeedContext) -> None:
    """The year's follow-ups and verified lab results of every diabetes enrolee."""
    year, today = ctx.year, _today()
    if today < dt.date(year, 1, 1):
        return
    if (
        FollowUp.objects.filter(date__year=year).exists()
        or ExamResult.objects.filter(
            origin=ExamResult.Origin.IMPORTED, collected_on__year=year
        ).exists()
    ):
        ctx.log(_("Follow-ups and lab results: the year already has some; nothing added."))
        return
    generator = _Generator(year, today, _lab_items())
    verifiers = _verifiers(
        DiabetesEnrollment.objects.values_list("institution_id", flat=True).distinct()
    )
    use_copy = ctx.use_copy
    counts = {"follow_ups": 0, "results": 0, "alerts": 0, "residents": 0}
    started = time.monotonic()

    def load() -> None:
        follow_ups: list[dict[str, Any]] = []
        results: list[_Result] = []
        for enrolments in _enrolments(year, today):
            resident = generator.resident(enrolments)
            follow_ups += generator.follow_ups(enrolments, resident)
            results += generator.results(enrolments, resident, verifiers)
            counts["residents"] += 1
            if len(follow_ups) >= CHUNK:
                flush(follow_ups, results)
                follow_ups, results = [], []
        flush(follow_ups, results)

    def flush(follow_ups: list[dict[str, Any]], results: list[_Result]) -> None:
        _write_follow_ups(follow_ups, use_copy)
        written = _write_results(results, use_copy)
        alerts = _alerts(written, today)
        CriticalValueAlert.objects.bulk_create(alerts, batch_size=2000)
        counts["follow_ups"] += len(follow_ups)
        counts["results"] += len(results)
        counts["alerts"] += len(alerts)
        elapsed = time.monotonic() - started
        ctx.log(
            _(
                "Follow-ups: %(follow_ups)d, lab results: %(results)d for %(residents)d "
                "residents (%(rate)d follow-ups/s)."
            )
            % {**counts, "rate": counts["follow_ups"] / elapsed if elapsed else 0}
        )

    if use_copy:
        ctx.log(_("Follow-ups and lab results: writing with COPY, indexes deferred."))
        with indexes_deferred([FollowUp, ExamResult]) as deferred:
            load()
            ctx.log(_("Rebuilding %(count)d indexes and constraints.") % {"count": deferred})
        with connection.cursor() as cursor:
            # The catalogue too: a table of 16 rows never reaches autovacuum's threshold, and
            # without its statistics the planner misjudges every join of results to items.
            for model in (FollowUp, ExamResult, CriticalValueAlert, ExamItem):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    else:
        ctx.log(_("Follow-ups and lab results: writing with bulk_create."))
        load()
    ctx.log(
        _(
            "Follow-ups: %(follow_ups)d; verified lab results: %(results)d, %(alerts)d critical "
            "values (%(residents)d residents)."
        )
        % counts
    )


STEPS: list[Step] = [seed_care_history]
