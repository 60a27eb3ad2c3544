"""Writing, review decisions, dispensing with the insurance split, circulation and supply."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cloud_pharmacy import selectors, services
from cloud_pharmacy.models import (
    Dispensing,
    Prescription,
    PrescriptionEvent,
    ReplenishmentOrder,
    ReviewDecision,
    StockBatch,
)
from payments.models import ClaimLine
from tests.factories.chronic_care import FollowUpFactory, lab_result
from tests.factories.cloud_management import DiabetesEnrollmentFactory
from tests.factories.cloud_pharmacy import StockBatchFactory, drug, line

pytestmark = pytest.mark.django_db


def write(doctor, resident, institution, *lines, **kwargs):
    kwargs.setdefault("diagnosis_codes", ["E11.9", "I10"])
    return services.write_prescription(
        user=doctor, patient=resident, institution=institution, lines=list(lines), **kwargs
    )


def test_a_clean_prescription_is_approved_and_dispensed_with_its_insurance_split(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("MET500", "500", "tid", 7, 21),
        line("AML5", "5", "qd", 7, 7),
    )
    assert (rx.status, rx.blocking_findings, rx.open_warnings) == ("pending_review", 0, 0)
    assert rx.findings.count() == 0
    assert rx.total_amount == Decimal("3.15")  # 21 × 0.10 + 7 × 0.15

    services.approve_prescription(user=home_pharmacist, prescription=rx)
    dispensing = services.dispense_prescription(user=home_pharmacist, prescription=rx)

    rx.refresh_from_db()
    assert rx.status == "dispensed"
    claim = ClaimLine.objects.get(source="cloud_pharmacy", source_ref=f"prescription:{rx.pk}")
    assert claim.category == "pharmacy"
    assert claim.total_amount == Decimal("3.15")
    assert (dispensing.fund_paid + dispensing.self_paid, dispensing.claim_line) == (
        Decimal("3.15"),
        claim,
    )
    assert claim.fund_paid == dispensing.fund_paid
    assert StockBatch.objects.get(pk=stocked["MET500"].pk).quantity == 479
    assert list(rx.events.values_list("status", flat=True)) == [
        "pending_review",
        "approved",
        "dispensed",
    ]
    assert list(rx.decisions.values_list("action", flat=True)) == ["automated", "approve"]


def test_a_drug_outside_the_insurance_catalogue_is_paid_by_the_resident_alone(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    amlodipine = drug("AML5")
    amlodipine.insurance_category = "none"
    amlodipine.save(update_fields=["insurance_category"])
    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("MET500", "500", "tid", 7, 21),
        line("AML5", "5", "qd", 7, 7),
    )
    services.approve_prescription(user=home_pharmacist, prescription=rx)

    dispensing = services.dispense_prescription(user=home_pharmacist, prescription=rx)

    # Employee insurance pays 0.75 of the covered 2.10 (metformin) = 1.575 → 1.58; the resident
    # pays 0.52 of it and the whole 1.05 of amlodipine.
    claim = dispensing.claim_line
    assert (claim.total_amount, claim.fund_paid) == (Decimal("3.15"), Decimal("1.58"))
    assert (dispensing.fund_paid, dispensing.self_paid) == (Decimal("1.58"), Decimal("1.57"))


def test_stock_is_taken_first_expiring_first_out_and_expired_batches_are_skipped(
    prescribing_doctor, home_pharmacist, resident, home_institution
):
    today = timezone.localdate()
    expired = StockBatchFactory(
        institution=home_institution, quantity=100, expires_on=today - dt.timedelta(days=1)
    )
    late = StockBatchFactory(
        institution=home_institution, quantity=100, expires_on=today + dt.timedelta(days=400)
    )
    soon = StockBatchFactory(
        institution=home_institution, quantity=10, expires_on=today + dt.timedelta(days=30)
    )
    rx = write(prescribing_doctor, resident, home_institution, line("MET500", "500", "tid", 7, 21))
    services.approve_prescription(user=home_pharmacist, prescription=rx)

    dispensing = services.dispense_prescription(user=home_pharmacist, prescription=rx)

    assert sorted(dispensing.lines.values_list("batch_id", "quantity")) == sorted(
        [(soon.pk, 10), (late.pk, 11)]
    )
    expired.refresh_from_db()
    soon.refresh_from_db()
    late.refresh_from_db()
    assert (expired.quantity, soon.quantity, late.quantity) == (100, 0, 89)


def test_a_shortage_dispenses_nothing_and_posts_no_claim(
    prescribing_doctor, home_pharmacist, resident, home_institution
):
    batch = StockBatchFactory(institution=home_institution, quantity=5)
    rx = write(prescribing_doctor, resident, home_institution, line("MET500", "500", "tid", 7, 21))
    services.approve_prescription(user=home_pharmacist, prescription=rx)

    with pytest.raises(services.StockShortage):
        services.dispense_prescription(user=home_pharmacist, prescription=rx)

    batch.refresh_from_db()
    assert batch.quantity == 5
    assert not ClaimLine.objects.exists()
    assert Prescription.objects.get(pk=rx.pk).status == "approved"


def test_a_warning_must_be_overridden_with_a_justification_before_approval(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("WAR25", "2.5", "qd", 7, 7),
        line("ASA100", "100", "qd", 7, 7),
        diagnosis_codes=["I48.0"],
    )
    [finding] = rx.findings.all()
    assert (finding.code, finding.severity, rx.status) == ("DRG", "warn", "pending_review")

    with pytest.raises(services.PrescriptionStateConflict):
        services.approve_prescription(user=home_pharmacist, prescription=rx)
    with pytest.raises(ValidationError) as empty:
        services.override_finding(user=home_pharmacist, finding=finding, justification="  ")
    assert "justification" in empty.value.message_dict

    services.override_finding(
        user=home_pharmacist, finding=finding, justification="心房颤动合并冠脉支架，心内科会诊同意"
    )
    services.approve_prescription(user=home_pharmacist, prescription=rx)

    decision = ReviewDecision.objects.get(prescription=rx, action="override")
    assert (decision.finding, decision.decided_by) == (finding, home_pharmacist)
    assert Prescription.objects.get(pk=rx.pk).status == "approved"


def test_metformin_with_a_verified_egfr_of_24_is_blocked_and_can_only_be_rejected(
    prescribing_doctor, home_pharmacist, resident, home_institution, stocked
):
    lab_result(resident, "EGFR", timezone.localdate() - dt.timedelta(days=5), "24")
    rx = write(prescribing_doctor, resident, home_institution, line("MET500", "500", "bid", 7, 14))

    assert (rx.status, rx.blocking_findings) == ("blocked", 1)
    finding = rx.findings.get()
    assert (finding.code, finding.params["value"]) == ("LAB", "24")
    with pytest.raises(services.PrescriptionStateConflict):
        services.override_finding(user=home_pharmacist, finding=finding, justification="x")
    with pytest.raises(services.PrescriptionStateConflict):
        services.approve_prescription(user=home_pharmacist, prescription=rx)
    with pytest.raises(services.PrescriptionStateConflict):
        services.dispense_prescription(user=home_pharmacist, prescription=rx)

    services.reject_prescription(
        user=home_pharmacist, prescription=rx, justification="eGFR 24，请改用胰岛素或DPP-4抑制剂"
    )
    assert Prescription.objects.get(pk=rx.pk).status == "rejected"
    assert not Dispensing.objects.exists()


def test_an_unverified_egfr_does_not_count(prescribing_doctor, resident, home_institution, stocked):
    lab_result(resident, "EGFR", timezone.localdate(), "24", verified=False)

    rx = write(prescribing_doctor, resident, home_institution, line("MET500", "500", "bid", 7, 14))

    assert rx.status == "pending_review"


def test_the_database_refuses_to_clear_a_blocked_prescription(
    prescribing_doctor, resident, home_institution
):
    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("MET500", "1000", "tid", 7, 42),
    )
    assert rx.status == "blocked"

    for status in ("approved", "dispensed", "in_delivery", "delivered"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Prescription.objects.filter(pk=rx.pk).update(status=status)


def test_a_long_prescription_for_a_controlled_enrolled_resident_passes(
    prescribing_doctor, resident, home_institution
):
    DiabetesEnrollmentFactory(patient=resident, enrolled_on=dt.date(2024, 1, 1))
    FollowUpFactory(patient=resident, date=timezone.localdate() - dt.timedelta(days=20))

    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("MET500", "500", "bid", 84, 168),
        is_long=True,
    )

    assert (rx.status, rx.findings.count()) == ("pending_review", 0)


def test_a_long_prescription_after_an_uncontrolled_follow_up_is_blocked(
    prescribing_doctor, resident, home_institution
):
    DiabetesEnrollmentFactory(patient=resident, enrolled_on=dt.date(2024, 1, 1))
    FollowUpFactory(patient=resident, date=timezone.localdate() - dt.timedelta(days=90))
    FollowUpFactory(
        patient=resident,
        date=timezone.localdate() - dt.timedelta(days=10),
        outcome="uncontrolled",
        fbg=Decimal("11.2"),
    )

    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("MET500", "500", "bid", 56, 112),
        is_long=True,
    )

    assert rx.status == "blocked"
    assert rx.findings.get().params == {"outcome": "uncontrolled"}


def test_more_than_7_days_needs_a_reason_and_more_than_84_is_refused(
    prescribing_doctor, resident, home_institution
):
    with pytest.raises(ValidationError) as no_reason:
        write(prescribing_doctor, resident, home_institution, line("AML5", "5", "qd", 14, 14))
    with pytest.raises(ValidationError) as too_long:
        write(
            prescribing_doctor,
            resident,
            home_institution,
            line("AML5", "5", "qd", 90, 90),
            is_long=True,
        )

    assert list(no_reason.value.message_dict) == ["lines[1].days"]
    assert "Row 1" in no_reason.value.message_dict["lines[1].days"][0]
    assert list(too_long.value.message_dict) == ["lines[1].days"]
    assert not Prescription.objects.exists()
    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("AML5", "5", "qd", 14, 14),
        extended_reason="行动不便",
    )
    assert rx.status == "pending_review"


def test_bad_diagnoses_are_named_and_nothing_is_written(
    prescribing_doctor, resident, home_institution
):
    with pytest.raises(ValidationError) as error:
        write(
            prescribing_doctor,
            resident,
            home_institution,
            line("AML5", "5", "qd", 7, 7),
            diagnosis_codes=["diabetes"],
        )

    assert list(error.value.message_dict) == ["diagnosis_codes"]
    assert not Prescription.objects.exists()


def test_only_doctors_write_and_only_the_dispensing_pharmacists_review(
    prescribing_doctor, home_pharmacist, other_pharmacist, resident, home_institution, stocked
):
    with pytest.raises(PermissionDenied):
        write(home_pharmacist, resident, home_institution, line("AML5", "5", "qd", 7, 7))
    rx = write(prescribing_doctor, resident, home_institution, line("AML5", "5", "qd", 7, 7))

    with pytest.raises(PermissionDenied):
        services.approve_prescription(user=other_pharmacist, prescription=rx)
    with pytest.raises(PermissionDenied):
        services.approve_prescription(user=prescribing_doctor, prescription=rx)
    assert list(rx.decisions.values_list("action", flat=True)) == ["automated"]


def test_circulation_to_the_central_pharmacy_with_delivery(
    prescribing_doctor, central, central_pharmacist, home_pharmacist, resident, home_institution
):
    StockBatchFactory(institution=central, drug=drug("AML5"), quantity=100)
    rx = write(
        prescribing_doctor,
        resident,
        home_institution,
        line("AML5", "5", "qd", 7, 7),
        fulfilment="delivery",
        delivery_address="天津市南开区长江道1号",
    )
    assert rx.dispensing_institution == central

    with pytest.raises(PermissionDenied):
        services.approve_prescription(user=home_pharmacist, prescription=rx)
    services.approve_prescription(user=central_pharmacist, prescription=rx)
    services.dispense_prescription(user=central_pharmacist, prescription=rx)
    services.confirm_delivery(user=central_pharmacist, prescription=rx)

    events = PrescriptionEvent.objects.filter(prescription=rx)
    assert [(e.status, e.institution_id) for e in events] == [
        ("pending_review", home_institution.pk),
        ("approved", central.pk),
        ("in_delivery", central.pk),
        ("delivered", central.pk),
    ]
    assert ClaimLine.objects.get().institution == central


def test_the_prescriber_cancels_before_dispensing(prescribing_doctor, resident, home_institution):
    rx = write(prescribing_doctor, resident, home_institution, line("AML5", "5", "qd", 7, 7))

    services.cancel_prescription(user=prescribing_doctor, prescription=rx)

    assert Prescription.objects.get(pk=rx.pk).status == "cancelled"


def test_replenishment_from_the_central_pharmacy_ships_first_expiring_and_is_received(
    home_pharmacist, central, central_pharmacist, home_institution
):
    today = timezone.localdate()
    StockBatchFactory(
        institution=central,
        drug=drug("MET500"),
        batch_number="C1",
        expires_on=today + dt.timedelta(days=200),
        quantity=300,
    )
    StockBatchFactory(
        institution=central,
        drug=drug("MET500"),
        batch_number="C2",
        expires_on=today + dt.timedelta(days=500),
        quantity=1000,
    )
    order = services.request_replenishment(
        user=home_pharmacist, institution=home_institution, lines=[(drug("MET500"), 500)]
    )
    assert order.supplier == central

    services.ship_replenishment(user=central_pharmacist, order=order)
    with pytest.raises(PermissionDenied):
        services.receive_replenishment(user=central_pharmacist, order=order)
    services.receive_replenishment(user=home_pharmacist, order=order)

    held = dict(
        StockBatch.objects.filter(institution=home_institution).values_list(
            "batch_number", "quantity"
        )
    )
    assert held == {"C1": 300, "C2": 200}
    assert dict(
        StockBatch.objects.filter(institution=central).values_list("batch_number", "quantity")
    ) == {"C1": 0, "C2": 800}
    assert ReplenishmentOrder.objects.get().status == "received"


def test_expiry_alerts_and_reorder_suggestions(
    prescribing_doctor, home_pharmacist, resident, home_institution
):
    today = timezone.localdate()
    soon = StockBatchFactory(
        institution=home_institution,
        drug=drug("AML5"),
        quantity=40,
        expires_on=today + dt.timedelta(days=20),
    )
    StockBatchFactory(institution=home_institution, drug=drug("AML5"), quantity=10)
    for _ in range(3):
        rx = write(prescribing_doctor, resident, home_institution, line("AML5", "5", "qd", 7, 7))
        services.approve_prescription(user=home_pharmacist, prescription=rx)
        services.dispense_prescription(user=home_pharmacist, prescription=rx)

    assert list(
        selectors.expiring_batches(institution_ids=[home_institution.pk], within_days=30)
    ) == [soon]
    [suggestion] = selectors.reorder_suggestions(
        institution_id=home_institution.pk, lookback_days=7, cover_days=30
    )
    # 21 tablets in 7 days is 3 a day; 30 days need 90 and 29 remain.
    assert (suggestion.consumed, suggestion.on_hand, suggestion.suggested) == (21, 29, 61)
