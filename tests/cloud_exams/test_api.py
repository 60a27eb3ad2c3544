"""/api/v1/exams/: the workflow through the API, role scoping, and results invisible to
everyone but the performing lab until verified."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from cloud_exams.models import CriticalValueAlert, ExamOrder, ExamResult, Specimen
from payments.models import ClaimLine
from tests.cloud_exams.helpers import entered, verified

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_the_whole_workflow_through_the_api(doctor, nurse, lab_user, second_lab_user, patient):
    created = client_for(doctor).post(
        "/api/v1/exams/orders/",
        {
            "patient": patient.pk,
            "ordering_institution": patient.home_institution.code,
            "items": ["K", "ECG"],
            "source": "follow_up",
            "source_ref": "followup:9",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert [i["item"] for i in body["items"]] == ["K", "ECG"]
    assert body["resident_id"] != patient.resident_id  # masked
    specimen_id = body["specimens"][0]["id"]
    assert (
        client_for(nurse).post(f"/api/v1/exams/specimens/{specimen_id}/collect/").status_code == 200
    )
    again = client_for(nurse).post(f"/api/v1/exams/specimens/{specimen_id}/collect/")
    assert again.status_code == 409
    lab = client_for(lab_user)
    assert lab.post(f"/api/v1/exams/specimens/{specimen_id}/receive/").status_code == 200
    potassium_item = next(i["id"] for i in body["items"] if i["item"] == "K")
    entered_result = lab.post(
        "/api/v1/exams/results/", {"order_item": potassium_item, "value": "2.5"}, format="json"
    )
    assert entered_result.status_code == 201, entered_result.content
    result = entered_result.json()
    assert (result["flag"], result["is_verified"], result["unit"]) == ("LL", False, "mmol/L")
    assert ClaimLine.objects.filter(source="cloud_exams").count() == 1
    assert lab.post(f"/api/v1/exams/results/{result['id']}/verify/").status_code == 400
    verify = client_for(second_lab_user).post(f"/api/v1/exams/results/{result['id']}/verify/")
    assert verify.status_code == 200
    alerts = client_for(doctor).get("/api/v1/exams/critical-alerts/?is_open=true").json()
    assert alerts["count"] == 1
    alert_id = alerts["results"][0]["id"]
    acknowledge = client_for(doctor).post(
        f"/api/v1/exams/critical-alerts/{alert_id}/acknowledge/",
        {"action_taken": "已电话通知患者，嘱急诊复查血钾"},
        format="json",
    )
    assert acknowledge.status_code == 200
    assert (
        client_for(doctor).get("/api/v1/exams/critical-alerts/?is_open=true").json()["count"] == 0
    )


def test_bad_input_is_400_with_field_errors(doctor, lab_user, patient):
    response = client_for(doctor).post(
        "/api/v1/exams/orders/",
        {
            "patient": patient.pk,
            "ordering_institution": patient.home_institution.code,
            "items": ["NOPE"],
            "source": "clinic_visit",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "items" in response.json()
    assert not ExamOrder.objects.exists()


def test_staff_of_another_institution_cannot_order_for_a_patient_they_do_not_see(
    other_doctor, patient
):
    response = client_for(other_doctor).post(
        "/api/v1/exams/orders/",
        {
            "patient": patient.pk,
            "ordering_institution": "HP001",
            "items": ["FBG"],
            "source": "clinic_visit",
        },
        format="json",
    )
    assert response.status_code == 404
    assert not ExamOrder.objects.exists()


def test_a_result_is_invisible_to_all_but_the_lab_until_verified(
    doctor,
    lab_user,
    second_lab_user,
    other_lab_user,
    district_regulator,
    city_regulator,
    operator,
    patient,
):
    result = entered(doctor, patient, lab_user, "FBG", "7.4")
    url = f"/api/v1/exams/results/{result.pk}/"
    outsiders = [doctor, other_lab_user, district_regulator, city_regulator, operator, patient.user]
    for user in outsiders:
        client = client_for(user)
        assert client.get(url).status_code == 404, user
        assert client.get("/api/v1/exams/results/").json()["count"] == 0, user
    for user in (lab_user, second_lab_user):
        assert client_for(user).get(url).status_code == 200
    client_for(second_lab_user).post(f"/api/v1/exams/results/{result.pk}/verify/")
    for user in (doctor, district_regulator, city_regulator, operator, patient.user):
        response = client_for(user).get(url)
        assert response.status_code == 200, user
        assert response.json()["value"] == "7.4000"
    # Verified, but another institution's lab still has nothing to do with it.
    assert client_for(other_lab_user).get(url).status_code == 404


def test_the_order_report_in_the_api_lists_items_but_no_unverified_values(
    doctor, lab_user, patient
):
    result = entered(doctor, patient, lab_user, "HBA1C", "8.1")
    order_id = result.order_item.order_id
    response = client_for(doctor).get(f"/api/v1/exams/orders/{order_id}/")
    assert response.status_code == 200
    assert "8.1" not in response.content.decode()
    listed = client_for(doctor).get(f"/api/v1/exams/results/?order={order_id}").json()
    assert listed["count"] == 0


def test_orders_specimens_and_alerts_of_another_scope_are_404(
    doctor, nurse, lab_user, second_lab_user, other_doctor, patient, district_regulator
):
    result = verified(doctor, patient, lab_user, second_lab_user, "K", "7.0")
    exam_order = result.order_item.order
    specimen = Specimen.objects.get(order=exam_order)
    alert = CriticalValueAlert.objects.get()
    other = client_for(other_doctor)
    assert other.get(f"/api/v1/exams/orders/{exam_order.pk}/").status_code == 404
    assert other.get("/api/v1/exams/orders/").json()["count"] == 0
    assert other.get(f"/api/v1/exams/specimens/{specimen.pk}/").status_code == 404
    assert other.get(f"/api/v1/exams/critical-alerts/{alert.pk}/").status_code == 404
    denied = other.post(
        f"/api/v1/exams/critical-alerts/{alert.pk}/acknowledge/",
        {"action_taken": "x"},
        format="json",
    )
    assert denied.status_code == 404
    # The district's regulator reads but does not act.
    regulator = client_for(district_regulator)
    assert regulator.get(f"/api/v1/exams/critical-alerts/{alert.pk}/").status_code == 200
    refused = regulator.post(
        f"/api/v1/exams/critical-alerts/{alert.pk}/acknowledge/",
        {"action_taken": "x"},
        format="json",
    )
    assert refused.status_code == 403
    alert.refresh_from_db()
    assert alert.is_open
    # Patients never see alerts (the worklist is the institution's).
    assert client_for(patient.user).get("/api/v1/exams/critical-alerts/").json()["count"] == 0


def test_a_patient_reads_only_their_own_verified_results(
    doctor, lab_user, second_lab_user, patient, home_institution
):
    from tests.factories.cloud_management import PatientFactory

    neighbour = PatientFactory(home_institution=home_institution)
    mine = verified(doctor, patient, lab_user, second_lab_user, "FBG", "6.0")
    theirs = verified(doctor, neighbour, lab_user, second_lab_user, "FBG", "9.0")
    client = client_for(patient.user)
    listed = client.get("/api/v1/exams/results/").json()
    assert [r["id"] for r in listed["results"]] == [mine.pk]
    assert client.get(f"/api/v1/exams/results/{theirs.pk}/").status_code == 404
    assert ExamResult.objects.count() == 2


def test_the_catalogue_lists_items_with_loinc_codes(patient):
    items = client_for(patient.user).get("/api/v1/exams/items/?page_size=50").json()
    by_code = {i["code"]: i for i in items["results"]}
    assert by_code["FBG"]["unit"] == "mmol/L"
    assert by_code["HBA1C"]["loinc_code"] == "4548-4"
    assert by_code["EGFR"]["is_calculated"] is True
    assert APIClient().get("/api/v1/exams/items/").status_code in {401, 403}


def test_value_strings_are_exact(doctor, lab_user, patient):
    result = entered(doctor, patient, lab_user, "TC", "5.25")
    body = client_for(lab_user).get(f"/api/v1/exams/results/{result.pk}/").json()
    assert Decimal(body["value"]) == Decimal("5.25")
    assert body["flag"] == "H"
