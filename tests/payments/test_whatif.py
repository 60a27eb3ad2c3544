"""The what-if simulation (issue 3, Deliver 8): projected fund payable beside the current one,
computed by hand, validated with field errors, and never writing a run.

The ``community`` fixture (tests/payments/conftest.py): leap year 2024, DM2024 at 1830.00 a year
(5.00 a day). NK001: 518 member days, spending 180.74, Q 80.00 with counts (2, 1, 0, 0); HX001:
61 member days, spending 180.00, Q empty. Current (default tiers) payable: NK001 2108.15,
HX001 180.00.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments import whatif
from payments.formulas import RetentionTier
from payments.models import QualityAssessment, QualityTier, SettlementLine, SettlementRun
from payments.services.settlement import run_settlement
from payments.whatif import (
    Parameters,
    Source,
    WhatIfError,
    project,
    project_from_ledger,
    project_from_run,
)
from tests.factories.cloud_management import StaffRoleFactory

pytestmark = pytest.mark.django_db
D = Decimal
# 2196.00 a year is 6.00 a day in 2024; tiers Q ≥ 95 → 1.00, 80 ≤ Q < 95 → 0.60.
RATE = D("2196.00")
TIERS = (RetentionTier(D("95.00"), D("1.00")), RetentionTier(D("80.00"), D("0.60")))


@pytest.fixture
def settled(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    run = run_settlement(scheme=community["scheme"], period="2024")
    return {**community, "run": run}


def _by_code(projection):
    return {line.institution.code: line for line in projection.lines}


def test_projection_from_the_run_by_hand(settled):
    projection = project_from_run(run=settled["run"], parameters=Parameters(RATE, TIERS))

    lines = _by_code(projection)
    a, c = lines["NK001"], lines["HX001"]
    # NK001: budget 6 × 518 = 3108.00; balance 3108.00 − 180.74 = 2927.26; Q 80 → 0.60;
    # retained 2927.26 × 0.60 = 1756.356 → 1756.36; payable 180.74 + 1756.36 = 1937.10.
    assert (a.projected.budget, a.projected.balance) == (D("3108.00"), D("2927.26"))
    assert (a.projected.retention_ratio, a.projected.retained) == (D("0.60"), D("1756.36"))
    assert a.projected.fund_payable == D("1937.10")
    assert a.current.fund_payable == D("2108.15")
    assert a.difference == D("-171.05")
    # HX001: budget 6 × 61 = 366.00; no managed population → nothing retained; payable 180.00.
    assert (c.projected.budget, c.projected.retained, c.projected.fund_payable) == (
        D("366.00"),
        D("0.00"),
        D("180.00"),
    )
    assert c.difference == D("0.00")
    assert projection.current_fund_payable == D("2288.15")
    assert projection.projected_fund_payable == D("2117.10")
    assert projection.difference == D("-171.05")
    assert projection.source == Source.RUN


def test_a_low_rate_turns_a_surplus_into_an_overspend(settled):
    projection = project_from_run(run=settled["run"], parameters=Parameters(D("200.00"), TIERS))

    lines = _by_code(projection)
    # HX001: 200 × 61 / 366 = 33.333… → 33.33 < 180.00: overspend 146.67, payable 33.33.
    c = lines["HX001"].projected
    assert (c.budget, c.balance, c.overspend, c.retained, c.fund_payable) == (
        D("33.33"),
        D("-146.67"),
        D("146.67"),
        D("0.00"),
        D("33.33"),
    )
    # NK001: 200 × 518 / 366 = 283.06; balance 102.32 × 0.60 = 61.392 → 61.39;
    # payable 180.74 + 61.39 = 242.13.
    a = lines["NK001"].projected
    assert (a.budget, a.retained, a.fund_payable) == (D("283.06"), D("61.39"), D("242.13"))


def test_tier_boundary_is_inclusive(settled):
    # Q is exactly 80.00: a tier from 80.00 applies, one from 80.01 does not.
    at = project_from_run(
        run=settled["run"], parameters=Parameters(RATE, (RetentionTier(D("80.00"), D("0.30")),))
    )
    above = project_from_run(
        run=settled["run"], parameters=Parameters(RATE, (RetentionTier(D("80.01"), D("0.30")),))
    )

    # 2927.26 × 0.30 = 878.178 → 878.18.
    assert _by_code(at)["NK001"].projected.retained == D("878.18")
    assert _by_code(above)["NK001"].projected.retained == D("0.00")
    assert _by_code(above)["NK001"].projected.fund_payable == D("180.74")


def test_unchanged_parameters_project_the_run_itself(settled):
    projection = project(
        scheme=settled["scheme"],
        parameters=Parameters(D("1830.00"), tuple(settled["scheme"].retention_tiers())),
    )

    for line in projection.lines:
        assert line.projected == line.current
    assert projection.run == settled["run"]


def test_projection_from_the_ledger_matches_a_run(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    projection = project(
        scheme=community["scheme"], parameters=Parameters(RATE, TIERS), source=Source.RUN
    )

    # No finished annual run: the ledger is read, and the current figures are what a run
    # would record.
    assert projection.source == Source.LEDGER
    assert projection.run is None
    lines = _by_code(projection)
    assert lines["NK001"].current.fund_payable == D("2108.15")
    assert lines["NK001"].quality_score == D("80.00")
    assert lines["NK001"].projected.fund_payable == D("1937.10")
    assert lines["HX001"].projected.fund_payable == D("180.00")
    assert SettlementRun.objects.count() == 0


def test_projection_from_the_ledger_without_a_quality_provider(community, monkeypatch):
    # As before chronic_care registers its provider.
    monkeypatch.setattr(whatif, "get_quality_provider", lambda: None)

    projection = project_from_ledger(scheme=community["scheme"], parameters=Parameters(RATE, TIERS))

    assert projection.has_quality is False
    a = _by_code(projection)["NK001"]
    # Q empty → ratio 0.00: payable is the spending, 180.74.
    assert (a.quality_score, a.projected.retention_ratio, a.projected.fund_payable) == (
        None,
        D("0.00"),
        D("180.74"),
    )


def test_projection_for_some_institutions_only(settled):
    projection = project_from_run(
        run=settled["run"], parameters=Parameters(RATE, TIERS), institution_ids=[settled["a"].pk]
    )

    assert [line.institution.code for line in projection.lines] == ["NK001"]


def test_parameters_refuse_bad_values():
    with pytest.raises(WhatIfError):
        Parameters(D("-0.01"), TIERS)
    with pytest.raises(WhatIfError):
        Parameters(RATE, (RetentionTier(D("80"), D("1.01")),))
    with pytest.raises(WhatIfError):
        Parameters(RATE, (RetentionTier(D("80"), D("0.5")), RetentionTier(D("80"), D("0.6"))))


# --- The page ---------------------------------------------------------------------------------


def _what_if(client, user, **params):
    client.force_login(user)
    return client.get(reverse("settlements:what_if"), params)


def _inputs(**changes):
    data = {
        "scheme": "DM2024",
        "source": "run",
        "annual_rate": "2196.00",
        "tier_1_min_score": "95",
        "tier_1_ratio": "1.00",
        "tier_2_min_score": "80",
        "tier_2_ratio": "0.60",
    }
    data.update(changes)
    return data


def _row_counts():
    return (
        SettlementRun.objects.count(),
        SettlementLine.objects.count(),
        QualityAssessment.objects.count(),
        list(QualityTier.objects.order_by("pk").values_list("min_score", "retention_ratio")),
    )


def test_page_shows_projected_beside_current_and_writes_nothing(client, settled, city_regulator):
    before = _row_counts()

    with CaptureQueriesContext(connection) as queries:
        response = _what_if(client, city_regulator, **_inputs())

    assert response.status_code == 200
    lines = _by_code(response.context["projection"])
    assert (lines["NK001"].current.fund_payable, lines["NK001"].projected.fund_payable) == (
        D("2108.15"),
        D("1937.10"),
    )
    html = response.content.decode()
    for shown in ("2,108.15", "1,937.10", "-171.05", "3,108.00", "2,288.15", "2,117.10"):
        assert shown in html
    assert _row_counts() == before
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "payments_" in q["sql"]
    ]
    assert writes == []


def test_ledger_source_on_the_page_writes_no_run(
    client, community, quality_provider, city_regulator
):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)

    response = _what_if(client, city_regulator, **_inputs(source="ledger"))

    assert response.context["projection"].source == Source.LEDGER
    assert _by_code(response.context["projection"])["NK001"].projected.fund_payable == D("1937.10")
    assert SettlementRun.objects.count() == 0
    assert SettlementLine.objects.count() == 0


def test_first_visit_prefills_the_current_rate_and_tiers(client, settled, city_regulator):
    response = _what_if(client, city_regulator, scheme="DM2024")

    form = response.context["form"]
    assert form.is_bound is False
    assert form.initial["annual_rate"] == D("1830.00")
    assert [
        (form.initial[f"tier_{row}_min_score"], form.initial[f"tier_{row}_ratio"])
        for row in (1, 2, 3)
    ] == [(D("90.00"), D("1.00")), (D("80.00"), D("0.80")), (D("60.00"), D("0.50"))]
    projection = response.context["projection"]
    assert projection.difference == D("0.00")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"annual_rate": "-1"}, "annual_rate", "The annual rate cannot be negative."),
        ({"annual_rate": ""}, "annual_rate", None),
        ({"tier_1_ratio": "1.5"}, "tier_1_ratio", "A retention ratio lies between 0 and 1."),
        ({"tier_1_ratio": "-0.1"}, "tier_1_ratio", "A retention ratio lies between 0 and 1."),
        ({"tier_2_min_score": "101"}, "tier_2_min_score", "A threshold lies between 0 and 100."),
        (
            {"tier_2_min_score": "95"},
            "tier_2_min_score",
            "Tier 2 starts at 95, as tier 1 does: tiers must not overlap.",
        ),
        ({"tier_2_ratio": ""}, "tier_2_ratio", "Tier 2 has a threshold but no ratio."),
        (
            {"tier_3_ratio": "0.5"},
            "tier_3_min_score",
            "Tier 3 has a ratio but no threshold.",
        ),
    ],
)
def test_bad_inputs_are_field_errors_and_change_nothing(
    client, settled, city_regulator, changes, field, message
):
    before = _row_counts()
    client.cookies["django_language"] = "en"

    response = _what_if(client, city_regulator, **_inputs(**changes))

    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == [field]
    if message is not None:
        assert form.errors[field] == [message]
    assert response.context["projection"] is None
    assert _row_counts() == before


def test_all_tiers_may_be_dropped(settled):
    projection = project_from_run(run=settled["run"], parameters=Parameters(RATE, ()))

    # No tier: nothing is retained anywhere.
    assert _by_code(projection)["NK001"].projected.fund_payable == D("180.74")


@pytest.mark.parametrize("role", ["doctor", "institution_admin"])
def test_staff_cannot_simulate(client, settled, role):
    user = StaffRoleFactory(role=role, institution=settled["a"]).user

    assert _what_if(client, user, **_inputs()).status_code == 404
