"""The payments admin: who sees what (every role), 404 for another scope's row, read-only for
regulators, tier validation on the form, and the "start a settlement run" button."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from cloud_management.admin_paginator import LargeTablePaginator
from cloud_management.models import StaffRole
from payments.admin import ClaimLineAdmin
from payments.models import (
    ClaimLine,
    QualityAssessment,
    QualityTier,
    Scheme,
    SettlementLine,
    SettlementRun,
)
from tests.factories.cloud_management import PatientFactory, StaffRoleFactory
from tests.factories.payments import ClaimLineFactory, SchemeFactory

pytestmark = pytest.mark.django_db
D = Decimal
ADMIN = "/admin/payments/"
ROLES = ("operator", "city_regulator", "district_regulator", "doctor", "other_doctor")


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def _client(user: Any) -> Client:
    # The admin follows the browser's language (Chinese by default); these tests read English.
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def world(
    home_institution: Any,
    other_institution: Any,
    operator: Any,
    city_regulator: Any,
    district_regulator: Any,
    doctor: Any,
) -> dict[str, Any]:
    """NK001 (district 120104, the district regulator's and the doctor's) and HP001 (120101,
    the other doctor's), each with a claim line, a settlement line and a quality assessment of
    one finished run."""
    other_doctor = StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=other_institution).user
    scheme = SchemeFactory(code="DM2025", year=2025)
    nk_patient = PatientFactory(home_institution=home_institution)
    hp_patient = PatientFactory(home_institution=other_institution)
    claims = {
        "nk": ClaimLineFactory(claim_id="YB-NK", patient=nk_patient, institution=home_institution),
        "hp": ClaimLineFactory(claim_id="YB-HP", patient=hp_patient, institution=other_institution),
    }
    run = SettlementRun.objects.create(
        scheme=scheme,
        period="2025",
        period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 12, 31),
        status=SettlementRun.Status.FINISHED,
        progress=100,
        institutions_total=2,
    )
    lines, assessments = {}, {}
    for key, institution in (("nk", home_institution), ("hp", other_institution)):
        lines[key] = SettlementLine.objects.create(
            run=run,
            institution=institution,
            enrolees=1,
            member_days=365,
            budget=D("1200.00"),
            spending=D("80.00"),
            balance=D("1120.00"),
            quality_score=D("85.00"),
            retention_ratio=D("0.80"),
            retained=D("896.00"),
            overspend=D("0.00"),
            fund_payable=D("976.00"),
        )
        assessments[key] = QualityAssessment.objects.create(
            run=run, institution=institution, managed_population=1, score=D("85.00")
        )
    return {
        "users": {
            "operator": operator,
            "city_regulator": city_regulator,
            "district_regulator": district_regulator,
            "doctor": doctor,
            "other_doctor": other_doctor,
        },
        "scheme": scheme,
        "run": run,
        "claims": claims,
        "lines": lines,
        "assessments": assessments,
    }


# -- who sees what ----------------------------------------------------------------------------

# Rows each role sees in each changelist ("-": the page is refused, 403).
SCOPED = {
    "operator": {"nk", "hp"},
    "city_regulator": {"nk", "hp"},
    "district_regulator": {"nk"},
    "doctor": {"nk"},
    "other_doctor": {"hp"},
}
CITY_WIDE = {
    "operator": True,
    "city_regulator": True,
    "district_regulator": True,
    "doctor": False,
    "other_doctor": False,
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("model", "rows"),
    [("claimline", "claims"), ("settlementline", "lines"), ("qualityassessment", "assessments")],
)
def test_scoped_lists_show_only_the_users_institutions(
    world: dict[str, Any], role: str, model: str, rows: str
) -> None:
    response = _client(world["users"][role]).get(f"{ADMIN}{model}/")

    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert shown == {world[rows][key].pk for key in SCOPED[role]}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("model", "rows"),
    [("claimline", "claims"), ("settlementline", "lines"), ("qualityassessment", "assessments")],
)
def test_another_scopes_row_is_404_and_an_own_row_is_read_only(
    world: dict[str, Any], role: str, model: str, rows: str
) -> None:
    client = _client(world["users"][role])
    for key in ("nk", "hp"):
        obj = world[rows][key]
        response = client.get(f"{ADMIN}{model}/{obj.pk}/change/")
        if key in SCOPED[role]:
            assert response.status_code == 200
            assert response.context["has_change_permission"] is False
            assert client.post(f"{ADMIN}{model}/{obj.pk}/change/", {}).status_code == 403
        else:
            assert response.status_code == 404
    assert client.get(f"{ADMIN}{model}/add/").status_code == 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", ["scheme", "settlementrun"])
def test_schemes_and_runs_are_for_operators_and_regulators(
    world: dict[str, Any], role: str, model: str
) -> None:
    client = _client(world["users"][role])
    obj = world["scheme"] if model == "scheme" else world["run"]

    listed = client.get(f"{ADMIN}{model}/")
    detail = client.get(f"{ADMIN}{model}/{obj.pk}/change/")

    if CITY_WIDE[role]:
        assert listed.status_code == 200
        assert [o.pk for o in listed.context["cl"].result_list] == [obj.pk]
        assert detail.status_code == 200
    else:
        assert listed.status_code == 403
        assert detail.status_code in (403, 404)


def test_a_patient_login_is_sent_to_the_admin_login(
    world: dict[str, Any], patient_with_login: Any
) -> None:
    client = _client(patient_with_login.user)
    for model in ("scheme", "claimline", "settlementrun"):
        response = client.get(f"{ADMIN}{model}/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_app_index_lists_what_each_role_may_see(world: dict[str, Any]) -> None:
    def models_of(role: str) -> set[str]:
        response = _client(world["users"][role]).get("/admin/payments/")
        return {m["object_name"] for m in response.context["app_list"][0]["models"]}

    everything = {
        "ClaimLine",
        "QualityAssessment",
        "Scheme",
        "SettlementLine",
        "SettlementRun",
    }
    assert everything <= models_of("operator")
    assert everything <= models_of("district_regulator")
    assert models_of("doctor") & everything == {"ClaimLine", "QualityAssessment", "SettlementLine"}


# -- schemes and tiers ------------------------------------------------------------------------


def _scheme_form(scheme: Scheme, tiers: list[tuple[str, str]], **changes: str) -> dict[str, str]:
    """The change form as the browser posts it: existing tiers first, then new ones."""
    data = {
        "code": scheme.code,
        "name": scheme.name,
        "kind": scheme.kind,
        "year": str(scheme.year),
        "annual_rate": str(scheme.annual_rate),
        "diagnosis_prefixes": scheme.diagnosis_prefixes,
        "categories": scheme.categories,
        **changes,
    }
    existing = list(scheme.tiers.order_by("-min_score")) if scheme.pk else []
    data.update(
        {
            "tiers-TOTAL_FORMS": str(max(len(tiers), len(existing))),
            "tiers-INITIAL_FORMS": str(len(existing)),
            "tiers-MIN_NUM_FORMS": "0",
            "tiers-MAX_NUM_FORMS": "1000",
        }
    )
    for i in range(max(len(tiers), len(existing))):
        if i < len(existing):
            data[f"tiers-{i}-id"] = str(existing[i].pk)
            data[f"tiers-{i}-scheme"] = str(scheme.pk)
        if i < len(tiers):
            data[f"tiers-{i}-min_score"], data[f"tiers-{i}-retention_ratio"] = tiers[i]
        else:
            data[f"tiers-{i}-min_score"] = str(existing[i].min_score)
            data[f"tiers-{i}-retention_ratio"] = str(existing[i].retention_ratio)
            data[f"tiers-{i}-DELETE"] = "on"
    return data


def _tiers(scheme: Scheme) -> list[tuple[Decimal, Decimal]]:
    return list(scheme.tiers.order_by("-min_score").values_list("min_score", "retention_ratio"))


DEFAULTS = [(D("90.00"), D("1.00")), (D("80.00"), D("0.80")), (D("60.00"), D("0.50"))]


def test_an_operator_edits_a_schemes_rate_and_tiers(world: dict[str, Any]) -> None:
    scheme = world["scheme"]
    data = _scheme_form(
        scheme, [("95", "1"), ("75", "0.6"), ("50", "0.25"), ("0", "0")], annual_rate="1300.00"
    )

    response = _client(world["users"]["operator"]).post(f"{ADMIN}scheme/{scheme.pk}/change/", data)

    assert response.status_code == 302
    scheme.refresh_from_db()
    assert scheme.annual_rate == D("1300.00")
    assert _tiers(scheme) == [
        (D("95.00"), D("1.00")),
        (D("75.00"), D("0.60")),
        (D("50.00"), D("0.25")),
        (D("0.00"), D("0.00")),
    ]


@pytest.mark.parametrize(
    ("tiers", "error"),
    [
        ([("90", "1.5"), ("80", "0.8"), ("60", "0.5")], "A retention ratio lies between 0 and 1."),
        ([("90", "-0.1"), ("80", "0.8"), ("60", "0.5")], "A retention ratio lies between 0 and 1."),
        ([("120", "1"), ("80", "0.8"), ("60", "0.5")], "A threshold lies between 0 and 100."),
        (
            [("90", "1"), ("80", "0.8"), ("80", "0.5")],
            "Tiers 2 and 3 both start at the score 80; each tier needs a threshold of its own.",
        ),
    ],
)
def test_bad_tiers_are_refused_on_the_form_and_nothing_changes(
    world: dict[str, Any], tiers: list[tuple[str, str]], error: str
) -> None:
    scheme = world["scheme"]
    data = _scheme_form(scheme, tiers, annual_rate="1300.00")

    response = _client(world["users"]["operator"]).post(f"{ADMIN}scheme/{scheme.pk}/change/", data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    messages = [str(m) for m in formset.non_form_errors()] + [
        str(m) for form_errors in formset.errors for ms in form_errors.values() for m in ms
    ]
    assert error in messages
    scheme.refresh_from_db()
    assert scheme.annual_rate == D("1200.00")
    assert _tiers(scheme) == DEFAULTS


def test_a_bad_category_is_refused_by_the_schemes_own_validation(world: dict[str, Any]) -> None:
    scheme = world["scheme"]
    data = _scheme_form(scheme, [], categories="outpatient;dental")

    response = _client(world["users"]["operator"]).post(f"{ADMIN}scheme/{scheme.pk}/change/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["categories"] == [
        "Unknown categories: dental."
    ]
    assert _tiers(scheme) == DEFAULTS


def test_the_database_holds_the_tier_rules_too(world: dict[str, Any]) -> None:
    from django.db import IntegrityError, transaction

    scheme = world["scheme"]
    for values in ({"min_score": D("70"), "retention_ratio": D("1.10")}, {"min_score": D("90")}):
        with pytest.raises(IntegrityError), transaction.atomic():
            QualityTier.objects.create(scheme=scheme, **{"retention_ratio": D("0.5"), **values})


def test_a_new_scheme_without_tiers_gets_the_default_tiers(world: dict[str, Any]) -> None:
    new = Scheme(
        code="FD2025",
        name="家庭医生签约",
        kind="per_capita",
        year=2025,
        annual_rate=D("300.00"),
        diagnosis_prefixes="",
        categories="outpatient",
    )
    data = _scheme_form(new, [])

    response = _client(world["users"]["operator"]).post(f"{ADMIN}scheme/add/", data)

    assert response.status_code == 302
    assert _tiers(Scheme.objects.get(code="FD2025")) == DEFAULTS


def test_a_regulator_reads_a_scheme_but_cannot_change_it(world: dict[str, Any]) -> None:
    scheme = world["scheme"]
    client = _client(world["users"]["district_regulator"])

    page = client.get(f"{ADMIN}scheme/{scheme.pk}/change/")
    posted = client.post(
        f"{ADMIN}scheme/{scheme.pk}/change/",
        _scheme_form(scheme, [("90", "0.1")], annual_rate="1.00"),
    )

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    # The tiers are shown to the regulator, read-only.
    assert "Q ≥ 90.00 → 1.00" in page.content.decode()
    assert page.context["inline_admin_formsets"][0].has_change_permission is False
    assert posted.status_code == 403
    assert client.get(f"{ADMIN}scheme/add/").status_code == 403
    scheme.refresh_from_db()
    assert (scheme.annual_rate, _tiers(scheme)) == (D("1200.00"), DEFAULTS)


def test_the_scheme_list_shows_the_tiers(world: dict[str, Any]) -> None:
    response = _client(world["users"]["city_regulator"]).get(f"{ADMIN}scheme/")

    assert "Q ≥ 90.00 → 1.00; Q ≥ 80.00 → 0.80; Q ≥ 60.00 → 0.50" in response.content.decode()


# -- settlement runs --------------------------------------------------------------------------

START = f"{ADMIN}settlementrun/start/"


def test_the_run_list_shows_status_and_progress(world: dict[str, Any]) -> None:
    running = SettlementRun.objects.create(
        scheme=world["scheme"],
        period="2025-03",
        period_start=dt.date(2025, 3, 1),
        period_end=dt.date(2025, 3, 31),
        status=SettlementRun.Status.RUNNING,
        progress=40,
    )

    response = _client(world["users"]["district_regulator"]).get(f"{ADMIN}settlementrun/")

    html = response.content.decode()
    assert '<progress max="100" value="40"></progress> 40%' in html
    assert '<progress max="100" value="100"></progress> 100%' in html
    assert [r.pk for r in response.context["cl"].result_list] == [running.pk, world["run"].pk]
    # The button is the operators'.
    assert START not in html


def test_an_operator_starts_a_run_with_the_button(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(world["users"]["operator"])
    assert START in client.get(f"{ADMIN}settlementrun/").content.decode()
    assert client.get(START).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(START, {"scheme": world["scheme"].pk, "period": "2025-03"})

    run = SettlementRun.objects.get(period="2025-03")
    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}settlementrun/{run.pk}/change/"
    # No broker in the tests: the run's task ran in this process, as the command's would.
    assert (run.status, run.progress) == (SettlementRun.Status.FINISHED, 100)
    assert set(run.lines.values_list("institution__code", flat=True)) <= {"NK001", "HP001"}


def test_the_button_gives_the_run_under_way_instead_of_a_second(world: dict[str, Any]) -> None:
    under_way = SettlementRun.objects.create(
        scheme=world["scheme"],
        period="2025-03",
        period_start=dt.date(2025, 3, 1),
        period_end=dt.date(2025, 3, 31),
        status=SettlementRun.Status.RUNNING,
        progress=10,
    )

    response = _client(world["users"]["operator"]).post(
        START, {"scheme": world["scheme"].pk, "period": "2025-03"}, follow=True
    )

    assert response.redirect_chain == [(f"{ADMIN}settlementrun/{under_way.pk}/change/", 302)]
    assert SettlementRun.objects.filter(period="2025-03").count() == 1
    assert [str(m) for m in response.context["messages"]] == [
        f"A run for DM2025 2025-03 is already under way: run {under_way.pk}, running, 10%."
    ]


def test_a_bad_period_is_an_error_on_the_form_and_starts_nothing(world: dict[str, Any]) -> None:
    response = _client(world["users"]["operator"]).post(
        START, {"scheme": world["scheme"].pk, "period": "2024-03"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["period"] == [
        "The scheme DM2025 is for 2025; 2024-03 is another year."
    ]
    assert SettlementRun.objects.count() == 1


@pytest.mark.parametrize("role", ["city_regulator", "district_regulator", "doctor"])
def test_only_operators_may_start_a_run(world: dict[str, Any], role: str) -> None:
    client = _client(world["users"][role])

    assert client.get(START).status_code == 403
    assert (
        client.post(START, {"scheme": world["scheme"].pk, "period": "2025-03"}).status_code == 403
    )
    assert SettlementRun.objects.count() == 1


# -- the ledger on a big table ----------------------------------------------------------------


def test_the_claim_list_pages_without_counting_the_whole_ledger() -> None:
    assert ClaimLineAdmin.paginator is LargeTablePaginator
    assert ClaimLineAdmin.show_full_result_count is False


def test_the_claim_list_takes_a_fixed_number_of_queries(
    world: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = _client(world["users"]["district_regulator"])
    client.get(f"{ADMIN}claimline/")
    for _ in range(30):
        ClaimLineFactory(patient=world["claims"]["nk"].patient)

    with django_assert_max_num_queries(12):
        response = client.get(f"{ADMIN}claimline/")

    assert len(response.context["cl"].result_list) == 31


def test_the_claim_search_finds_a_claim_id_or_a_residents_lines(world: dict[str, Any]) -> None:
    client = _client(world["users"]["operator"])
    nk_line = world["claims"]["nk"]

    by_id = client.get(f"{ADMIN}claimline/", {"q": "YB-HP"})
    by_resident = client.get(f"{ADMIN}claimline/", {"q": nk_line.patient.resident_id})

    assert [c.claim_id for c in by_id.context["cl"].result_list] == ["YB-HP"]
    assert [c.claim_id for c in by_resident.context["cl"].result_list] == ["YB-NK"]


def test_the_claim_search_stays_in_scope(world: dict[str, Any]) -> None:
    response = _client(world["users"]["doctor"]).get(f"{ADMIN}claimline/", {"q": "YB-HP"})

    assert list(response.context["cl"].result_list) == []


def test_claim_lines_cannot_be_changed_even_by_an_operator(world: dict[str, Any]) -> None:
    line = world["claims"]["nk"]
    client = _client(world["users"]["operator"])

    response = client.post(f"{ADMIN}claimline/{line.pk}/change/", {"fund_paid": "1.00"})

    assert response.status_code == 403
    assert client.post(f"{ADMIN}claimline/{line.pk}/delete/", {"post": "yes"}).status_code == 403
    line.refresh_from_db()
    assert line.fund_paid == D("80.00")
    assert ClaimLine.objects.count() == 2
