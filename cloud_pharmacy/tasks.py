"""Celery tasks of the cloud pharmacy: thin entrypoints over the services."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from cloud_pharmacy import services
from cloud_pharmacy.models import Prescription
from cloud_pharmacy.selectors import expiring_batches


@shared_task(name="cloud_pharmacy.tasks.dispense_prescription_task", acks_late=True)
def dispense_prescription_task(prescription_id: int, user_id: int) -> int:
    """Dispense a prescription for a pharmacist (a pharmacy robot's queue, say). Idempotent: a
    prescription already dispensed is left alone; a blocked one is refused by the service."""
    prescription = Prescription.objects.get(pk=prescription_id)
    if hasattr(prescription, "dispensing"):
        return prescription.dispensing.pk
    user = get_user_model().objects.get(pk=user_id)
    return services.dispense_prescription(user=user, prescription=prescription).pk


@shared_task(name="cloud_pharmacy.tasks.count_expiring_batches_task")
def count_expiring_batches_task(within_days: int = 90) -> int:
    """How many batches expire within ``within_days`` (the expiry alert's figure)."""
    return expiring_batches(within_days=within_days).count()
