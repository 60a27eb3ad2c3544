"""Lab results for the small demo (ISSUE 4), appended to ``small.STEPS``.

- History: a year of verified results for every diabetes patient, at the institution they are
  enrolled with, as the lab system sends them (the ``lab_results`` import of CONTRACTS §1):
  fasting glucose every quarter, HbA1c twice, creatinine and lipids once (a few patients miss
  some, so the worklists have something to show), each verified by a lab technician of that
  institution.
- Today's work at the demo institution, through the same services the staff use: orders
  awaiting collection, a specimen awaiting receipt, items awaiting their result, results
  awaiting verification (one of them the demo patient's, invisible to them until verified) and
  one verified critical potassium on the critical-value worklist.

Running it again adds nothing: imported results are keyed by resident, item and date, and
today's orders are made only when the demo institution has none from the demo yet.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cloud_exams import services
from cloud_exams.models import ExamOrder, ExamResult
from cloud_management.imports.service import import_records
from cloud_management.models import DiabetesEnrollment, Institution, Patient, StaffRole
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE
from healthcommunity.demo.steps import SeedContext, Step

SEED = 4_004
# Each institution's lab technician who verifies results (at the demo institution, a second
# person beside the lab_technician login, who enters them); no password, like the
# institutions' own doctors.
VERIFIER_USERNAME = "lab_verifier_{code}"
DEMO_SOURCE_REF = "demo"
TODAYS_PATIENTS = 8
# The share of planned tests a patient skips (no HbA1c this year, a missed quarter).
SKIPPED_SHARE = 0.12
# (item, unit, months of the year, mean, spread, lowest, highest, decimals)
HISTORY = (
    ("FBG", "mmol/L", (2, 5, 8, 11), 7.6, 1.9, 3.6, 16.0, 1),
    ("HBA1C", "%", (3, 9), 7.3, 1.1, 5.2, 12.5, 1),
    ("CREA", "µmol/L", (6,), 78.0, 18.0, 45.0, 160.0, 0),
    ("TC", "mmol/L", (6,), 5.0, 0.9, 3.0, 8.0, 2),
    ("LDLC", "mmol/L", (6,), 3.0, 0.8, 1.4, 5.5, 2),
)


def _users() -> dict[str, Any]:
    model = get_user_model()
    return {
        user.username: user
        for user in model.objects.filter(username__in=["doctor", "nurse", "lab_technician"])
    }


def _verifier(institution: Institution) -> Any:
    model = get_user_model()
    user, _created = model.objects.get_or_create(
        username=VERIFIER_USERNAME.format(code=institution.code.lower()),
        defaults={
            "password": make_password(None),
            "last_name": "周",
            "first_name": "明",
            "is_staff": True,
        },
    )
    StaffRole.objects.get_or_create(
        user=user, role=StaffRole.Role.LAB_TECHNICIAN, institution=institution
    )
    return user


def _todays_patients(institution: Institution) -> list[Patient]:
    """Residents of the demo institution, its diabetes patients first."""
    enrolled = list(
        DiabetesEnrollment.objects.filter(institution=institution)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
        .distinct()
    )
    patients = list(Patient.objects.filter(pk__in=enrolled).order_by("pk"))
    patients += list(
        Patient.objects.filter(home_institution=institution)
        .exclude(pk__in=enrolled)
        .order_by("pk")[: max(0, TODAYS_PATIENTS - len(patients))]
    )
    return patients


def _history_rows(year: int, today: dt.date) -> tuple[list[dict[str, str]], int]:
    """CSV rows for every enrolment's patient at its institution; and how many patients."""
    draw = random.Random(SEED + year)  # noqa: S311 - demo data, not security
    enrolments = (
        DiabetesEnrollment.objects.filter(enrolled_on__lte=dt.date(year, 12, 31))
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=dt.date(year, 1, 1)))
        .select_related("patient", "institution")
        .order_by("patient_id", "enrolled_on")
    )
    # The latest enrolment of the year decides where the patient's tests are done.
    where = {e.patient_id: (e.patient, e.institution.code) for e in enrolments}
    rows = []
    for patient, institution_code in where.values():
        level = draw.gauss(0, 1)  # a patient's glucose control is consistent over the year
        for code, unit, months, mean, spread, low, high, places in HISTORY:
            for month in months:
                day = dt.date(year, month, draw.randint(3, 26))
                if draw.random() < SKIPPED_SHARE or day > today or day < patient.birth_date:
                    continue
                shift = level * spread * 0.8 if code in {"FBG", "HBA1C"} else 0.0
                value = min(high, max(low, draw.gauss(mean + shift, spread * 0.5)))
                rows.append(
                    {
                        "resident_id": patient.resident_id,
                        "institution_code": institution_code,
                        "item_code": code,
                        "collected_on": day.isoformat(),
                        "value": f"{value:.{places}f}",
                        "unit": unit,
                    }
                )
    return rows, len(where)


def seed_lab_history(ctx: SeedContext) -> None:
    """A year of verified lab results for the diabetes patients, at their institutions."""
    rows, patients = _history_rows(ctx.year, timezone.localdate())
    if not rows:
        return
    columns = ["resident_id", "institution_code", "item_code", "collected_on", "value", "unit"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lab_results.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        outcome = import_records(kind="lab_results", path=path)
    if not outcome.written:
        raise RuntimeError("; ".join(outcome.error_lines()[:5]))
    pending = ExamResult.objects.filter(
        origin=ExamResult.Origin.IMPORTED,
        verified_at__isnull=True,
        collected_on__year=ctx.year,
        performing_institution__code__in=sorted({row["institution_code"] for row in rows}),
    ).select_related("performing_institution")
    by_institution: dict[int, list[int]] = {}
    for result_id, institution_id in pending.values_list("pk", "performing_institution_id"):
        by_institution.setdefault(institution_id, []).append(result_id)
    verified = 0
    for institution in Institution.objects.filter(pk__in=list(by_institution)).order_by("pk"):
        verified += services.verify_results(
            user=_verifier(institution), result_ids=by_institution[institution.pk]
        )
    ctx.log(
        _("Lab results: %(rows)d imported for %(patients)d patients, %(verified)d verified.")
        % {"rows": outcome.imported, "patients": patients, "verified": verified}
    )


@transaction.atomic
def seed_todays_lab_work(ctx: SeedContext) -> None:
    """Today's worklists at the demo institution, made through the services."""
    institution = Institution.objects.get(code=DEMO_INSTITUTION_CODE)
    if ExamOrder.objects.filter(
        ordering_institution=institution, source_ref__startswith=DEMO_SOURCE_REF
    ).exists():
        return
    users = _users()
    doctor, nurse, lab = users.get("doctor"), users.get("nurse"), users.get("lab_technician")
    if doctor is None or nurse is None or lab is None:
        return
    verifier = _verifier(institution)
    patients = _todays_patients(institution)
    demo_patient = (
        Patient.objects.filter(resident_id=ctx.demo_patient_resident_id).first()
        if ctx.demo_patient_resident_id
        else None
    )
    if demo_patient is not None:
        patients = [demo_patient, *[p for p in patients if p.pk != demo_patient.pk]]
    if len(patients) < TODAYS_PATIENTS:
        return

    def place(patient: Patient, codes: list[str], n: int, source: str) -> ExamOrder:
        return services.order_exams(
            ordered_by=doctor,
            patient=patient,
            ordering_institution=institution,
            item_codes=codes,
            source=source,
            source_ref=f"{DEMO_SOURCE_REF}:{n}",
        )

    def through_lab(order: ExamOrder) -> None:
        for specimen in order.specimens.all():
            services.collect_specimen(user=nurse, specimen=specimen)
            services.receive_specimen(user=lab, specimen=specimen)

    def enter(order: ExamOrder, code: str, value: str) -> ExamResult:
        item = order.items.get(item__code=code)
        return services.enter_result(user=lab, order_item=item, value=Decimal(value))

    follow_up, clinic = ExamOrder.Source.FOLLOW_UP, ExamOrder.Source.CLINIC_VISIT
    # The demo patient: results entered, awaiting verification (not on their page yet).
    order = place(patients[0], ["FBG", "HBA1C"], 1, follow_up)
    through_lab(order)
    enter(order, "FBG", "8.4")
    enter(order, "HBA1C", "7.6")
    # Awaiting collection.
    place(patients[1], ["FBG", "HBA1C", "CREA"], 2, follow_up)
    place(patients[2], ["FBG"], 3, ExamOrder.Source.HOME_SERVICE)
    # Collected, awaiting receipt by the lab.
    order = place(patients[3], ["FBG", "TC", "LDLC"], 4, clinic)
    for specimen in order.specimens.all():
        services.collect_specimen(user=nurse, specimen=specimen)
    # Received, awaiting results (and an ECG to record).
    order = place(patients[4], ["CREA", "UACR"], 5, follow_up)
    through_lab(order)
    place(patients[5], ["ECG"], 6, clinic)
    # Awaiting verification, one of them high.
    order = place(patients[6], ["FBG", "ALT"], 7, clinic)
    through_lab(order)
    enter(order, "FBG", "13.2")
    enter(order, "ALT", "38")
    # A critical potassium, verified: on the critical-value worklist until acknowledged.
    order = place(patients[7], ["K", "CREA"], 8, clinic)
    through_lab(order)
    services.verify_result(user=verifier, result=enter(order, "K", "6.6"))
    services.verify_result(user=verifier, result=enter(order, "CREA", "132"))
    ctx.log(_("Lab work today: 8 orders on the worklists, 1 critical value to acknowledge."))


STEPS: list[Step] = [seed_lab_history, seed_todays_lab_work]
