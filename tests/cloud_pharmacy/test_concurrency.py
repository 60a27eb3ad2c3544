"""100 dispensings race for the last 50 units (PostgreSQL, separate connections): exactly 50
succeed and the stock ends at 0, never below.

The server allows 100 connections shared with the test database and other clients, so the 100
dispensings run on 30 threads with a connection each, released together by a barrier; every
thread dispenses its share back to back, so at any moment 30 transactions contend for the row.
"""

import threading

import pytest
from django.db import connection, connections

from cloud_pharmacy import services
from cloud_pharmacy.models import Dispensing, Prescription, StockBatch
from payments.models import ClaimLine
from tests.factories.cloud_management import PatientFactory
from tests.factories.cloud_pharmacy import StockBatchFactory, drug, line, pharmacist, prescriber

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]

THREADS = 30


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_dispensings_of_the_last_50_units(home_institution):
    doctor = prescriber(home_institution)
    dispenser = pharmacist(home_institution)
    batch = StockBatchFactory(institution=home_institution, drug=drug("AML5"), quantity=50)
    prescriptions = []
    for _ in range(100):
        patient = PatientFactory(home_institution=home_institution)
        rx = services.write_prescription(
            user=doctor,
            patient=patient,
            institution=home_institution,
            diagnosis_codes=["I10"],
            lines=[line("AML5", "5", "qd", 1, 1)],
        )
        services.approve_prescription(user=dispenser, prescription=rx)
        prescriptions.append(rx)
    start = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def dispense_share(share: list[Prescription]) -> None:
        start.wait()
        try:
            for rx in share:
                try:
                    services.dispense_prescription(user=dispenser, prescription=rx)
                    result = "dispensed"
                except services.StockShortage:
                    result = "short"
                except Exception as exc:  # recorded and asserted below
                    result = f"error: {exc!r}"
                with lock:
                    outcomes.append(result)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=dispense_share, args=(prescriptions[i::THREADS],))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 100
    assert sorted(set(outcomes)) == ["dispensed", "short"]
    assert outcomes.count("dispensed") == 50
    assert StockBatch.objects.get(pk=batch.pk).quantity == 0
    assert Dispensing.objects.count() == 50
    assert ClaimLine.objects.filter(source="cloud_pharmacy").count() == 50
    assert Prescription.objects.filter(status="dispensed").count() == 50
