"""Load a prescription's snapshot in a fixed number of queries and run every rule.

Queries, whatever the number of lines: the lines with their drugs, the drugs'
contraindications, the verified lab values the contraindications name (cloud_exams), the
interaction pairs among the lines' substances, the active enrolment and the latest follow-up
(chronic_care). :func:`review` is pure and runs the rules in :data:`RULES` order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from chronic_care.models import FollowUp
from cloud_exams.reference_ranges import age_in_years
from cloud_exams.selectors import verified_results
from cloud_management.models import DiabetesEnrollment, Patient
from cloud_pharmacy.models import Contraindication, Drug, Interaction, PrescriptionLine
from cloud_pharmacy.review import (
    age_pregnancy,
    contraindication,
    dose,
    duplicate,
    interaction,
    long_prescription,
    polypharmacy,
    quantity,
)
from cloud_pharmacy.review.snapshot import (
    DiagnosisLimit,
    DrugFacts,
    Finding,
    InteractionFacts,
    LabLimit,
    LabValue,
    LineFacts,
    LongEligibility,
    PrescriptionSnapshot,
)

Rule = Callable[[PrescriptionSnapshot], list[Finding]]

RULES: tuple[Rule, ...] = (
    dose.check,
    duplicate.check,
    interaction.check,
    contraindication.check,
    age_pregnancy.check,
    quantity.check,
    polypharmacy.check,
    long_prescription.check,
)


def review(snapshot: PrescriptionSnapshot) -> list[Finding]:
    """Every finding of every rule, in rule order."""
    findings: list[Finding] = []
    for rule in RULES:
        findings.extend(rule(snapshot))
    return findings


def drug_facts(drugs: Iterable[Drug]) -> dict[int, DrugFacts]:
    """Facts of the given drugs with their contraindications (one query for the limits)."""
    by_id = {drug.pk: drug for drug in drugs}
    diagnosis: dict[int, list[DiagnosisLimit]] = {pk: [] for pk in by_id}
    labs: dict[int, list[LabLimit]] = {pk: [] for pk in by_id}
    # Plain tuples rather than model instances: this runs on every review.
    for drug_id, kind, prefix, item, comparator, limit, lookback, severity, note in (
        Contraindication.objects.filter(drug_id__in=list(by_id))
        .order_by("id")
        .values_list(
            "drug_id",
            "kind",
            "icd10_prefix",
            "lab_item_code",
            "comparator",
            "limit",
            "lookback_days",
            "severity",
            "note",
        )
    ):
        if kind == Contraindication.Kind.DIAGNOSIS:
            diagnosis[drug_id].append(DiagnosisLimit(prefix, severity, note))
        elif limit is not None:  # the kind constraint guarantees a limit
            labs[drug_id].append(LabLimit(item, comparator, limit, lookback, severity, note))
    return {
        pk: DrugFacts(
            code=drug.code,
            name=drug.generic_name,
            atc_code=drug.atc_code,
            strength=drug.strength,
            strength_unit=drug.strength_unit,
            max_daily_dose=drug.max_daily_dose,
            is_controlled=drug.is_controlled,
            is_toxic=drug.is_toxic,
            is_antimicrobial=drug.is_antimicrobial,
            pregnancy_risk=drug.pregnancy_risk,
            min_age_years=drug.min_age_years,
            elderly_caution_age=drug.elderly_caution_age,
            diagnosis_limits=tuple(diagnosis[pk]),
            lab_limits=tuple(labs[pk]),
        )
        for pk, drug in by_id.items()
    }


def latest_labs(*, patient_id: int, facts: Iterable[DrugFacts], on: dt.date) -> dict[str, LabValue]:
    """The latest verified value of each lab item the drugs' limits name, within the longest
    look-back (one query; each rule checks its own look-back)."""
    limits = [limit for drug in facts for limit in drug.lab_limits]
    if not limits:
        return {}
    lookback = max(limit.lookback_days for limit in limits)
    rows = verified_results(
        patient_ids=[patient_id],
        item_codes=sorted({limit.item_code for limit in limits}),
        collected_from=on - dt.timedelta(days=lookback),
        collected_to=on,
    ).filter(value__isnull=False)
    # Ordered by collection date, so the last value of an item wins.
    return {
        code: LabValue(Decimal(value), collected_on)
        for code, value, collected_on in rows.values_list(  # type: ignore[misc]
            "item_code", "value", "collected_on"
        )
    }


def interactions_among(atc_codes: Iterable[str]) -> dict[tuple[str, str], InteractionFacts]:
    codes = sorted(set(atc_codes))
    if len(codes) < 2:
        return {}
    return {
        (row.atc_a, row.atc_b): InteractionFacts(row.severity, row.effect)
        for row in Interaction.objects.filter(atc_a__in=codes, atc_b__in=codes)
    }


def long_eligibility(*, patient_id: int, on: dt.date) -> LongEligibility:
    """An active chronic (diabetes, 门特) enrolment on ``on`` and the outcome of the latest
    follow-up up to that day."""
    is_enrolled = DiabetesEnrollment.objects.filter(
        Q(ended_on__isnull=True) | Q(ended_on__gte=on), patient_id=patient_id, enrolled_on__lte=on
    ).exists()
    outcome = (
        FollowUp.objects.filter(patient_id=patient_id, date__lte=on)
        .order_by("-date", "-id")
        .values_list("outcome", flat=True)
        .first()
    )
    return LongEligibility(has_active_enrolment=is_enrolled, latest_outcome=outcome)


def build_snapshot(
    *,
    patient: Patient,
    written_on: dt.date,
    diagnoses: Sequence[str],
    lines: Sequence[PrescriptionLine],
    is_pregnant: bool = False,
    is_long: bool = False,
    extended_reason: str = "",
) -> PrescriptionSnapshot:
    """The snapshot of (possibly unsaved) lines whose ``drug`` is loaded."""
    facts = drug_facts(line.drug for line in lines)
    line_facts = tuple(
        LineFacts(
            index=index,
            drug=facts[line.drug.pk],
            dose=line.dose,
            per_day=PrescriptionLine.PER_DAY[line.frequency],
            days=line.days,
            quantity=line.quantity,
            frequency=line.frequency,
        )
        for index, line in enumerate(lines)
    )
    return PrescriptionSnapshot(
        written_on=written_on,
        age_years=age_in_years(patient.birth_date, written_on),
        is_pregnant=is_pregnant,
        diagnoses=tuple(diagnoses),
        lines=line_facts,
        is_long=is_long,
        extended_reason=extended_reason,
        labs=latest_labs(patient_id=patient.pk, facts=facts.values(), on=written_on),
        interactions=interactions_among(fact.atc_code for fact in facts.values()),
        eligibility=long_eligibility(patient_id=patient.pk, on=written_on)
        if is_long
        else LongEligibility(False, None),
    )


def snapshot_of(prescription: object) -> PrescriptionSnapshot:
    """The snapshot of a saved prescription."""
    from cloud_pharmacy.models import Prescription

    if not isinstance(prescription, Prescription):
        raise TypeError("snapshot_of() takes a Prescription.")
    lines = list(prescription.lines.select_related("drug").order_by("id"))
    return build_snapshot(
        patient=prescription.patient,
        written_on=timezone.localdate(prescription.written_at),
        diagnoses=prescription.diagnoses,
        lines=lines,
        is_pregnant=prescription.is_pregnant,
        is_long=prescription.is_long,
        extended_reason=prescription.extended_reason,
    )
