"""The cloud pharmacy for the small demo (ISSUE 6), appended to ``small.STEPS``.

At the demo institution and the central cloud pharmacy (the digital hospital): stock of the
whole formulary by batch (one batch close to expiry, so the alert list shows it), a
replenishment order received and one awaiting shipment, and prescriptions in every state,
written, reviewed and dispensed through the same services the staff use, so the review findings
are the engine's own: a clean one awaiting review, one with an interaction warning, one blocked
by its dose, approved, dispensed, rejected, delivered by the central pharmacy, one out for
delivery, one cancelled, and a long prescription for a controlled diabetes patient.

Running it again adds nothing: it stops when the demo institution already has prescriptions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chronic_care.models import FollowUp
from cloud_management.models import DiabetesEnrollment, Institution, Patient, StaffRole
from cloud_pharmacy import services
from cloud_pharmacy.models import Drug, Prescription
from healthcommunity.demo.catalogue import DEMO_INSTITUTION_CODE
from healthcommunity.demo.steps import SeedContext, Step

CENTRAL_PHARMACIST = "pharmacist_central"
# Units of every drug held at the demo institution and at the central pharmacy.
STOCK_UNITS = 600
CENTRAL_UNITS = 5000


def _central_pharmacist(central: Institution) -> Any:
    user, _created = get_user_model().objects.get_or_create(
        username=CENTRAL_PHARMACIST,
        defaults={
            "password": make_password(None),
            "last_name": "吴",
            "first_name": "静",
            "is_staff": True,
        },
    )
    StaffRole.objects.get_or_create(user=user, role=StaffRole.Role.PHARMACIST, institution=central)
    return user


def _line(code: str, dose: str, frequency: str, days: int) -> services.LineInput:
    drug = Drug.objects.get(code=code)
    return services.LineInput(
        drug=drug,
        dose=Decimal(dose),
        frequency=frequency,
        route="sc" if drug.strength_unit == Drug.StrengthUnit.IU else "oral",
        days=days,
        quantity=services.units_for(drug=drug, dose=Decimal(dose), frequency=frequency, days=days),
    )


def _stock(
    ctx: SeedContext, institution: Institution, central: Institution, users: dict[str, Any]
) -> None:
    today = timezone.localdate()
    for drug in Drug.objects.filter(is_active=True).order_by("code"):
        services.receive_stock(
            user=users["pharmacist"],
            institution=institution,
            drug=drug,
            batch_number=f"{drug.code}-{today:%y%m}A",
            expires_on=today + dt.timedelta(days=540),
            quantity=STOCK_UNITS,
        )
        services.receive_stock(
            user=users["central"],
            institution=central,
            drug=drug,
            batch_number=f"{drug.code}-{today:%y%m}C",
            expires_on=today + dt.timedelta(days=720),
            quantity=CENTRAL_UNITS,
        )
    # A batch close to its expiry date, for the expiry alert.
    services.receive_stock(
        user=users["pharmacist"],
        institution=institution,
        drug=Drug.objects.get(code="ACA50"),
        batch_number=f"ACA50-{today:%y%m}X",
        expires_on=today + dt.timedelta(days=45),
        quantity=90,
    )
    received = services.request_replenishment(
        user=users["pharmacist"],
        institution=institution,
        lines=[(Drug.objects.get(code="MET500"), 1000), (Drug.objects.get(code="AML5"), 500)],
        supplier=central,
    )
    services.ship_replenishment(user=users["central"], order=received)
    services.receive_replenishment(user=users["pharmacist"], order=received)
    services.request_replenishment(
        user=users["pharmacist"],
        institution=institution,
        lines=[(Drug.objects.get(code="SIT100"), 300)],
        supplier=central,
    )
    ctx.log(_("Pharmacy: stock, a batch about to expire and two replenishment orders."))


def _patients(institution: Institution, wanted: int, first: Patient | None) -> list[Patient]:
    enrolled = list(
        Patient.objects.filter(
            pk__in=DiabetesEnrollment.objects.filter(
                institution=institution, ended_on__isnull=True
            ).values("patient_id")
        ).order_by("pk")[: wanted * 2]
    )
    others = list(
        Patient.objects.filter(home_institution=institution)
        .exclude(pk__in=[p.pk for p in enrolled])
        .order_by("pk")[:wanted]
    )
    patients = enrolled + others
    if first is not None:
        patients = [first, *[p for p in patients if p.pk != first.pk]]
    return patients


def _controlled_enrolled(institution: Institution) -> Patient | None:
    """A diabetes patient whose latest follow-up was controlled (long-prescription eligible)."""
    today = timezone.localdate()
    # Ordered by date, so each patient's last follow-up wins.
    latest: dict[int, str] = dict(
        FollowUp.objects.filter(
            patient__in=DiabetesEnrollment.objects.filter(
                institution=institution, ended_on__isnull=True
            ).values("patient_id"),
            date__lte=today,
        )
        .order_by("patient_id", "date", "id")
        .values_list("patient_id", "outcome")
    )
    chosen = sorted(pk for pk, outcome in latest.items() if outcome == "controlled")
    return Patient.objects.filter(pk=chosen[0]).first() if chosen else None


def seed_pharmacy(ctx: SeedContext) -> None:
    """Stock, replenishment and prescriptions in every state at the demo institution."""
    institution = Institution.objects.filter(code=DEMO_INSTITUTION_CODE).first()
    central = services.central_pharmacy()
    model = get_user_model()
    doctor = model.objects.filter(username="doctor").first()
    pharmacist = model.objects.filter(username="pharmacist").first()
    if institution is None or central is None or doctor is None or pharmacist is None:
        return
    if Prescription.objects.filter(institution=institution).exists():
        return
    users = {"doctor": doctor, "pharmacist": pharmacist, "central": _central_pharmacist(central)}
    _stock(ctx, institution, central, users)
    demo_patient = (
        Patient.objects.filter(resident_id=ctx.demo_patient_resident_id).first()
        if ctx.demo_patient_resident_id
        else None
    )
    patients = _patients(institution, 10, demo_patient)
    if len(patients) < 10:
        return

    def write(patient: Patient, lines: list[services.LineInput], **kwargs: Any) -> Prescription:
        kwargs.setdefault("diagnosis_codes", ["E11.9"])
        return services.write_prescription(
            user=doctor, patient=patient, institution=institution, lines=lines, **kwargs
        )

    diabetes = [_line("MET500", "500", "tid", 7), _line("SIT100", "100", "qd", 7)]
    hypertension = [_line("AML5", "5", "qd", 7), _line("ATO20", "20", "qn", 7)]
    # The demo patient: one dispensed, one out for delivery from the central pharmacy.
    dispensed = write(patients[0], diabetes + hypertension, diagnosis_codes=["E11.9", "I10"])
    services.approve_prescription(user=pharmacist, prescription=dispensed)
    services.dispense_prescription(user=pharmacist, prescription=dispensed)
    delivering = write(
        patients[0],
        [_line("GLA300", "16", "qn", 7)],
        fulfilment=Prescription.Fulfilment.DELIVERY,
        delivery_address=patients[0].address or "天津市南开区",
    )
    services.approve_prescription(user=users["central"], prescription=delivering)
    services.dispense_prescription(user=users["central"], prescription=delivering)
    # Awaiting review: a clean one, and one with an interaction warning.
    write(patients[1], hypertension, diagnosis_codes=["I10", "E78.0"])
    write(
        patients[2],
        [_line("WAR25", "2.5", "qd", 7), _line("ASA100", "100", "qd", 7)],
        diagnosis_codes=["I48.0", "I25.1"],
    )
    # Blocked: metformin three times 1000 mg a day (above the 2000 mg maximum).
    write(patients[3], [_line("MET500", "1000", "tid", 7)])
    # Approved and waiting at the counter; a warning overridden first (amlodipine + nifedipine).
    approved = write(
        patients[4],
        [_line("AML5", "5", "qd", 7), _line("NIF30", "30", "qd", 7)],
        diagnosis_codes=["I10"],
    )
    for finding in approved.findings.filter(severity="warn"):
        services.override_finding(
            user=pharmacist, finding=finding, justification="难治性高血压，心内科会诊后联用"
        )
    services.approve_prescription(user=pharmacist, prescription=approved)
    # Rejected: gliclazide with glimepiride (duplicate sulfonylureas).
    duplicated = write(patients[5], [_line("GLZ30", "60", "qd", 7), _line("GLM2", "2", "qd", 7)])
    services.reject_prescription(
        user=pharmacist, prescription=duplicated, justification="磺脲类重复用药，请保留一种"
    )
    # Dispensed by the central cloud pharmacy, and one delivered by it.
    central_rx = write(
        patients[6],
        [_line("MET500", "500", "bid", 7)],
        fulfilment=Prescription.Fulfilment.CENTRAL_PHARMACY,
    )
    services.approve_prescription(user=users["central"], prescription=central_rx)
    services.dispense_prescription(user=users["central"], prescription=central_rx)
    delivered = write(
        patients[9],
        [_line("LOS50", "50", "qd", 7)],
        diagnosis_codes=["I10"],
        fulfilment=Prescription.Fulfilment.DELIVERY,
        delivery_address=patients[9].address or "天津市南开区",
    )
    services.approve_prescription(user=users["central"], prescription=delivered)
    services.dispense_prescription(user=users["central"], prescription=delivered)
    services.confirm_delivery(user=users["central"], prescription=delivered)
    # Cancelled by the doctor.
    cancelled = write(patients[7], [_line("ACA50", "50", "tid", 7)])
    services.cancel_prescription(user=doctor, prescription=cancelled)
    # A transplant recipient given clarithromycin with tacrolimus: blocked by the interaction.
    write(
        patients[8],
        [_line("TAC1", "2", "bid", 7), _line("CLA250", "250", "bid", 7)],
        diagnosis_codes=["Z94.0", "J18.9"],
    )
    # A long prescription (8 weeks) for a diabetes patient whose latest follow-up was controlled.
    eligible = _controlled_enrolled(institution)
    if eligible is not None:
        long_rx = write(eligible, [_line("MET500", "500", "bid", 56)], is_long=True)
        if long_rx.status == Prescription.Status.PENDING_REVIEW and not long_rx.open_warnings:
            services.approve_prescription(user=pharmacist, prescription=long_rx)
            services.dispense_prescription(user=pharmacist, prescription=long_rx)
    count = Prescription.objects.filter(institution=institution).count()
    message = ngettext(
        "Pharmacy: %(count)d prescription.", "Pharmacy: %(count)d prescriptions.", count
    )
    ctx.log(message % {"count": count})


STEPS: list[Step] = [seed_pharmacy]
