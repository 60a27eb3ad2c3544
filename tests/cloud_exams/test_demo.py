"""The small demo's lab data: verified history for the diabetes patients and today's worklists
at the demo institution, made once."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from cloud_exams.models import CriticalValueAlert, ExamOrder, ExamResult, Specimen
from cloud_exams.selectors import verified_results
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE
from healthcommunity.demo.exams import DEMO_SOURCE_REF
from payments.models import ClaimLine

YEAR = 2025


def counts() -> tuple[int, ...]:
    return (
        ExamResult.objects.count(),
        ExamOrder.objects.count(),
        CriticalValueAlert.objects.count(),
        ClaimLine.objects.filter(source="cloud_exams").count(),
    )


@pytest.mark.django_db
def test_the_small_demo_has_lab_history_and_worklists():
    call_command("seed_demo", "--year", str(YEAR), stdout=io.StringIO())
    history = verified_results(collected_from=dt.date(YEAR, 1, 1))
    codes = {row["item_code"] for row in history}
    assert {"FBG", "HBA1C", "CREA", "TC", "LDLC"} <= codes
    assert history.count() > 500
    # The worklist orders of the exams demo; the home-service demo adds its blood draws' own.
    demo = ExamOrder.objects.filter(
        ordering_institution__code=DEMO_INSTITUTION_CODE, source_ref__startswith=DEMO_SOURCE_REF
    )
    assert demo.count() == 8
    assert Specimen.objects.filter(order__in=demo, collected_at__isnull=True).exists()
    assert Specimen.objects.filter(
        order__in=demo, collected_at__isnull=False, received_at__isnull=True
    ).exists()
    assert ExamResult.objects.filter(verified_at__isnull=True).count() == 4
    alert = CriticalValueAlert.objects.get()
    assert (alert.is_open, alert.result.item.code) == (True, "K")
    first = counts()
    call_command("seed_demo", "--year", str(YEAR), stdout=io.StringIO())
    assert counts() == first
