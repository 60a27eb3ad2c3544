"""The API, the admin, the task and the patient page: role scoping, 404 for another scope,
and a blocked prescription that no path can dispense."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cloud_pharmacy import services
from cloud_pharmacy.models import Dispensing, Prescription, ReviewDecision, StockBatch
from cloud_pharmacy.tasks import count_expiring_batches_task, dispense_prescription_task
from payments.models import ClaimLine
from tests.factories.chronic_care import lab_result
from tests.factories.cloud_management import PatientFactory
from tests.factories.cloud_pharmacy import StockBatchFactory, drug, line, pharmacist

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def blocked(prescribing_doctor, resident, home_institution, stocked):
    """Metformin with a verified eGFR of 24 five days ago: blocked."""
    lab_result(resident, "EGFR", timezone.localdate() - dt.timedelta(days=5), "24")
    rx = services.write_prescription(
        user=prescribing_doctor,
        patient=resident,
        institution=home_institution,
        diagnosis_codes=["E11.9"],
        lines=[line("MET500", "500", "bid", 7, 14)],
    )
    assert rx.status == "blocked"
    return rx


def assert_not_dispensed(rx, stocked):
    assert Prescription.objects.get(pk=rx.pk).status == "blocked"
    assert not Dispensing.objects.exists()
    assert not ClaimLine.objects.exists()
    assert StockBatch.objects.get(pk=stocked["MET500"].pk).quantity == 500


def test_the_api_cannot_approve_or_dispense_a_blocked_prescription(
    blocked, home_pharmacist, stocked
):
    client = client_for(home_pharmacist)

    approve = client.post(f"/api/v1/pharmacy/prescriptions/{blocked.pk}/approve/", {})
    dispense = client.post(f"/api/v1/pharmacy/prescriptions/{blocked.pk}/dispense/", {})
    override = client.post(
        f"/api/v1/pharmacy/findings/{blocked.findings.get().pk}/override/",
        {"justification": "家属要求"},
    )

    assert (approve.status_code, dispense.status_code, override.status_code) == (409, 409, 409)
    assert_not_dispensed(blocked, stocked)


def test_the_admin_actions_cannot_dispense_a_blocked_prescription(
    blocked, home_pharmacist, stocked, client
):
    client.force_login(home_pharmacist)
    url = reverse("admin:cloud_pharmacy_prescription_changelist")

    for action in ("approve", "dispense"):
        response = client.post(
            url,
            {"action": action, "_selected_action": [blocked.pk], "justification": ""},
            follow=True,
        )
        assert response.status_code == 200

    assert_not_dispensed(blocked, stocked)


def test_the_task_cannot_dispense_a_blocked_prescription(blocked, home_pharmacist, stocked):
    with pytest.raises(services.PrescriptionStateConflict):
        dispense_prescription_task.delay(blocked.pk, home_pharmacist.pk).get()

    assert_not_dispensed(blocked, stocked)


def test_the_task_dispenses_an_approved_prescription_once(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    rx = services.write_prescription(
        user=prescribing_doctor,
        patient=resident,
        institution=home_institution,
        diagnosis_codes=["I10"],
        lines=[line("AML5", "5", "qd", 7, 7)],
    )
    services.approve_prescription(user=home_pharmacist, prescription=rx)

    first = dispense_prescription_task.delay(rx.pk, home_pharmacist.pk).get()
    second = dispense_prescription_task.delay(rx.pk, home_pharmacist.pk).get()

    assert first == second == Dispensing.objects.get().pk
    assert StockBatch.objects.get(pk=stocked["AML5"].pk).quantity == 493


def test_a_doctor_writes_through_the_api_and_the_pharmacist_approves_and_dispenses(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    payload = {
        "patient": resident.pk,
        "institution": home_institution.code,
        "diagnosis_codes": ["E11.9"],
        "lines": [
            {
                "drug": "GLM2",
                "dose": "2",
                "frequency": "qd",
                "route": "oral",
                "days": 7,
                "quantity": 7,
            },
            {
                "drug": "MET500",
                "dose": "500",
                "frequency": "tid",
                "route": "oral",
                "days": 7,
                "quantity": 21,
            },
        ],
    }

    written = client_for(prescribing_doctor).post(
        "/api/v1/pharmacy/prescriptions/", payload, format="json"
    )
    assert written.status_code == 201, written.content
    rx_id = written.json()["id"]
    assert written.json()["status"] == "pending_review"
    pharmacist_client = client_for(home_pharmacist)
    assert (
        pharmacist_client.post(f"/api/v1/pharmacy/prescriptions/{rx_id}/approve/", {}).status_code
        == 200
    )
    dispensed = pharmacist_client.post(f"/api/v1/pharmacy/prescriptions/{rx_id}/dispense/", {})

    assert dispensed.status_code == 200
    assert dispensed.json()["status"] == "dispensed"
    assert [e["status"] for e in dispensed.json()["events"]] == [
        "pending_review",
        "approved",
        "dispensed",
    ]


def test_an_api_line_with_an_unknown_drug_names_the_row(
    prescribing_doctor, resident, home_institution
):
    payload = {
        "patient": resident.pk,
        "institution": home_institution.code,
        "diagnosis_codes": ["E11.9"],
        "lines": [
            {
                "drug": "NOPE",
                "dose": "1",
                "frequency": "qd",
                "route": "oral",
                "days": 7,
                "quantity": 7,
            }
        ],
    }

    response = client_for(prescribing_doctor).post(
        "/api/v1/pharmacy/prescriptions/", payload, format="json"
    )

    assert response.status_code == 400
    assert "lines[1].drug" in response.json()
    assert not Prescription.objects.exists()


def test_an_override_through_the_api_is_audited(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    rx = services.write_prescription(
        user=prescribing_doctor,
        patient=resident,
        institution=home_institution,
        diagnosis_codes=["I48.0"],
        lines=[line("WAR25", "2.5", "qd", 7, 7), line("ASA100", "100", "qd", 7, 7)],
    )
    finding = rx.findings.get()

    missing = client_for(home_pharmacist).post(
        f"/api/v1/pharmacy/findings/{finding.pk}/override/", {}
    )
    done = client_for(home_pharmacist).post(
        f"/api/v1/pharmacy/findings/{finding.pk}/override/", {"justification": "支架术后双联抗栓"}
    )

    assert missing.status_code == 400
    assert done.status_code == 200
    assert done.json()["is_overridden"] is True
    assert ReviewDecision.objects.get(action="override").justification == "支架术后双联抗栓"


def test_another_institutions_staff_get_404_and_empty_lists(
    blocked, other_pharmacist, other_institution
):
    other_doctor_client = client_for(other_pharmacist)

    assert (
        other_doctor_client.get(f"/api/v1/pharmacy/prescriptions/{blocked.pk}/").status_code == 404
    )
    assert (
        other_doctor_client.post(
            f"/api/v1/pharmacy/prescriptions/{blocked.pk}/reject/", {"justification": "x"}
        ).status_code
        == 404
    )
    assert other_doctor_client.get("/api/v1/pharmacy/prescriptions/").json()["count"] == 0
    assert other_doctor_client.get("/api/v1/pharmacy/stock/").json()["count"] == 0
    assert (
        other_doctor_client.get(
            f"/api/v1/pharmacy/findings/{blocked.findings.get().pk}/"
        ).status_code
        == 404
    )


def test_the_dispensing_institution_sees_a_circulated_prescription(
    prescribing_doctor, resident, home_institution, other_institution
):
    rx = services.write_prescription(
        user=prescribing_doctor,
        patient=resident,
        institution=home_institution,
        diagnosis_codes=["I10"],
        lines=[line("AML5", "5", "qd", 7, 7)],
        fulfilment="other_institution",
        dispensing_institution=other_institution,
    )
    there = pharmacist(other_institution)

    response = client_for(there).get(f"/api/v1/pharmacy/prescriptions/{rx.pk}/")

    assert response.status_code == 200
    assert response.json()["dispensing_institution"] == other_institution.code


def test_the_patient_sees_their_prescriptions_and_no_one_elses(
    blocked, resident, prescribing_doctor, home_institution, client
):
    someone_else = PatientFactory(home_institution=home_institution)
    services.write_prescription(
        user=prescribing_doctor,
        patient=someone_else,
        institution=home_institution,
        diagnosis_codes=["I10"],
        lines=[line("NIF30", "30", "qd", 7, 7)],
    )
    client.force_login(resident.user)

    page = client.get("/me/prescriptions/")
    api = client_for(resident.user).get("/api/v1/pharmacy/prescriptions/").json()

    assert page.status_code == 200
    assert "盐酸二甲双胍片" in page.content.decode()
    assert "硝苯地平控释片" not in page.content.decode()
    assert [row["id"] for row in api["results"]] == [blocked.pk]


def test_the_patient_page_is_404_for_staff(home_pharmacist, client):
    client.force_login(home_pharmacist)

    assert client.get("/me/prescriptions/").status_code == 404


def test_admin_lists_are_scoped_and_another_scopes_row_is_404(
    blocked, home_pharmacist, other_pharmacist, client
):
    client.force_login(home_pharmacist)
    assert client.get(reverse("admin:cloud_pharmacy_prescription_changelist")).status_code == 200
    assert (
        client.get(
            reverse("admin:cloud_pharmacy_prescription_change", args=[blocked.pk])
        ).status_code
        == 200
    )

    client.force_login(other_pharmacist)
    assert (
        client.get(
            reverse("admin:cloud_pharmacy_prescription_change", args=[blocked.pk])
        ).status_code
        == 404
    )


def test_a_pharmacist_receives_stock_in_the_admin(home_pharmacist, home_institution, client):
    client.force_login(home_pharmacist)

    response = client.post(
        reverse("admin:cloud_pharmacy_stockbatch_add"),
        {
            "institution": home_institution.pk,
            "drug": drug("SIT100").pk,
            "batch_number": "X2026",
            "expires_on": (timezone.localdate() + dt.timedelta(days=365)).isoformat(),
            "quantity": 120,
        },
    )

    assert response.status_code == 302
    assert StockBatch.objects.get(batch_number="X2026").quantity == 120


def test_the_expiry_task_counts_batches_expiring_soon(home_institution):
    StockBatchFactory(
        institution=home_institution,
        quantity=3,
        expires_on=timezone.localdate() + dt.timedelta(days=10),
    )
    StockBatchFactory(institution=home_institution, quantity=3)

    assert count_expiring_batches_task.delay(30).get() == 1


def test_a_doctor_writes_a_prescription_in_the_admin(
    prescribing_doctor, resident, home_institution, client
):
    client.force_login(prescribing_doctor)
    url = reverse("admin:cloud_pharmacy_prescription_write")
    assert (
        "Write a prescription"
        in client.get(reverse("admin:cloud_pharmacy_prescription_changelist")).content.decode()
    )
    data = {
        "institution": home_institution.pk,
        "resident_id": resident.resident_id,
        "diagnosis_codes": "E11.9;I10",
        "fulfilment": "on_site",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-0-drug": drug("MET500").pk,
        "lines-0-dose": "500",
        "lines-0-frequency": "tid",
        "lines-0-route": "oral",
        "lines-0-days": "7",
        "lines-0-quantity": "21",
        "lines-1-drug": "",
    }

    response = client.post(url, data)

    rx = Prescription.objects.get()
    assert response.status_code == 302
    assert (rx.prescriber, rx.status, rx.diagnoses) == (
        prescribing_doctor,
        "pending_review",
        ["E11.9", "I10"],
    )


def test_the_admin_form_shows_the_services_errors_and_writes_nothing(
    prescribing_doctor, resident, home_institution, client
):
    client.force_login(prescribing_doctor)
    data = {
        "institution": home_institution.pk,
        "resident_id": resident.resident_id,
        "diagnosis_codes": "E11.9",
        "fulfilment": "on_site",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-drug": drug("AML5").pk,
        "lines-0-dose": "5",
        "lines-0-frequency": "qd",
        "lines-0-route": "oral",
        "lines-0-days": "14",
        "lines-0-quantity": "14",
    }

    response = client.post(reverse("admin:cloud_pharmacy_prescription_write"), data)

    assert response.status_code == 200
    assert "more than 7 days needs a recorded reason" in response.content.decode()
    assert not Prescription.objects.exists()


def test_a_pharmacist_cannot_open_the_prescription_form(home_pharmacist, client):
    client.force_login(home_pharmacist)

    assert client.get(reverse("admin:cloud_pharmacy_prescription_write")).status_code == 403


def test_the_admin_actions_approve_and_dispense_a_clean_prescription(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked, client
):
    rx = services.write_prescription(
        user=prescribing_doctor,
        patient=resident,
        institution=home_institution,
        diagnosis_codes=["I10"],
        lines=[line("AML5", "5", "qd", 7, 7)],
    )
    client.force_login(home_pharmacist)
    url = reverse("admin:cloud_pharmacy_prescription_changelist")

    for action in ("approve", "dispense"):
        client.post(url, {"action": action, "_selected_action": [rx.pk], "justification": ""})

    assert Prescription.objects.get(pk=rx.pk).status == "dispensed"
    assert StockBatch.objects.get(pk=stocked["AML5"].pk).quantity == 493


def test_the_admin_override_action_needs_a_justification(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked, client
):
    rx = services.write_prescription(
        user=prescribing_doctor,
        patient=resident,
        institution=home_institution,
        diagnosis_codes=["I10"],
        lines=[line("AML5", "5", "qd", 7, 7), line("NIF30", "30", "qd", 7, 7)],
    )
    finding = rx.findings.get()
    client.force_login(home_pharmacist)
    url = reverse("admin:cloud_pharmacy_reviewfinding_changelist")

    client.post(url, {"action": "override", "_selected_action": [finding.pk], "justification": ""})
    finding.refresh_from_db()
    assert finding.is_overridden is False
    client.post(
        url,
        {"action": "override", "_selected_action": [finding.pk], "justification": "难治性高血压"},
    )

    finding.refresh_from_db()
    assert finding.is_overridden is True
    assert ReviewDecision.objects.get(action="override").justification == "难治性高血压"


def test_the_patient_page_renders_in_the_products_chinese_default(
    blocked, resident, client, chinese_default
):
    client.force_login(resident.user)

    page = client.get("/me/prescriptions/")

    assert page.status_code == 200
    assert "盐酸二甲双胍片" in page.content.decode()


def test_the_record_page_links_to_the_prescriptions(resident, client):
    client.force_login(resident.user)

    assert reverse("cloud_pharmacy:my_prescriptions") in client.get("/me/").content.decode()
