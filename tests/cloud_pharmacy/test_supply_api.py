"""The supply API: expiry alerts, reorder suggestions and replenishment orders, scoped."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cloud_pharmacy import services
from cloud_pharmacy.models import ReplenishmentOrder, StockBatch
from tests.factories.cloud_pharmacy import StockBatchFactory, drug, line

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_expiring_batches_of_the_users_institutions_only(
    home_pharmacist, home_institution, other_institution
):
    today = timezone.localdate()
    soon = StockBatchFactory(
        institution=home_institution, quantity=5, expires_on=today + dt.timedelta(days=20)
    )
    StockBatchFactory(institution=home_institution, quantity=5)
    StockBatchFactory(
        institution=other_institution, quantity=5, expires_on=today + dt.timedelta(days=10)
    )

    response = client_for(home_pharmacist).get("/api/v1/pharmacy/stock/expiring/?within_days=30")
    bad = client_for(home_pharmacist).get("/api/v1/pharmacy/stock/expiring/?within_days=soon")

    assert [row["id"] for row in response.json()["results"]] == [soon.pk]
    assert bad.status_code == 400
    assert "within_days" in bad.json()


def test_a_patient_sees_no_stock_of_the_institutions_they_belong_to(resident, home_institution):
    """The expiry list follows the stock rule, not the institutions a patient may see."""
    today = timezone.localdate()
    StockBatchFactory(
        institution=home_institution, quantity=5, expires_on=today + dt.timedelta(days=20)
    )
    client = client_for(resident.user)

    expiring = client.get("/api/v1/pharmacy/stock/expiring/?within_days=30")
    listed = client.get("/api/v1/pharmacy/stock/")

    assert expiring.json()["results"] == []
    assert listed.json()["results"] == []


def test_reorder_suggestions_from_consumption(
    prescribing_doctor, home_pharmacist, resident, home_institution, other_pharmacist
):
    StockBatchFactory(institution=home_institution, drug=drug("AML5"), quantity=15)
    for _ in range(2):
        rx = services.write_prescription(
            user=prescribing_doctor,
            patient=resident,
            institution=home_institution,
            diagnosis_codes=["I10"],
            lines=[line("AML5", "5", "qd", 7, 7)],
        )
        services.approve_prescription(user=home_pharmacist, prescription=rx)
        services.dispense_prescription(user=home_pharmacist, prescription=rx)
    url = f"/api/v1/pharmacy/stock/reorder-suggestions/?institution={home_institution.code}"

    [suggestion] = client_for(home_pharmacist).get(url).json()
    elsewhere = client_for(other_pharmacist).get(url)

    # 14 tablets in 90 days; 30 days need ceil(14 / 90 × 30) = 5, and 1 is on hand.
    assert suggestion == {
        "drug_id": drug("AML5").pk,
        "drug": "苯磺酸氨氯地平片 5mg",
        "consumed": 14,
        "daily_use": 0.16,
        "on_hand": 1,
        "suggested": 4,
    }
    assert elsewhere.status_code == 400


def test_replenishment_through_the_api(
    home_pharmacist, central, central_pharmacist, home_institution
):
    StockBatchFactory(
        institution=central,
        drug=drug("MET500"),
        batch_number="C9",
        quantity=400,
        expires_on=timezone.localdate() + dt.timedelta(days=300),
    )
    ordered = client_for(home_pharmacist).post(
        "/api/v1/pharmacy/replenishment-orders/",
        {"institution": home_institution.code, "lines": [{"drug": "MET500", "quantity": 300}]},
        format="json",
    )
    assert ordered.status_code == 201, ordered.content
    order_id = ordered.json()["id"]

    not_yet = client_for(home_pharmacist).post(
        f"/api/v1/pharmacy/replenishment-orders/{order_id}/receive/"
    )
    wrong_side = client_for(home_pharmacist).post(
        f"/api/v1/pharmacy/replenishment-orders/{order_id}/ship/"
    )
    shipped = client_for(central_pharmacist).post(
        f"/api/v1/pharmacy/replenishment-orders/{order_id}/ship/"
    )
    received = client_for(home_pharmacist).post(
        f"/api/v1/pharmacy/replenishment-orders/{order_id}/receive/"
    )

    assert (not_yet.status_code, wrong_side.status_code) == (409, 403)
    assert shipped.json()["shipped"] == [
        {
            "drug": "MET500",
            "batch_number": "C9",
            "expires_on": (timezone.localdate() + dt.timedelta(days=300)).isoformat(),
            "quantity": 300,
        }
    ]
    assert received.json()["status"] == "received"
    assert StockBatch.objects.get(institution=home_institution, batch_number="C9").quantity == 300
    assert ReplenishmentOrder.objects.get().status == "received"


def test_another_institutions_order_is_404(home_pharmacist, central, other_pharmacist):
    order = services.request_replenishment(
        user=home_pharmacist,
        institution=home_pharmacist.staff_roles.get().institution,
        lines=[(drug("AML5"), 10)],
    )

    response = client_for(other_pharmacist).post(
        f"/api/v1/pharmacy/replenishment-orders/{order.pk}/ship/"
    )

    assert response.status_code == 404
