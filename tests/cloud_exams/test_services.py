"""The order → specimen → result → verification workflow, its rules and its charges."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cloud_exams import services
from cloud_exams.models import CriticalValueAlert, ExamResult, Specimen
from cloud_exams.monitoring import critical_values_open_on, results_verified_on
from cloud_management.models import Patient
from payments.models import ClaimLine
from tests.cloud_exams.helpers import collect_and_receive, entered, item_of, order, verified
from tests.factories.cloud_management import PatientFactory

D = Decimal
pytestmark = pytest.mark.django_db


def test_order_makes_one_specimen_per_type_with_a_barcode(doctor, patient):
    exam_order = order(doctor, patient, "FBG", "HBA1C", "TC", "CREA", "UACR", "ECG")
    specimens = {s.specimen_type: s for s in exam_order.specimens.all()}
    assert set(specimens) == {"plasma", "whole_blood", "serum", "urine"}
    assert specimens["serum"].barcode == f"EX{exam_order.pk:010d}1"
    assert specimens["urine"].barcode == f"EX{exam_order.pk:010d}4"
    # Creatinine brings its calculated eGFR on the same serum tube; the ECG needs no specimen.
    codes = {i.item.code: i for i in exam_order.items.select_related("item", "specimen")}
    assert set(codes) == {"FBG", "HBA1C", "TC", "CREA", "EGFR", "UACR", "ECG"}
    assert codes["EGFR"].specimen == codes["CREA"].specimen == specimens["serum"]
    assert codes["ECG"].specimen is None
    assert codes["EGFR"].price == D("0.00")
    assert codes["HBA1C"].price == D("60.00")


def test_order_refuses_unknown_calculated_and_repeated_items(doctor, patient):
    with pytest.raises(ValidationError) as error:
        order(doctor, patient, "FBG", "NOPE")
    assert "NOPE" in str(error.value.message_dict["items"])
    with pytest.raises(ValidationError) as error:
        order(doctor, patient, "EGFR")
    assert "EGFR" in str(error.value.message_dict["items"])
    with pytest.raises(ValidationError) as error:
        order(doctor, patient, "FBG", "FBG")
    assert list(error.value.message_dict) == ["items"]


def test_only_clinicians_of_the_ordering_institution_order(other_doctor, lab_user, patient):
    for user in (other_doctor, lab_user):
        with pytest.raises(PermissionDenied):
            order(user, patient, "FBG")


def test_a_home_service_booking_orders_without_a_user(patient):
    exam_order = services.order_exams(
        ordered_by=None,
        patient=patient,
        ordering_institution=patient.home_institution,
        item_codes=["FBG"],
        source="home_service",
        source_ref="booking:17",
    )
    assert exam_order.ordered_by is None
    assert exam_order.source_ref == "booking:17"


def test_chain_of_custody(doctor, nurse, lab_user, patient):
    exam_order = order(doctor, patient, "FBG")
    specimen = exam_order.specimens.get()
    with pytest.raises(services.ExamStateConflict):
        services.receive_specimen(user=lab_user, specimen=specimen)
    with pytest.raises(PermissionDenied):
        services.collect_specimen(user=patient.user, specimen=specimen)
    services.collect_specimen(user=nurse, specimen=specimen)
    with pytest.raises(services.ExamStateConflict):
        services.collect_specimen(user=nurse, specimen=specimen)
    with pytest.raises(PermissionDenied):
        services.receive_specimen(user=nurse, specimen=specimen)
    services.receive_specimen(user=lab_user, specimen=specimen)
    specimen = Specimen.objects.get(pk=specimen.pk)
    assert (specimen.collected_by, specimen.received_by) == (nurse, lab_user)
    assert specimen.received_at >= specimen.collected_at


def test_a_result_needs_a_received_specimen(doctor, lab_user, patient):
    exam_order = order(doctor, patient, "FBG")
    with pytest.raises(services.ExamStateConflict):
        services.enter_result(user=lab_user, order_item=item_of(exam_order, "FBG"), value=D("5"))


@pytest.mark.parametrize(
    ("sex", "birth_date", "value", "flag", "reference"),
    [
        # Collected today (2026 or later): a man born 1975 is under 60, one born 1950 over.
        (Patient.Sex.MALE, dt.date(1975, 1, 1), "100", "H", "57-97"),
        (Patient.Sex.MALE, dt.date(1950, 1, 1), "100", "N", "57-111"),
        (Patient.Sex.FEMALE, dt.date(1975, 1, 1), "80", "H", "41-73"),
        (Patient.Sex.FEMALE, dt.date(1950, 1, 1), "80", "N", "41-81"),
        (Patient.Sex.FEMALE, dt.date(1950, 1, 1), "800", "HH", "41-81"),
    ],
)
def test_entered_creatinine_is_flagged_by_sex_and_age_at_collection(
    doctor, lab_user, home_institution, sex, birth_date, value, flag, reference
):
    patient = PatientFactory(home_institution=home_institution, sex=sex, birth_date=birth_date)
    result = entered(doctor, patient, lab_user, "CREA", value)
    assert (result.flag, result.reference_text, result.unit) == (flag, reference, "µmol/L")
    assert result.collected_on == timezone.localdate()


def test_creatinine_gives_egfr_released_with_it(
    doctor, lab_user, second_lab_user, home_institution
):
    patient = PatientFactory(
        home_institution=home_institution, sex=Patient.Sex.MALE, birth_date=dt.date(1960, 1, 1)
    )
    creatinine = entered(doctor, patient, lab_user, "CREA", "88.4")
    egfr = ExamResult.objects.get(order_item__order=creatinine.order_item.order, item__code="EGFR")
    age = timezone.localdate().year - 1960  # born on 1 January: birthday already passed
    expected = round(142 * (1 / 0.9) ** -1.2 * 0.9938**age)
    assert egfr.value == expected
    assert egfr.origin == ExamResult.Origin.CALCULATED
    assert egfr.verified_at is None
    services.verify_result(user=second_lab_user, result=creatinine)
    egfr.refresh_from_db()
    assert egfr.verified_by == second_lab_user
    with pytest.raises(services.ExamStateConflict):
        services.verify_result(user=second_lab_user, result=egfr)


def test_findings_are_entered_as_text(doctor, lab_user, patient):
    exam_order = order(doctor, patient, "ECG")
    result = services.enter_result(
        user=lab_user,
        order_item=item_of(exam_order, "ECG"),
        finding="窦性心律，ST段压低",
        is_abnormal=True,
    )
    assert (result.value, result.value_text, result.flag) == (None, "窦性心律，ST段压低", "A")
    with pytest.raises(ValidationError):
        services.enter_result(user=lab_user, order_item=item_of(exam_order, "ECG"), finding=" ")


def test_bad_values_name_the_field(doctor, lab_user, patient):
    exam_order = order(doctor, patient, "FBG")
    collect_and_receive(exam_order, lab_user, lab_user)
    for bad in ("abc", "-1", "1.23456", None):
        with pytest.raises(ValidationError) as error:
            services.enter_result(user=lab_user, order_item=item_of(exam_order, "FBG"), value=bad)
        assert "value" in error.value.message_dict
    assert not ExamResult.objects.exists()
    assert not ClaimLine.objects.exists()


# --- verification -----------------------------------------------------------------------------


def test_the_enterer_cannot_verify(doctor, lab_user, second_lab_user, patient):
    result = entered(doctor, patient, lab_user, "FBG", "5.2")
    with pytest.raises(ValidationError) as error:
        services.verify_result(user=lab_user, result=result)
    assert "verified_by" in error.value.message_dict
    result.refresh_from_db()
    assert result.verified_at is None
    services.verify_result(user=second_lab_user, result=result)
    result.refresh_from_db()
    assert (result.verified_by, result.entered_by) == (second_lab_user, lab_user)
    with pytest.raises(services.ExamStateConflict):
        services.verify_result(user=second_lab_user, result=result)


def test_the_database_refuses_a_self_verified_result(doctor, lab_user, patient):
    result = entered(doctor, patient, lab_user, "FBG", "5.2")
    with pytest.raises(IntegrityError), transaction.atomic():
        ExamResult.objects.filter(pk=result.pk).update(
            verified_by=lab_user, verified_at=timezone.now()
        )


def test_only_lab_technicians_of_the_performing_lab_enter_and_verify(
    doctor, lab_user, other_lab_user, patient
):
    exam_order = order(doctor, patient, "FBG")
    collect_and_receive(exam_order, lab_user, lab_user)
    for user in (doctor, other_lab_user):
        with pytest.raises(PermissionDenied):
            services.enter_result(user=user, order_item=item_of(exam_order, "FBG"), value=D("5"))
    result = services.enter_result(
        user=lab_user, order_item=item_of(exam_order, "FBG"), value=D("5")
    )
    for user in (doctor, other_lab_user):
        with pytest.raises(PermissionDenied):
            services.verify_result(user=user, result=result)


def test_an_unverified_result_may_be_corrected_a_verified_one_not(
    doctor, lab_user, second_lab_user, patient
):
    result = entered(doctor, patient, lab_user, "FBG", "52")
    assert result.flag == "HH"
    corrected = services.enter_result(user=lab_user, order_item=result.order_item, value=D("5.2"))
    assert corrected.pk == result.pk
    assert corrected.flag == "N"
    assert ClaimLine.objects.count() == 1
    services.verify_result(user=second_lab_user, result=corrected)
    with pytest.raises(services.ExamStateConflict):
        services.enter_result(user=lab_user, order_item=result.order_item, value=D("6"))


# --- critical values --------------------------------------------------------------------------


def test_critical_alert_lifecycle(doctor, nurse, lab_user, second_lab_user, other_doctor, patient):
    result = entered(doctor, patient, lab_user, "K", "6.8")
    assert result.flag == "HH"
    # No alert before verification: nobody outside the lab knows of the value yet.
    assert not CriticalValueAlert.objects.exists()
    services.verify_result(user=second_lab_user, result=result)
    alert = CriticalValueAlert.objects.get()
    assert (alert.result, alert.institution) == (result, patient.home_institution)
    assert alert.is_open
    with pytest.raises(PermissionDenied):
        services.acknowledge_critical_alert(
            user=other_doctor, alert=alert, action_taken="已电话通知"
        )
    with pytest.raises(PermissionDenied):
        services.acknowledge_critical_alert(user=lab_user, alert=alert, action_taken="已电话通知")
    with pytest.raises(ValidationError) as error:
        services.acknowledge_critical_alert(user=nurse, alert=alert, action_taken="  ")
    assert "action_taken" in error.value.message_dict
    services.acknowledge_critical_alert(
        user=nurse, alert=alert, action_taken="已电话通知患者急诊复查"
    )
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.is_open) == (nurse, False)
    with pytest.raises(services.ExamStateConflict):
        services.acknowledge_critical_alert(user=doctor, alert=alert, action_taken="again")


def test_a_normal_value_raises_no_alert(doctor, lab_user, second_lab_user, patient):
    verified(doctor, patient, lab_user, second_lab_user, "K", "4.2")
    assert not CriticalValueAlert.objects.exists()


# --- charges ----------------------------------------------------------------------------------


def test_a_performed_exam_posts_its_reimbursed_charge(doctor, lab_user, patient):
    result = entered(doctor, patient, lab_user, "HBA1C", "7.1")
    line = ClaimLine.objects.get()
    assert line.source == "cloud_exams"
    assert line.source_ref == f"exam-item:{result.order_item_id}"
    assert (line.patient, line.institution) == (patient, patient.home_institution)
    assert line.category == "exam"
    assert line.service_date == result.collected_on
    # Employee insurance, exams: the fund pays 70 % of 60.00.
    assert (line.total_amount, line.fund_paid) == (D("60.00"), D("42.00"))


def test_a_self_paid_exam_is_charged_with_nothing_from_the_fund(doctor, lab_user, patient):
    exam_order = order(doctor, patient, "FUNDUS")
    services.enter_result(
        user=lab_user, order_item=item_of(exam_order, "FUNDUS"), finding="双眼未见糖尿病视网膜病变"
    )
    line = ClaimLine.objects.get()
    assert (line.total_amount, line.fund_paid) == (D("50.00"), D("0.00"))


def test_calculated_egfr_posts_no_charge(doctor, lab_user, patient):
    entered(doctor, patient, lab_user, "CREA", "80")
    assert list(ClaimLine.objects.values_list("total_amount", flat=True)) == [D("5.00")]


def test_result_and_charge_commit_together(doctor, lab_user, patient, monkeypatch):
    exam_order = order(doctor, patient, "FBG")
    collect_and_receive(exam_order, lab_user, lab_user)

    def refuse(**kwargs):
        raise ValidationError({"category": "no ratio"})

    monkeypatch.setattr(services, "post_reimbursed_charge", refuse)
    with pytest.raises(ValidationError):
        services.enter_result(user=lab_user, order_item=item_of(exam_order, "FBG"), value=D("5"))
    assert not ExamResult.objects.exists()
    assert not ClaimLine.objects.exists()


def test_a_charge_refused_by_the_ledger_rolls_the_result_back(doctor, lab_user, patient):
    """No reimbursement ratio for the service year: the ledger refuses, nothing is kept."""
    from payments.models import ReimbursementRatio

    ReimbursementRatio.objects.all().delete()
    exam_order = order(doctor, patient, "FBG")
    collect_and_receive(exam_order, lab_user, lab_user)
    with pytest.raises(ValidationError):
        services.enter_result(user=lab_user, order_item=item_of(exam_order, "FBG"), value=D("5"))
    assert not ExamResult.objects.exists()
    assert not ClaimLine.objects.exists()


def test_verify_results_releases_a_set_with_the_same_rules(
    doctor, lab_user, second_lab_user, patient
):
    potassium = entered(doctor, patient, lab_user, "K", "2.4")
    creatinine = entered(doctor, patient, lab_user, "CREA", "90")
    ids = [potassium.pk, creatinine.pk]
    with pytest.raises(ValidationError) as error:
        services.verify_results(user=lab_user, result_ids=ids)
    assert "verified_by" in error.value.message_dict
    assert not ExamResult.objects.filter(verified_at__isnull=False).exists()
    # Both results and the creatinine's eGFR; the critical potassium raises its alert.
    assert services.verify_results(user=second_lab_user, result_ids=ids) == 3
    assert not ExamResult.objects.filter(verified_at__isnull=True).exists()
    assert CriticalValueAlert.objects.get().result == potassium
    # Already verified: nothing more to release.
    assert services.verify_results(user=second_lab_user, result_ids=ids) == 0


def test_verify_results_needs_the_lab_of_every_result(doctor, lab_user, other_lab_user, patient):
    result = entered(doctor, patient, lab_user, "FBG", "5.0")
    with pytest.raises(PermissionDenied):
        services.verify_results(user=other_lab_user, result_ids=[result.pk])
    result.refresh_from_db()
    assert result.verified_at is None


def test_monitoring_counts_verified_results_and_open_critical_values(
    doctor, nurse, lab_user, second_lab_user, patient
):
    verified(doctor, patient, lab_user, second_lab_user, "FBG", "5.0")
    verified(doctor, patient, lab_user, second_lab_user, "K", "7.1")
    today = timezone.localdate()
    institution_id = patient.home_institution_id
    assert results_verified_on(today) == {institution_id: 2}
    assert results_verified_on(today - dt.timedelta(days=1)) == {}
    assert critical_values_open_on(today) == {institution_id: 1}
    alert = CriticalValueAlert.objects.get()
    services.acknowledge_critical_alert(user=nurse, alert=alert, action_taken="已处理")
    assert critical_values_open_on(today) == {}


def test_clinicians_order_only_for_residents_of_their_register(doctor, other_institution):
    stranger = PatientFactory(home_institution=other_institution)
    with pytest.raises(PermissionDenied):
        services.order_exams(
            ordered_by=doctor,
            patient=stranger,
            ordering_institution=doctor.staff_roles.get().institution,
            item_codes=["FBG"],
            source="clinic_visit",
        )
