"""The payments API (CONTRACTS §3-4): settlement lines, settlement runs and the claim ledger,
role by role. Figures are those of the ``community`` fixture (tests/payments/conftest.py)."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from cloud_management.identifiers import mask_resident_id
from cloud_management.models import StaffRole
from payments.apps import register_scope_rules
from payments.models import SettlementLine, SettlementRun
from payments.services.settlement import run_settlement
from tests.factories.cloud_management import (
    RegulatorRoleFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)

pytestmark = pytest.mark.django_db
Status = SettlementRun.Status
LINES_URL = "/api/v1/payments/settlements/"
RUNS_URL = "/api/v1/payments/settlement-runs/"
CLAIMS_URL = "/api/v1/payments/claims/"

# 2024-Q4 (92 days), at 5.00 a member day:
# NK001: P1 92 days + P3 91 (from 2 October) = 183 → 915.00; spending P3's 31 December 9.99.
# HX001: P4 61 days (from 1 November) → 305.00; spending 100.00 + 80.00 (given at HP001).
Q4_NK001 = {
    "institution_code": "NK001",
    "enrolees": 2,
    "member_days": 183,
    "budget": "915.00",
    "spending": "9.99",
    "balance": "905.01",
    "quality_score": None,
    "retention_ratio": None,
    "retained": None,
    "overspend": "0.00",
    "fund_payable": "9.99",
}
Q4_HX001 = {
    "institution_code": "HX001",
    "enrolees": 1,
    "member_days": 61,
    "budget": "305.00",
    "spending": "180.00",
    "balance": "125.00",
    "quality_score": None,
    "retention_ratio": None,
    "retained": None,
    "overspend": "0.00",
    "fund_payable": "180.00",
}


def _client(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def users(community):
    patient = community["p"][3]  # P4, enrolled at HX001
    patient.user = UserFactory(username="13900000004")
    patient.save()
    return {
        "operator": UserFactory(username="operator", is_staff=True, is_superuser=True),
        "city": RegulatorRoleFactory(district=None).user,
        "nankai": RegulatorRoleFactory(district=district("120104")).user,  # NK001's district
        "heping": RegulatorRoleFactory(district=district("120101")).user,  # HP001's district
        "doctor_a": StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=community["a"]).user,
        "doctor_b": StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=community["b"]).user,
        "patient": patient.user,
    }


@pytest.fixture
def q4_run(community):
    run = run_settlement(scheme=community["scheme"], period="2024-Q4")
    assert run.status == Status.FINISHED
    return run


# --- GET settlements/ ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("operator", [Q4_HX001, Q4_NK001]),
        ("city", [Q4_HX001, Q4_NK001]),
        ("nankai", [Q4_NK001]),
        ("heping", []),  # HP001 gives services but has no members, so no line
        ("doctor_a", [Q4_NK001]),
        ("doctor_b", []),
        ("patient", []),
    ],
)
def test_settlement_lines_are_the_section_4_columns_in_the_users_scope(
    users, q4_run, who, expected
):
    response = _client(users[who]).get(LINES_URL, {"scheme": "DM2024", "period": "2024-Q4"})

    assert response.status_code == 200
    body = response.json()
    assert body["results"] == expected
    assert body["count"] == len(expected)
    assert (body["next"], body["previous"]) == (None, None)
    assert body["run"]["id"] == q4_run.pk
    assert body["run"]["inputs_digest"] == q4_run.inputs_digest
    if expected:
        assert list(body["results"][0]) == [
            "institution_code",
            "enrolees",
            "member_days",
            "budget",
            "spending",
            "balance",
            "quality_score",
            "retention_ratio",
            "retained",
            "overspend",
            "fund_payable",
        ]


def test_final_settlement_lines_carry_score_ratio_and_retained(users, community, quality_provider):
    # NK001's managed population is P1 and P3 (M = 2). SMR 2/2 → 40; GCR 1/2 → 30 × 0.5/0.6 = 25;
    # HbA1c 1/2 → 15 × 0.5/0.7 = 10.714…; GCI 0.5 − 0 ≥ 0.1 → 15. Q = 90.714… → 90.71 → 1.00.
    # Year: 518 member days → 2590.00; spending 180.74; balance 2409.26 all retained.
    # HX001: P4 has 61 days (< 90), no managed population: no score, ratio 0.00, retained 0.00.
    quality_provider.counts["NK001"] = (2, 1, 1, 0)
    run_settlement(scheme=community["scheme"], period="2024")

    response = _client(users["operator"]).get(LINES_URL, {"scheme": "DM2024", "period": "2024"})

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "institution_code": "HX001",
            "enrolees": 1,
            "member_days": 61,
            "budget": "305.00",
            "spending": "180.00",
            "balance": "125.00",
            "quality_score": None,
            "retention_ratio": "0.00",
            "retained": "0.00",
            "overspend": "0.00",
            "fund_payable": "180.00",
        },
        {
            "institution_code": "NK001",
            "enrolees": 3,
            "member_days": 518,
            "budget": "2590.00",
            "spending": "180.74",
            "balance": "2409.26",
            "quality_score": "90.71",
            "retention_ratio": "1.00",
            "retained": "2409.26",
            "overspend": "0.00",
            "fund_payable": "2590.00",
        },
    ]


def test_settlement_lines_come_from_the_latest_finished_run(users, community, q4_run):
    newer = run_settlement(scheme=community["scheme"], period="2024-Q4")

    body = _client(users["operator"]).get(LINES_URL, {"scheme": "DM2024", "period": "2024-Q4"})

    assert body.json()["run"]["id"] == newer.pk != q4_run.pk
    assert body.json()["count"] == 2
    assert SettlementLine.objects.count() == 4  # the superseded run's lines stay for audit


def test_settlement_lines_filter_by_institution_and_district(users, q4_run):
    client = _client(users["operator"])
    query = {"scheme": "DM2024", "period": "2024-Q4"}

    by_code = client.get(LINES_URL, {**query, "institution": "NK001"}).json()["results"]
    by_district = client.get(LINES_URL, {**query, "district": "120102"}).json()["results"]
    # A regulator asking for another district's institution gets nothing, as for an unknown one.
    outside = _client(users["nankai"]).get(LINES_URL, {**query, "institution": "HX001"})

    assert by_code == [Q4_NK001]
    assert by_district == [Q4_HX001]
    assert outside.json()["results"] == []


def test_no_finished_run_is_an_empty_list(users, community):
    response = _client(users["operator"]).get(LINES_URL, {"scheme": "DM2024", "period": "2024-03"})

    assert response.status_code == 200
    assert response.json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
        "run": None,
    }


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"scheme": "DM2024", "period": "2024-13"}, ["period"]),
        ({"scheme": "DM2024", "period": "24"}, ["period"]),
        ({"scheme": "DM2024", "period": "2025"}, ["period"]),  # the scheme is for 2024
        ({"scheme": "NOPE", "period": "2024"}, ["scheme"]),
        ({}, ["period", "scheme"]),
    ],
)
def test_bad_settlement_query_is_400_with_field_errors(users, q4_run, query, fields):
    response = _client(users["operator"]).get(LINES_URL, query)

    assert response.status_code == 400
    assert sorted(response.json()) == fields


def test_settlement_lines_need_a_login(q4_run):
    response = APIClient().get(LINES_URL, {"scheme": "DM2024", "period": "2024-Q4"})

    assert response.status_code == 401


# --- settlement runs ------------------------------------------------------------------------------


def test_operator_starts_a_run_and_gets_202_with_its_id(
    users, community, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _client(users["operator"]).post(
            RUNS_URL, {"scheme": "DM2024", "period": "2024-Q4"}, format="json"
        )

    assert response.status_code == 202
    run = SettlementRun.objects.get()
    body = response.json()
    assert body["id"] == run.pk
    # The answer was written before the commit that sends the task.
    assert (body["scheme"], body["period"], body["status"], body["progress"]) == (
        "DM2024",
        "2024-Q4",
        "pending",
        0,
    )
    assert dt.datetime.fromisoformat(body["requested_at"]).utcoffset() == dt.timedelta(hours=8)
    assert body["finished_at"] is None
    # On commit the task ran (in this process: no broker in tests): the run, then one child
    # per institution with members.
    assert len(callbacks) == 3
    status = _client(users["operator"]).get(f"{RUNS_URL}{run.pk}/").json()
    assert (status["status"], status["progress"]) == ("finished", 100)
    assert status["finished_at"] is not None
    assert sorted(run.lines.values_list("institution__code", flat=True)) == ["HX001", "NK001"]


def test_two_requests_while_a_run_is_under_way_give_one_run(
    users, community, django_capture_on_commit_callbacks
):
    client = _client(users["operator"])
    # The callbacks that would send the task are held back, so the first run stays pending.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(RUNS_URL, {"scheme": "DM2024", "period": "2024-Q4"}, format="json")
        second = client.post(RUNS_URL, {"scheme": "DM2024", "period": "2024-Q4"}, format="json")

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["status"] == "pending"
    assert SettlementRun.objects.count() == 1
    assert len(callbacks) == 1  # the run is sent to the workers once


@pytest.mark.parametrize("who", ["city", "nankai", "doctor_a", "patient"])
def test_only_operators_start_runs(users, community, who):
    response = _client(users[who]).post(
        RUNS_URL, {"scheme": "DM2024", "period": "2024-Q4"}, format="json"
    )

    assert response.status_code == 403
    assert SettlementRun.objects.count() == 0


def test_starting_a_run_needs_a_login(community):
    response = APIClient().post(RUNS_URL, {"scheme": "DM2024", "period": "2024-Q4"}, format="json")

    assert response.status_code == 401
    assert SettlementRun.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"scheme": "DM2024", "period": "2024-Q5"}, ["period"]),
        ({"scheme": "DM2024", "period": "2023"}, ["period"]),
        ({"scheme": "NOPE", "period": "2024"}, ["scheme"]),
        ({"scheme": "DM2024"}, ["period"]),
        ({}, ["period", "scheme"]),
    ],
)
def test_bad_run_request_is_400_and_starts_nothing(users, community, data, fields):
    response = _client(users["operator"]).post(RUNS_URL, data, format="json")

    assert response.status_code == 400
    assert sorted(response.json()) == fields
    assert SettlementRun.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "status_code"),
    [("operator", 200), ("city", 200), ("nankai", 200), ("doctor_a", 404), ("patient", 404)],
)
def test_run_status_is_for_operators_and_regulators(users, q4_run, who, status_code):
    response = _client(users[who]).get(f"{RUNS_URL}{q4_run.pk}/")

    assert response.status_code == status_code
    if status_code == 200:
        body = response.json()
        assert (body["id"], body["status"], body["progress"]) == (q4_run.pk, "finished", 100)
        assert body["institutions_total"] == 2
        assert body["started_at"] is not None
        assert body["finished_at"] is not None


def test_run_list_filters_and_is_empty_for_staff(users, community, q4_run):
    failed = SettlementRun.objects.create(
        scheme=community["scheme"],
        period="2024-11",
        period_start=dt.date(2024, 11, 1),
        period_end=dt.date(2024, 11, 30),
        status=Status.FAILED,
    )
    operator = _client(users["operator"])

    everything = operator.get(RUNS_URL).json()
    failed_only = operator.get(RUNS_URL, {"status": "failed"}).json()
    staff = _client(users["doctor_a"]).get(RUNS_URL).json()

    assert [r["id"] for r in everything["results"]] == [failed.pk, q4_run.pk]
    assert [r["id"] for r in failed_only["results"]] == [failed.pk]
    assert staff["count"] == 0


def test_unknown_run_is_404(users):
    assert _client(users["operator"]).get(f"{RUNS_URL}999999/").status_code == 404


# --- claims ---------------------------------------------------------------------------------------
# The community's 15 claim lines: 12 given at NK001, 2 at HP001, 1 at HX001; P4 has 2.


@pytest.mark.parametrize(
    ("who", "count"),
    [
        ("operator", 15),
        ("city", 15),
        ("nankai", 12),
        ("heping", 2),
        ("doctor_a", 12),
        ("doctor_b", 2),
        ("patient", 2),
    ],
)
def test_claim_lines_are_scoped(users, who, count):
    response = _client(users[who]).get(CLAIMS_URL)

    assert response.status_code == 200
    assert response.json()["count"] == count


def test_claim_lines_show_masked_resident_ids_only(users, community):
    p4 = community["p"][3]

    response = _client(users["operator"]).get(CLAIMS_URL, {"institution": "HX001"})

    assert response.status_code == 200
    (line,) = response.json()["results"]
    assert line["masked_resident_id"] == mask_resident_id(p4.resident_id)
    assert line["masked_resident_id"] != p4.resident_id
    assert p4.resident_id not in response.content.decode()
    assert {k: line[k] for k in ("institution", "service_date", "category", "diagnosis_code")} == {
        "institution": "HX001",
        "service_date": "2024-11-15",
        "category": "pharmacy",
        "diagnosis_code": "E11.9",
    }
    # fund 100.00 + 10.00 the resident paid.
    assert (line["total_amount"], line["fund_paid"], line["self_paid"]) == (
        "110.00",
        "100.00",
        "10.00",
    )


def test_claim_lines_filter_by_institution_dates_and_category(users):
    client = _client(users["operator"])

    def dates(query):
        response = client.get(CLAIMS_URL, query)
        assert response.status_code == 200
        return [line["service_date"] for line in response.json()["results"]]

    assert dates({"institution": "HP001"}) == ["2024-11-20", "2024-06-01"]
    assert dates({"service_date_from": "2024-11-01", "service_date_to": "2024-11-30"}) == [
        "2024-11-20",
        "2024-11-15",
    ]
    assert dates({"category": "inpatient"}) == ["2024-07-01"]
    assert dates({"service_date_from": "2025-01-01"}) == ["2025-01-01"]


def test_bad_claim_filter_is_400(users):
    response = _client(users["operator"]).get(CLAIMS_URL, {"service_date_from": "2024-02-30"})

    assert response.status_code == 400
    assert list(response.json()) == ["service_date_from"]


def test_another_scopes_claim_line_is_404(users, community):
    line = community["p"][3]
    claim_id = (
        _client(users["operator"])
        .get(CLAIMS_URL, {"institution": "HX001"})
        .json()["results"][0]["claim_id"]
    )

    assert _client(users["patient"]).get(f"{CLAIMS_URL}{claim_id}/").status_code == 200
    assert _client(users["doctor_a"]).get(f"{CLAIMS_URL}{claim_id}/").status_code == 404
    assert _client(users["heping"]).get(f"{CLAIMS_URL}{claim_id}/").status_code == 404
    assert line.resident_id  # the fixture's resident is real


def test_claim_lines_cannot_be_written(users):
    client = _client(users["operator"])

    assert client.post(CLAIMS_URL, {}, format="json").status_code == 405


def test_scope_rules_register_idempotently():
    register_scope_rules()
    register_scope_rules()
