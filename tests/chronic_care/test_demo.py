"""The small demo's follow-ups step (healthcommunity.demo.care)."""

import datetime as dt

from django.db.models import Count, Max

from chronic_care.models import FollowUp
from healthcommunity.demo.care import seed_follow_ups
from healthcommunity.demo.steps import SeedContext
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
)


def test_follow_ups_are_seeded_once_with_next_dates(db):
    institution = InstitutionFactory(code="NK001")
    for _ in range(30):
        DiabetesEnrollmentFactory(
            patient=PatientFactory(home_institution=institution),
            institution=institution,
            enrolled_on=dt.date(2024, 1, 1),
        )
    messages = []
    ctx = SeedContext(scale="small", year=2025, write=messages.append)

    seed_follow_ups(ctx)
    first = list(FollowUp.objects.order_by("pk").values_list("patient_id", "date", "fbg"))
    seed_follow_ups(ctx)

    assert list(FollowUp.objects.order_by("pk").values_list("patient_id", "date", "fbg")) == first
    # Up to four a year, one a quarter; a few are missed.
    per_patient = FollowUp.objects.values("patient_id").annotate(n=Count("pk"))
    assert 50 <= len(first) <= 120
    assert max(row["n"] for row in per_patient) <= 4
    assert set(FollowUp.objects.values_list("mode", flat=True)) <= {"clinic", "home", "phone"}
    # Each patient's latest follow-up plans the next one.
    for row in FollowUp.objects.values("patient_id").annotate(last=Max("date")):
        latest = FollowUp.objects.get(patient_id=row["patient_id"], date=row["last"])
        weeks = 2 if latest.outcome == FollowUp.Outcome.UNCONTROLLED else 90 / 7
        assert latest.next_date == latest.date + dt.timedelta(weeks=weeks)
    assert len(messages) == 2
