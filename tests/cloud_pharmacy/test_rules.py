"""Every rule class with real drugs, pairs and doses from the migrated formulary."""

import datetime as dt

import pytest
from django.utils.translation import gettext

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
from cloud_pharmacy.review.engine import review
from cloud_pharmacy.review.snapshot import LongEligibility
from tests.cloud_pharmacy.helpers import WRITTEN_ON, snapshot, summary

pytestmark = pytest.mark.django_db

RECENT = WRITTEN_ON - dt.timedelta(days=10)


def test_a_clean_diabetes_and_hypertension_prescription_has_no_finding():
    clean = snapshot(
        ("MET500", "500", "tid", 7, 21),
        ("AML5", "5", "qd", 7, 7),
        ("ATO20", "20", "qn", 7, 7),
        diagnoses=("E11.9", "I10"),
        labs={"EGFR": ("78", RECENT)},
    )

    assert review(clean) == []


def test_metformin_above_2000_mg_a_day_is_blocked_at_its_maximum_it_passes():
    too_much = snapshot(("MET500", "1000", "tid", 7, 42))
    at_max = snapshot(("MET500", "1000", "bid", 7, 28))

    [finding] = dose.check(too_much)
    assert (finding.code, finding.severity) == ("DOSEH", "block")
    assert finding.params["daily"] == "3000"
    assert finding.params["maximum"] == "2000"
    assert dose.check(at_max) == []


def test_insulin_glargine_above_100_iu_a_day_is_blocked():
    assert summary(dose.check(snapshot(("GLA300", "120", "qd", 7, 3)))) == [
        ("max_daily_dose", "DOSEH", "block")
    ]
    assert dose.check(snapshot(("GLA300", "24", "qn", 7, 1))) == []


def test_amlodipine_and_nifedipine_are_duplicate_dihydropyridines():
    findings = duplicate.check(snapshot(("AML5", "5", "qd", 7, 7), ("NIF30", "30", "qd", 7, 7)))

    [finding] = findings
    assert (finding.code, finding.severity, finding.params["group"]) == ("DUPTHPY", "warn", "C08CA")
    assert finding.line_index == 1


def test_gliclazide_and_glimepiride_are_duplicate_sulfonylureas_but_metformin_with_one_is_not():
    assert (
        len(duplicate.check(snapshot(("GLZ30", "60", "qd", 7, 14), ("GLM2", "2", "qd", 7, 7)))) == 1
    )
    assert (
        duplicate.check(snapshot(("MET500", "500", "bid", 7, 14), ("GLM2", "2", "qd", 7, 7))) == []
    )


@pytest.mark.parametrize(
    ("first", "second", "severity"),
    [
        ("TAC1", "CLA250", "block"),
        ("TAC1", "FLU50", "warn"),
        ("ATO20", "CLA250", "warn"),
        ("SIM20", "CLA250", "block"),
        ("WAR25", "ASA100", "warn"),
        ("GLM2", "FLU50", "warn"),
        ("NIF30", "TAC1", "info"),
    ],
)
def test_interaction_pairs_from_the_table(first, second, severity):
    lines = {
        "TAC1": ("TAC1", "2", "bid", 7, 14),
        "CLA250": ("CLA250", "250", "bid", 7, 14),
        "FLU50": ("FLU50", "100", "qd", 7, 14),
        "ATO20": ("ATO20", "20", "qn", 7, 7),
        "SIM20": ("SIM20", "20", "qn", 7, 7),
        "WAR25": ("WAR25", "2.5", "qd", 7, 7),
        "ASA100": ("ASA100", "100", "qd", 7, 7),
        "GLM2": ("GLM2", "2", "qd", 7, 7),
        "NIF30": ("NIF30", "30", "qd", 7, 7),
    }

    [finding] = interaction.check(snapshot(lines[first], lines[second]))

    assert (finding.code, finding.severity) == ("DRG", severity)
    assert finding.params["effect"]


def test_no_interaction_between_metformin_and_amlodipine():
    assert (
        interaction.check(snapshot(("MET500", "500", "bid", 7, 14), ("AML5", "5", "qd", 7, 7)))
        == []
    )


def test_metformin_with_egfr_below_30_is_blocked_between_30_and_45_warned():
    low = snapshot(("MET500", "500", "bid", 7, 14), labs={"EGFR": ("24", RECENT)})
    moderate = snapshot(("MET500", "500", "bid", 7, 14), labs={"EGFR": ("38", RECENT)})
    normal = snapshot(("MET500", "500", "bid", 7, 14), labs={"EGFR": ("62", RECENT)})

    [blocked] = contraindication.check(low)
    assert (blocked.code, blocked.severity, blocked.params["value"]) == ("LAB", "block", "24")
    assert blocked.params["limit"] == "30"
    assert summary(contraindication.check(moderate)) == [("contraindication", "LAB", "warn")]
    assert contraindication.check(normal) == []


def test_a_lab_value_older_than_the_look_back_is_ignored():
    stale = snapshot(
        ("MET500", "500", "bid", 7, 14),
        labs={"EGFR": ("24", WRITTEN_ON - dt.timedelta(days=200))},
    )

    assert contraindication.check(stale) == []


def test_sulfonylurea_with_type_1_diabetes_and_acarbose_with_bowel_obstruction_are_blocked():
    assert summary(
        contraindication.check(snapshot(("GLM2", "2", "qd", 7, 7), diagnoses=("E10.9",)))
    ) == [("contraindication", "COND", "block")]
    assert summary(
        contraindication.check(
            snapshot(("ACA50", "50", "tid", 7, 21), diagnoses=("E11.9", "K56.6"))
        )
    ) == [("contraindication", "COND", "block")]


def test_aspirin_with_a_gastric_ulcer_is_a_warning():
    [finding] = contraindication.check(
        snapshot(("ASA100", "100", "qd", 7, 7), diagnoses=("K25.7",))
    )

    assert (finding.code, finding.severity, finding.params["diagnosis"]) == (
        "COND",
        "warn",
        "K25.7",
    )


def test_levofloxacin_for_a_child_is_blocked_and_glimepiride_at_80_warned():
    child = snapshot(("LEV500", "500", "qd", 7, 7), diagnoses=("J18.9",), age=12)
    elderly = snapshot(("GLM2", "2", "qd", 7, 7), age=80)

    assert summary(age_pregnancy.check(child)) == [("age_pregnancy", "AGE", "block")]
    assert summary(age_pregnancy.check(elderly)) == [("age_pregnancy", "AGE", "warn")]


def test_in_pregnancy_losartan_is_blocked_metformin_warned_insulin_allowed():
    pregnant = snapshot(
        ("LOS50", "50", "qd", 7, 7),
        ("MET500", "500", "bid", 7, 14),
        ("ASP300", "6", "tid", 7, 1),
        diagnoses=("O24.4",),
        age=31,
        is_pregnant=True,
    )

    assert summary(age_pregnancy.check(pregnant)) == [
        ("age_pregnancy", "PREG", "block"),
        ("age_pregnancy", "PREG", "warn"),
    ]


def test_quantity_short_of_the_days_and_far_beyond_them_are_warnings():
    # Metformin 500 mg three times a day for 7 days needs 21 tablets.
    short = snapshot(("MET500", "500", "tid", 7, 14))
    exact = snapshot(("MET500", "500", "tid", 7, 21))
    excess = snapshot(("MET500", "500", "tid", 7, 60))

    [finding] = quantity.check(short)
    assert (finding.code, finding.severity, finding.params["needed"]) == ("DOSEDUR", "warn", 21)
    assert quantity.check(exact) == []
    assert summary(quantity.check(excess)) == [("quantity_days", "DOSEDUR", "warn")]


def test_an_insulin_pen_covers_several_days():
    # Glargine 20 IU a night for 28 days is 560 IU: two 300 IU pens.
    assert quantity.check(snapshot(("GLA300", "20", "qn", 28, 2), is_long=True)) == []
    assert len(quantity.check(snapshot(("GLA300", "20", "qn", 28, 1), is_long=True))) == 1


def test_six_drugs_are_more_than_five():
    six = snapshot(
        ("MET500", "500", "bid", 7, 14),
        ("SIT100", "100", "qd", 7, 7),
        ("AML5", "5", "qd", 7, 7),
        ("LOS50", "50", "qd", 7, 7),
        ("ATO20", "20", "qn", 7, 7),
        ("ASA100", "100", "qd", 7, 7),
    )

    [finding] = polypharmacy.check(six)
    assert (finding.code, finding.severity, finding.params["count"]) == ("COMPLY", "warn", 6)
    assert polypharmacy.check(snapshot(*[("MET500", "500", "bid", 7, 14)])) == []


def test_long_prescription_needs_enrolment_and_a_controlled_latest_follow_up():
    line = ("MET500", "500", "bid", 84, 168)
    eligible = LongEligibility(has_active_enrolment=True, latest_outcome="controlled")
    uncontrolled = LongEligibility(has_active_enrolment=True, latest_outcome="uncontrolled")
    not_enrolled = LongEligibility(has_active_enrolment=False, latest_outcome="controlled")

    assert long_prescription.check(snapshot(line, is_long=True, eligibility=eligible)) == []
    [finding] = long_prescription.check(snapshot(line, is_long=True, eligibility=uncontrolled))
    assert (finding.code, finding.severity, finding.params) == (
        "DOSEDURH",
        "block",
        {"outcome": "uncontrolled"},
    )
    assert summary(
        long_prescription.check(snapshot(line, is_long=True, eligibility=not_enrolled))
    ) == [("long_prescription", "DOSEDURH", "block")]


def test_antimicrobial_and_controlled_drugs_never_go_beyond_7_days():
    eligible = LongEligibility(has_active_enrolment=True, latest_outcome="controlled")
    findings = long_prescription.check(
        snapshot(
            ("MET500", "500", "bid", 28, 56),
            ("AMX250", "500", "tid", 14, 84),
            ("TRA100", "100", "bid", 10, 20),
            is_long=True,
            eligibility=eligible,
        )
    )

    assert [(f.line_index, f.severity) for f in findings] == [(1, "block"), (2, "block")]


def test_more_than_7_days_without_a_reason_is_blocked_with_one_it_passes():
    line = ("AML5", "5", "qd", 14, 14)

    assert summary(long_prescription.check(snapshot(line))) == [
        ("long_prescription", "DOSEDURH", "block")
    ]
    assert long_prescription.check(snapshot(line, extended_reason="行动不便，家属代取")) == []


def test_a_finding_reads_as_a_sentence():
    [finding] = dose.check(snapshot(("MET500", "1000", "tid", 7, 42)))

    assert gettext(finding.message) % finding.params == (
        "盐酸二甲双胍片: daily dose 3000 mg exceeds the maximum of 2000 mg."
    )


def test_lab_and_long_prescription_findings_read_as_sentences():
    [lab] = contraindication.check(
        snapshot(("MET500", "500", "bid", 7, 14), labs={"EGFR": ("24", RECENT)})
    )
    [long_finding] = long_prescription.check(
        snapshot(
            ("MET500", "500", "bid", 56, 112),
            is_long=True,
            eligibility=LongEligibility(has_active_enrolment=True, latest_outcome="complication"),
        )
    )

    assert gettext(lab.message) % lab.params == (
        f"盐酸二甲双胍片: latest EGFR 24 on {RECENT.isoformat()} is below 30: eGFR<30禁用二甲双胍"
    )
    assert gettext(long_finding.message) % long_finding.params == (
        "A long prescription needs a controlled condition; the latest follow-up recorded a new "
        "or worsening complication."
    )
