"""Pages and admin screens: the patient's results, the order report, the specimen label and the
worklists; nothing unverified outside the lab, and 404 outside one's scope."""

import pytest
from django.test import Client

from cloud_exams import services
from cloud_exams.models import (
    CriticalValueAlert,
    ExamItem,
    ExamOrder,
    ExamOrderItem,
    ExamResult,
    Specimen,
)
from tests.cloud_exams.helpers import entered, item_of, order, verified

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_record_page_links_to_the_results_page(patient):
    page = client_for(patient.user).get("/me/")
    assert page.status_code == 200
    assert 'href="/me/results/"' in page.content.decode()


def test_the_patient_sees_verified_results_only(doctor, lab_user, second_lab_user, patient):
    verified(doctor, patient, lab_user, second_lab_user, "HBA1C", "7.3")
    entered(doctor, patient, lab_user, "FBG", "11.6")
    page = client_for(patient.user).get("/me/results/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "糖化血红蛋白" in text
    assert "7.3" in text
    assert "空腹血糖" not in text
    assert "11.6" not in text


def test_the_results_page_is_for_patients(doctor):
    assert client_for(doctor).get("/me/results/").status_code == 404
    assert Client().get("/me/results/").status_code == 302


def test_the_report_hides_unverified_values_from_all_but_the_lab(
    doctor, lab_user, second_lab_user, other_doctor, patient
):
    result = entered(doctor, patient, lab_user, "FBG", "11.6")
    url = f"/exams/orders/{result.order_item.order_id}/report/"
    for user in (doctor, patient.user):
        page = client_for(user).get(url)
        assert page.status_code == 200
        assert "11.6" not in page.content.decode()
    lab_page = client_for(lab_user).get(url).content.decode()
    assert "11.6" in lab_page
    assert client_for(other_doctor).get(url).status_code == 404
    services.verify_result(user=second_lab_user, result=result)
    assert "11.6" in client_for(doctor).get(url).content.decode()
    assert "11.6" in client_for(patient.user).get(url).content.decode()


def test_the_label_renders_a_code128_svg_for_staff_only(doctor, nurse, other_doctor, patient):
    exam_order = order(doctor, patient, "FBG", "HBA1C")
    specimen = exam_order.specimens.get(specimen_type="plasma")
    url = f"/exams/specimens/{specimen.pk}/label/"
    page = client_for(nurse).get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "<svg" in text
    assert specimen.barcode in text
    assert "<?xml" not in text
    assert "FBG" in text
    for user in (other_doctor, patient.user):
        assert client_for(user).get(url).status_code == 404


# --- the admin ----------------------------------------------------------------------------------


def test_awaiting_collection_receipt_and_result_worklists(doctor, nurse, lab_user, patient):
    exam_order = order(doctor, patient, "FBG")
    specimen = exam_order.specimens.get()
    collection = "/admin/cloud_exams/specimenawaitingcollection/"
    assert specimen.barcode in client_for(nurse).get(collection).content.decode()
    response = client_for(nurse).post(
        collection, {"action": "collect", "_selected_action": [specimen.pk]}
    )
    assert response.status_code == 302
    specimen.refresh_from_db()
    assert specimen.collected_by == nurse
    receipt = "/admin/cloud_exams/specimenawaitingreceipt/"
    assert specimen.barcode in client_for(lab_user).get(receipt).content.decode()
    client_for(lab_user).post(receipt, {"action": "receive", "_selected_action": [specimen.pk]})
    specimen.refresh_from_db()
    assert specimen.received_by == lab_user
    awaiting = "/admin/cloud_exams/orderitemawaitingresult/"
    item = item_of(exam_order, "FBG")
    assert f"/{item.pk}/change/" in client_for(lab_user).get(awaiting).content.decode()
    saved = client_for(lab_user).post(
        f"{awaiting}{item.pk}/change/", {"value": "6.8", "finding": "", "_save": "1"}
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    result = ExamResult.objects.get()
    assert (str(result.value), result.flag, result.entered_by) == ("6.8000", "H", lab_user)
    assert f"/{item.pk}/change/" not in client_for(lab_user).get(awaiting).content.decode()


def test_the_verification_worklist_is_the_labs_and_refuses_self_verification(
    doctor, lab_user, second_lab_user, patient
):
    result = entered(doctor, patient, lab_user, "FBG", "6.9")
    worklist = "/admin/cloud_exams/resultawaitingverification/"
    assert f"/{result.pk}/change/" in client_for(lab_user).get(worklist).content.decode()
    assert f"/{result.pk}/change/" not in client_for(doctor).get(worklist).content.decode()
    assert (
        f"/{result.pk}/change/"
        not in client_for(doctor).get("/admin/cloud_exams/examresult/").content.decode()
    )
    assert (
        client_for(doctor).get(f"/admin/cloud_exams/examresult/{result.pk}/change/").status_code
        == 404
    )
    verify = {"action": "verify", "_selected_action": [result.pk]}
    client_for(lab_user).post(worklist, verify)
    result.refresh_from_db()
    assert result.verified_at is None
    client_for(second_lab_user).post(
        worklist, {"action": "verify", "_selected_action": [result.pk]}
    )
    result.refresh_from_db()
    assert result.verified_by == second_lab_user
    assert (
        client_for(doctor).get(f"/admin/cloud_exams/examresult/{result.pk}/change/").status_code
        == 200
    )


def test_the_critical_worklist_until_acknowledged(
    doctor, lab_user, second_lab_user, other_doctor, patient
):
    verified(doctor, patient, lab_user, second_lab_user, "FBG", "25.0")
    alert = CriticalValueAlert.objects.get()
    worklist = "/admin/cloud_exams/opencriticalvaluealert/"
    assert f"/{alert.pk}/change/" in client_for(doctor).get(worklist).content.decode()
    assert f"/{alert.pk}/change/" not in client_for(other_doctor).get(worklist).content.decode()
    refused = client_for(doctor).post(f"{worklist}{alert.pk}/change/", {"action_taken": ""})
    assert refused.status_code == 200
    alert.refresh_from_db()
    assert alert.is_open
    saved = client_for(doctor).post(
        f"{worklist}{alert.pk}/change/", {"action_taken": "已通知患者急诊就诊", "_save": "1"}
    )
    assert saved.status_code == 302
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.action_taken) == (doctor, "已通知患者急诊就诊")
    assert f"/{alert.pk}/change/" not in client_for(doctor).get(worklist).content.decode()


def test_a_doctor_orders_through_the_admin(doctor, patient):
    items = ExamItem.objects.filter(code__in=["FBG", "CREA"]).values_list("pk", flat=True)
    response = client_for(doctor).post(
        "/admin/cloud_exams/examorder/add/",
        {
            "patient": patient.pk,
            "ordering_institution": patient.home_institution.pk,
            "performing_institution": patient.home_institution.pk,
            "source": "clinic_visit",
            "source_ref": "",
            "clinical_note": "",
            "items": list(items),
            "_save": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Specimen.objects.count() == 2
    codes = ExamOrderItem.objects.values_list("item__code", flat=True)
    assert sorted(codes) == ["CREA", "EGFR", "FBG"]
    exam_order = ExamOrder.objects.get()
    assert exam_order.ordered_by == doctor
    page = client_for(doctor).get(f"/admin/cloud_exams/examorder/{exam_order.pk}/change/")
    assert page.status_code == 200
    assert "EGFR" in page.content.decode()
