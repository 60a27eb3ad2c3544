"""The small demo's pharmacy: stock, replenishment, prescriptions in every state with the
engine's findings, made once."""

import io

import pytest
from django.core.management import call_command

from cloud_pharmacy.models import (
    Dispensing,
    Prescription,
    ReplenishmentOrder,
    ReviewFinding,
    StockBatch,
)
from cloud_pharmacy.selectors import expiring_batches
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE


def counts() -> tuple[int, ...]:
    return (
        Prescription.objects.count(),
        StockBatch.objects.count(),
        Dispensing.objects.count(),
        ReplenishmentOrder.objects.count(),
    )


@pytest.mark.django_db
def test_the_small_demo_has_prescriptions_in_every_state_and_stock():
    call_command("seed_demo", stdout=io.StringIO())

    statuses = set(
        Prescription.objects.filter(institution__code=DEMO_INSTITUTION_CODE).values_list(
            "status", flat=True
        )
    )
    assert statuses == set(Prescription.Status.values)
    assert set(ReviewFinding.objects.values_list("code", flat=True)) >= {"DOSEH", "DRG", "DUPTHPY"}
    assert expiring_batches(within_days=60).exists()
    assert set(ReplenishmentOrder.objects.values_list("status", flat=True)) == {
        "requested",
        "received",
    }
    first = counts()
    call_command("seed_demo", stdout=io.StringIO())
    assert counts() == first
