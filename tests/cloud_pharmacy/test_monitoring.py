"""The pharmacy's figures on the operations-monitoring page."""

import pytest
from django.utils import timezone

from cloud_management.monitoring import registered_metrics
from cloud_pharmacy import services
from cloud_pharmacy.monitoring import prescriptions_awaiting_review_on, prescriptions_dispensed_on
from tests.factories.cloud_pharmacy import line

pytestmark = pytest.mark.django_db


def test_dispensed_today_and_the_review_queue_by_institution(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    def write(*lines):
        return services.write_prescription(
            user=prescribing_doctor,
            patient=resident,
            institution=home_institution,
            diagnosis_codes=["I10"],
            lines=list(lines),
        )

    dispensed = write(line("AML5", "5", "qd", 7, 7))
    services.approve_prescription(user=home_pharmacist, prescription=dispensed)
    services.dispense_prescription(user=home_pharmacist, prescription=dispensed)
    write(line("NIF30", "30", "qd", 7, 7))
    write(line("MET500", "1000", "tid", 7, 42))  # blocked
    today = timezone.localdate()

    assert prescriptions_dispensed_on(today) == {home_institution.pk: 1}
    assert prescriptions_awaiting_review_on(today) == {home_institution.pk: 2}
    keys = {metric.key for metric in registered_metrics()}
    assert {"cloud_pharmacy.dispensed_today", "cloud_pharmacy.awaiting_review"} <= keys
