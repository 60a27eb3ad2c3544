"""Settlement runs through the database, with figures computed by hand (CONTRACTS §4-5).

The ``community`` fixture (tests/payments/conftest.py) describes the data and its figures.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from payments import selectors
from payments.formulas import RetentionTier
from payments.models import ClaimLine, QualityAssessment, Scheme, SettlementLine, SettlementRun
from payments.services.claims import post_claim_line
from payments.services.settlement import (
    begin_settlement_run,
    finish_settlement_run,
    request_settlement_run,
    run_settlement,
    settle_institutions,
)
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    PatientFactory,
)
from tests.factories.payments import ClaimLineFactory, SchemeFactory

pytestmark = pytest.mark.django_db
D = Decimal
Status = SettlementRun.Status


def _lines(run):
    return {line.institution.code: line for line in selectors.list_settlement_lines(run=run)}


def test_annual_settlement_leap_year(community, quality_provider):
    # A's managed population: P1 (366 days) and P3 (91); P2 has 61 days. With SMR 2/2 → 40,
    # GCR 1/2 = 0.5/0.6 × 30 → 25, HTR 0, GCI 0.5 − 0 ≥ 0.1 → 15: Q = 80.00 → ratio 0.80.
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    run = run_settlement(scheme=community["scheme"], period="2024")

    assert run.status == Status.FINISHED
    assert run.progress == 100
    assert run.days_in_year == 366
    assert run.annual_rate == D("1830.00")
    assert len(run.inputs_digest) == 64
    lines = _lines(run)
    # Every institution with a member day has a line, and no other (B has none).
    assert sorted(lines) == ["HX001", "NK001"]
    a = lines["NK001"]
    assert (a.enrolees, a.member_days, a.claim_lines) == (3, 518, 4)
    assert a.budget == D("2590.00")
    assert a.spending == D("180.74")
    assert a.balance == D("2409.26")
    assert a.quality_score == D("80.00")
    assert a.retention_ratio == D("0.80")
    # 2409.26 × 0.80 = 1927.408 → 1927.41; payable 180.74 + 1927.41.
    assert a.retained == D("1927.41")
    assert a.overspend == D("0.00")
    assert a.fund_payable == D("2108.15")


def test_members_without_managed_population_get_no_retention(community, quality_provider):
    quality_provider.counts["HX001"] = (1, 1, 1, 0)

    run = run_settlement(scheme=community["scheme"], period="2024")

    c = _lines(run)["HX001"]
    # 61 covered days < 90: the managed population is empty, Q is empty, ratio 0.00.
    assert (c.enrolees, c.member_days, c.claim_lines) == (1, 61, 2)
    assert c.budget == D("305.00")
    assert c.spending == D("180.00")
    assert c.balance == D("125.00")
    assert c.quality_score is None
    assert c.retention_ratio == D("0.00")
    assert c.retained == D("0.00")
    assert c.fund_payable == D("180.00")
    assessment = QualityAssessment.objects.get(run=run, institution=community["c"])
    assert (assessment.managed_population, assessment.score, assessment.smr_value) == (
        0,
        None,
        None,
    )


def test_quality_assessment_copies_the_figures(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    run = run_settlement(scheme=community["scheme"], period="2024")

    assessment = QualityAssessment.objects.get(run=run, institution=community["a"])
    assert assessment.managed_population == 2
    assert (assessment.smr_numerator, assessment.smr_denominator, assessment.smr_value) == (
        2,
        2,
        D("1.0000"),
    )
    assert (assessment.gcr_numerator, assessment.gcr_value) == (1, D("0.5000"))
    assert (assessment.htr_numerator, assessment.htr_value) == (0, D("0.0000"))
    assert (assessment.gci_numerator, assessment.gci_value) == (1, D("0.5000"))
    assert assessment.score == D("80.00")
    # Asked once, for the year and every institution of the run (gathered in one pass).
    assert quality_provider.calls == [(2024, [community["a"].pk, community["c"].pk])]
    assert run.parameters["tiers"] == [
        {"min_score": "90.00", "retention_ratio": "1.00"},
        {"min_score": "80.00", "retention_ratio": "0.80"},
        {"min_score": "60.00", "retention_ratio": "0.50"},
    ]


def test_tiers_of_the_scheme_apply(community, quality_provider):
    community["scheme"].tiers.all().delete()
    community["scheme"].tiers.create(min_score=D("0"), retention_ratio=D("0.25"))
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    run = run_settlement(scheme=community["scheme"], period="2024")

    a = _lines(run)["NK001"]
    # 2409.26 × 0.25 = 602.315 → 602.32 (half-up).
    assert (a.retention_ratio, a.retained, a.fund_payable) == (
        D("0.25"),
        D("602.32"),
        D("783.06"),
    )


def test_interim_quarter(community):
    # 2024-Q2: P1 91 days, P2 April's 30; budget 5 × 121 = 605.00. Spending: P1 1 June 50.50
    # (given at B) + P2 30 April 20.25 = 70.75. No quality provider is needed for an interim run.
    run = run_settlement(scheme=community["scheme"], period="2024-Q2")

    assert run.status == Status.FINISHED
    lines = _lines(run)
    assert sorted(lines) == ["NK001"]
    a = lines["NK001"]
    assert (a.enrolees, a.member_days, a.claim_lines) == (2, 121, 2)
    assert (a.budget, a.spending, a.balance) == (D("605.00"), D("70.75"), D("534.25"))
    assert (a.quality_score, a.retention_ratio, a.retained) == (None, None, None)
    assert (a.overspend, a.fund_payable) == (D("0.00"), D("70.75"))
    assert not QualityAssessment.objects.filter(run=run).exists()


def test_interim_leap_month(community):
    # February 2024: P1 29 days, budget 145.00; P1's 29 February 100.00 counts, P2's does not.
    run = run_settlement(scheme=community["scheme"], period="2024-02")

    a = _lines(run)["NK001"]
    assert (a.enrolees, a.member_days, a.budget, a.spending) == (1, 29, D("145.00"), D("100.00"))
    assert a.fund_payable == D("100.00")


def test_interim_overspend(community):
    # November 2024 at C: 30 days, budget 150.00; spending 100.00 + 80.00 = 180.00.
    run = run_settlement(scheme=community["scheme"], period="2024-11")

    c = _lines(run)["HX001"]
    assert (c.budget, c.spending, c.balance) == (D("150.00"), D("180.00"), D("-30.00"))
    assert (c.overspend, c.fund_payable, c.retained) == (D("30.00"), D("150.00"), None)


def test_per_capita_scheme_counts_contracts(community, quality_provider):
    a = community["a"]
    p5 = PatientFactory(home_institution=a)
    # 1 July to 31 December 2024: 31 + 31 + 30 + 31 + 30 + 31 = 184 days.
    FamilyDoctorContractFactory(patient=p5, institution=a, signed_on=dt.date(2024, 7, 1))
    ClaimLineFactory(
        patient=p5,
        service_date=dt.date(2024, 8, 1),
        category="home_service",
        diagnosis_code="Z00.0",
        fund_paid=D("35.00"),
        total_amount=D("50.00"),
    )
    # The contract's first day is covered (both ends included).
    ClaimLineFactory(
        patient=p5,
        service_date=dt.date(2024, 7, 1),
        category="outpatient",
        fund_paid=D("1.00"),
        total_amount=D("1.00"),
    )
    # The day before is not.
    ClaimLineFactory(
        patient=p5,
        service_date=dt.date(2024, 6, 30),
        category="outpatient",
        fund_paid=D("2.00"),
        total_amount=D("2.00"),
    )
    ClaimLineFactory(patient=p5, service_date=dt.date(2024, 8, 2), category="pharmacy")
    # A diabetes member is no per-capita member without a contract.
    ClaimLineFactory(patient=community["p"][0], service_date=dt.date(2024, 8, 3), category="exam")
    scheme = SchemeFactory(
        code="FD2024",
        kind=Scheme.Kind.PER_CAPITA,
        year=2024,
        annual_rate=D("120.00"),
        diagnosis_prefixes="",
        categories="outpatient;home_service",
    )
    quality_provider.counts["NK001"] = (2, 1, 0, 0)  # Q 80.00 from A's diabetes enrolments

    run = run_settlement(scheme=scheme, period="2024")

    lines = _lines(run)
    assert sorted(lines) == ["NK001"]
    line = lines["NK001"]
    # 120 × 184 / 366 = 60.3278… → 60.33; spending 35.00 + 1.00; balance 24.33 × 0.80 =
    # 19.464 → 19.46; payable 36.00 + 19.46.
    assert (line.enrolees, line.member_days, line.claim_lines) == (1, 184, 2)
    assert (line.budget, line.spending, line.balance) == (D("60.33"), D("36.00"), D("24.33"))
    assert (line.retained, line.fund_payable) == (D("19.46"), D("55.46"))


def test_new_run_supersedes_the_earlier(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    first = run_settlement(scheme=community["scheme"], period="2024")

    second = run_settlement(scheme=community["scheme"], period="2024")

    first.refresh_from_db()
    assert first.status == Status.SUPERSEDED
    assert first.superseded_by == second
    assert second.status == Status.FINISHED
    # The earlier run keeps its lines for audit; same inputs give the same digest.
    assert first.lines.count() == 2
    assert second.inputs_digest == first.inputs_digest
    latest = selectors.get_latest_finished_run(scheme=community["scheme"], period="2024")
    assert latest == second


def test_changed_inputs_change_the_digest_and_the_result(community, quality_provider):
    first = run_settlement(scheme=community["scheme"], period="2024")
    ClaimLineFactory(
        patient=community["p"][0], service_date=dt.date(2024, 9, 9), fund_paid=D("1.00")
    )

    second = run_settlement(scheme=community["scheme"], period="2024")

    assert second.inputs_digest != first.inputs_digest
    assert _lines(second)["NK001"].spending == D("181.74")
    assert _lines(SettlementRun.objects.get(pk=first.pk))["NK001"].spending == D("180.74")


def test_failed_run_changes_no_earlier_result(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    first = run_settlement(scheme=community["scheme"], period="2024")
    before = list(SettlementLine.objects.filter(run=first).values())

    def broken(year, institution_ids):
        return {institution_ids[0]: "not figures"}

    from payments.registry import registered_quality_provider

    with registered_quality_provider(broken):
        failed = run_settlement(scheme=community["scheme"], period="2024")

    first.refresh_from_db()
    assert failed.status == Status.FAILED
    assert "IndicatorFigures" in failed.error
    assert first.status == Status.FINISHED
    assert list(SettlementLine.objects.filter(run=first).values()) == before
    assert selectors.get_latest_finished_run(scheme=community["scheme"], period="2024") == first


def test_final_run_without_quality_provider_fails_clearly(community, no_quality_provider):
    run = run_settlement(scheme=community["scheme"], period="2024")

    assert run.status == Status.FAILED
    assert "quality" in run.error
    assert run.lines.count() == 0


def test_period_of_another_year_is_refused(community):
    with pytest.raises(ValidationError) as error:
        request_settlement_run(scheme=community["scheme"], period="2025-01")

    assert "period" in error.value.message_dict
    assert not SettlementRun.objects.exists()


def test_bad_period_is_refused(community):
    with pytest.raises(ValidationError) as error:
        request_settlement_run(scheme=community["scheme"], period="2024-13")

    assert "period" in error.value.message_dict


def test_two_requests_while_a_run_is_under_way_give_one_run(community):
    run, created = request_settlement_run(scheme=community["scheme"], period="2024-Q1")
    again, created_again = request_settlement_run(scheme=community["scheme"], period="2024-Q1")

    assert (created, created_again) == (True, False)
    assert again == run
    assert SettlementRun.objects.count() == 1


def test_repeated_child_changes_nothing(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    run, _ = request_settlement_run(scheme=community["scheme"], period="2024")
    run = begin_settlement_run(run_id=run.pk)
    a, c = community["a"].pk, community["c"].pk
    assert run.parameters["institution_ids"] == [a, c]

    settle_institutions(run_id=run.pk, institution_ids=[a])
    first = list(SettlementLine.objects.filter(run=run).values())
    run.refresh_from_db()
    assert run.progress == 50
    settle_institutions(run_id=run.pk, institution_ids=[a])

    assert list(SettlementLine.objects.filter(run=run).values()) == first
    assert QualityAssessment.objects.filter(run=run).count() == 1
    settle_institutions(run_id=run.pk, institution_ids=[c])
    finished = finish_settlement_run(run_id=run.pk)
    assert finished.status == Status.FINISHED
    # A repeated child after the end leaves the run alone.
    assert settle_institutions(run_id=run.pk, institution_ids=[a]) == 0
    clean = run_settlement(scheme=community["scheme"], period="2024")
    assert clean.inputs_digest == finished.inputs_digest


def test_finish_refuses_a_run_with_unsettled_institutions(community, quality_provider):
    run, _ = request_settlement_run(scheme=community["scheme"], period="2024")
    begin_settlement_run(run_id=run.pk)
    settle_institutions(run_id=run.pk, institution_ids=[community["a"].pk])

    from payments.services.settlement import SettlementError

    with pytest.raises(SettlementError):
        finish_settlement_run(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.RUNNING


def test_settlement_queries_do_not_grow_with_members(
    community, quality_provider, django_assert_num_queries
):
    def settle_all_counting_queries():
        run, _ = request_settlement_run(scheme=community["scheme"], period="2024-Q4")
        run = begin_settlement_run(run_id=run.pk)
        ids = run.parameters["institution_ids"]
        # Savepoint, run, settled lines, membership, spending, insert lines (none for
        # assessments: interim), progress count and update, release.
        with django_assert_num_queries(9):
            settle_institutions(run_id=run.pk, institution_ids=ids)
        return finish_settlement_run(run_id=run.pk)

    first = settle_all_counting_queries()
    for _ in range(5):
        patient = PatientFactory(home_institution=community["a"])
        DiabetesEnrollmentFactory(
            patient=patient, institution=community["a"], enrolled_on=dt.date(2024, 10, 1)
        )
        ClaimLineFactory(patient=patient, service_date=dt.date(2024, 11, 1))
    second = settle_all_counting_queries()

    assert _lines(first)["NK001"].enrolees == 2
    assert _lines(second)["NK001"].enrolees == 7


# --- post_claim_line ----------------------------------------------------------------------------


def _post(patient, institution, **changes):
    arguments = {
        "source": ClaimLine.Source.CLOUD_EXAMS,
        "source_ref": "order-1",
        "patient": patient,
        "institution": institution,
        "service_date": dt.date(2024, 5, 6),
        "category": ClaimLine.Category.EXAM,
        "diagnosis_code": "E11.9",
        "total_amount": D("45.00"),
        "fund_paid": D("36.00"),
    } | changes
    return post_claim_line(**arguments)


def test_post_claim_line_is_idempotent(community):
    p1, a = community["p"][0], community["a"]
    before = ClaimLine.objects.count()

    first = _post(p1, a)
    again = _post(p1, a)

    assert again.pk == first.pk
    assert ClaimLine.objects.count() == before + 1
    line = ClaimLine.objects.get(source="cloud_exams", source_ref="order-1")
    assert (line.claim_id, line.fund_paid, line.self_paid) == (
        "cloud_exams:order-1",
        D("36.00"),
        D("9.00"),
    )


def test_post_claim_line_again_with_new_amounts_updates_the_line(community):
    p1, a = community["p"][0], community["a"]
    _post(p1, a)

    _post(p1, a, total_amount=D("50.00"), fund_paid=D("40.00"))

    line = ClaimLine.objects.get(source="cloud_exams", source_ref="order-1")
    assert (line.total_amount, line.fund_paid) == (D("50.00"), D("40.00"))


def test_post_claim_line_rolls_back_with_the_caller(community):
    p1, a = community["p"][0], community["a"]
    before = ClaimLine.objects.count()

    def clinical_event_that_fails():
        with transaction.atomic():
            _post(p1, a)
            raise RuntimeError("the clinical event failed")

    with pytest.raises(RuntimeError):
        clinical_event_that_fails()

    assert ClaimLine.objects.count() == before


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("fund_paid", {"fund_paid": D("45.01")}),
        ("fund_paid", {"fund_paid": D("-1.00")}),
        ("total_amount", {"total_amount": D("45.001")}),
        ("total_amount", {"total_amount": 45.0}),
        ("category", {"category": "dental"}),
        ("source", {"source": "cloud_unknown"}),
        ("source_ref", {"source_ref": ""}),
        ("service_date", {"service_date": "2024-05-06"}),
    ],
)
def test_post_claim_line_refuses_bad_input(community, field, changes):
    before = ClaimLine.objects.count()

    with pytest.raises(ValidationError) as error:
        _post(community["p"][0], community["a"], **changes)

    assert field in error.value.message_dict
    assert ClaimLine.objects.count() == before


def test_posted_lines_count_in_the_settlement(community):
    p1, b = community["p"][0], community["b"]
    _post(p1, b, category=ClaimLine.Category.PHARMACY, service_date=dt.date(2024, 5, 6))

    run = run_settlement(scheme=community["scheme"], period="2024-05")

    # May: P1's 31 days → 155.00; spending the posted 36.00 (given at B, counted for A).
    a = _lines(run)["NK001"]
    assert (a.member_days, a.budget, a.spending, a.claim_lines) == (
        31,
        D("155.00"),
        D("36.00"),
        1,
    )


def test_custom_retention_tiers_via_factory(community, quality_provider):
    scheme = SchemeFactory(
        code="DM2024B",
        year=2024,
        annual_rate=D("1830.00"),
        categories="outpatient;pharmacy",
        tiers=[RetentionTier(D("80.00"), D("0.10"))],
    )
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    run = run_settlement(scheme=scheme, period="2024")

    # 2409.26 × 0.10 = 240.926 → 240.93.
    assert _lines(run)["NK001"].retained == D("240.93")


def test_a_line_traces_back_to_its_members_and_claim_lines(community, quality_provider):
    run = run_settlement(scheme=community["scheme"], period="2024")
    line = SettlementLine.objects.get(run=run, institution=community["a"])

    members = list(selectors.memberships_behind_line(line=line))
    claims = list(selectors.claim_lines_behind_line(line=line))

    assert [m.patient for m in members] == community["p"][:3]
    assert [c.fund_paid for c in claims] == [D("100.00"), D("20.25"), D("50.50"), D("9.99")]
    assert sum(c.fund_paid for c in claims) == line.spending
    assert len(claims) == line.claim_lines
