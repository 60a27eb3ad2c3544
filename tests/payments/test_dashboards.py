"""The regulator settlement dashboards at /dashboards/settlements/ (issue 3, Deliver 5 and 6).

The ``community`` fixture (tests/payments/conftest.py) gives the data; with quality counts
(2, 1, 0, 0) for NK001 the annual run of DM2024 has, by hand (see test_settlement.py):

    NK001 (南开 120104): 3 enrolees, 518 member days, budget 2590.00, spending 180.74,
          balance 2409.26, Q 80.00, ratio 0.80, retained 1927.41, payable 2108.15
    HX001 (河西 120102): 1 enrolee, 61 member days, budget 305.00, spending 180.00,
          balance 125.00, Q empty, ratio 0.00, retained 0.00, payable 180.00

and the monthly run of 2024-11: NK001 P1 30 + P3 30 days → 300.00, spending 0.00, payable 0.00;
HX001 P4 30 days → 150.00, spending 180.00, payable min(180.00, 150.00) = 150.00.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cloud_management.models import StaffRole
from payments import selectors, views
from payments.dashboard_selectors import FigureRow, TrendSource
from payments.models import SettlementLine, SettlementRun
from payments.services.settlement import run_settlement
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)
from tests.factories.payments import ClaimLineFactory

pytestmark = pytest.mark.django_db
D = Decimal
QUERY = "scheme=DM2024&period=2024"


@pytest.fixture
def settled(community, quality_provider):
    quality_provider.counts["NK001"] = (2, 1, 0, 0)
    annual = run_settlement(scheme=community["scheme"], period="2024")
    november = run_settlement(scheme=community["scheme"], period="2024-11")
    assert annual.status == november.status == SettlementRun.Status.FINISHED
    return {**community, "run": annual, "november": november}


def _client(client, user):
    client.force_login(user)
    return client


def _url(name, *args, query=QUERY):
    return f"{reverse(f'settlements:{name}', args=args)}?{query}"


def _staff(institution, role=StaffRole.Role.DOCTOR):
    return StaffRoleFactory(role=role, institution=institution).user


# --- Scoping per role ----------------------------------------------------------------------------

ALL_PAGES = [
    ("index", ()),
    ("district", ("120104",)),
    ("district", ("120102",)),
    ("institution", ("NK001",)),
    ("institution", ("HX001",)),
    ("members", ("NK001",)),
    ("members", ("HX001",)),
    ("claims", ("NK001",)),
    ("claims", ("HX001",)),
    ("download_csv", ()),
    ("download_xlsx", ()),
    ("what_if", ()),
]


def _statuses(client):
    return {(name, args): client.get(_url(name, *args)).status_code for name, args in ALL_PAGES}


def test_anonymous_visitors_are_sent_to_the_login_page(client, settled):
    for name, args in ALL_PAGES:
        response = client.get(_url(name, *args))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("cloud_management:login")), name


def test_patients_and_users_without_a_role_get_404_everywhere(client, settled, patient_with_login):
    assert set(_statuses(_client(client, patient_with_login.user)).values()) == {404}
    client.logout()
    assert set(_statuses(_client(client, UserFactory(username="nobody"))).values()) == {404}


@pytest.mark.parametrize("who", ["operator", "city_regulator"])
def test_operators_and_city_regulators_see_everything(client, settled, request, who):
    statuses = _statuses(_client(client, request.getfixturevalue(who)))
    assert set(statuses.values()) == {200}


def test_district_regulator_sees_only_their_district(client, settled, district_regulator):
    statuses = _statuses(_client(client, district_regulator))

    assert statuses == {
        ("index", ()): 200,
        ("district", ("120104",)): 200,
        ("district", ("120102",)): 404,
        ("institution", ("NK001",)): 200,
        ("institution", ("HX001",)): 404,
        ("members", ("NK001",)): 200,
        ("members", ("HX001",)): 404,
        ("claims", ("NK001",)): 200,
        ("claims", ("HX001",)): 404,
        ("download_csv", ()): 200,
        ("download_xlsx", ()): 200,
        ("what_if", ()): 200,
    }
    # Another district is absent from the city page, the downloads and the what-if.
    index = client.get(_url("index"))
    assert [row.code for row in index.context["rows"]] == ["120104"]
    assert "HX001" not in index.content.decode()
    assert "河西区" not in index.content.decode()
    csv_text = client.get(_url("download_csv")).content.decode("utf-8-sig")
    assert [line.split(",")[0] for line in csv_text.splitlines()] == ["institution_code", "NK001"]
    assert client.get(_url("download_csv", query=QUERY + "&district=120102")).status_code == 404
    what_if = client.get(_url("what_if", query="scheme=DM2024"))
    assert [line.institution.code for line in what_if.context["projection"].lines] == ["NK001"]


def test_staff_see_their_own_institution_only(client, settled):
    doctor = _staff(settled["a"])
    statuses = _statuses(_client(client, doctor))

    assert statuses == {
        ("index", ()): 200,
        ("district", ("120104",)): 404,
        ("district", ("120102",)): 404,
        ("institution", ("NK001",)): 200,
        ("institution", ("HX001",)): 404,
        ("members", ("NK001",)): 200,
        ("members", ("HX001",)): 404,
        ("claims", ("NK001",)): 200,
        ("claims", ("HX001",)): 404,
        ("download_csv", ()): 200,
        ("download_xlsx", ()): 200,
        ("what_if", ()): 404,
    }
    index = client.get(_url("index"))
    assert [row.code for row in index.context["rows"]] == ["NK001"]


def test_staff_who_do_not_keep_the_registry_see_the_line_but_not_the_members(client, settled):
    pharmacist = _staff(settled["a"], StaffRole.Role.PHARMACIST)
    _client(client, pharmacist)

    page = client.get(_url("institution", "NK001"))
    assert page.status_code == 200
    assert page.context["may_trace"] is False
    assert reverse("settlements:members", args=["NK001"]) not in page.content.decode()
    assert client.get(_url("members", "NK001")).status_code == 404
    assert client.get(_url("claims", "NK001")).status_code == 404


def test_a_staff_member_who_is_also_a_patient_sees_only_their_workplace(client, settled):
    # Their patient record makes HX001 theirs for the patient pages, not for settlements.
    user = _staff(settled["a"])
    patient = settled["p"][3]
    patient.user = user
    patient.save()
    _client(client, user)

    assert client.get(_url("institution", "HX001")).status_code == 404
    assert client.get(_url("institution", "NK001")).status_code == 200


# --- Figures equal the run's lines -


def test_city_page_sums_the_lines_per_district(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("index"))

    assert response.context["selection"].run == settled["run"]
    nankai, hexi = (
        FigureRow(
            code="120104",
            name=district("120104").name,
            institutions=1,
            enrolees=3,
            member_days=518,
            claim_lines=4,
            budget=D("2590.00"),
            spending=D("180.74"),
            balance=D("2409.26"),
            overspend=D("0.00"),
            fund_payable=D("2108.15"),
            retained=D("1927.41"),
            quality_score=D("80.00"),
            retention_ratio=None,
        ),
        FigureRow(
            code="120102",
            name=district("120102").name,
            institutions=1,
            enrolees=1,
            member_days=61,
            claim_lines=2,
            budget=D("305.00"),
            spending=D("180.00"),
            balance=D("125.00"),
            overspend=D("0.00"),
            fund_payable=D("180.00"),
            retained=D("0.00"),
            quality_score=None,
            retention_ratio=None,
        ),
    )
    assert response.context["rows"] == [hexi, nankai]
    total = response.context["total"]
    assert (total.budget, total.spending, total.balance) == (
        D("2895.00"),
        D("360.74"),
        D("2534.26"),
    )
    assert (total.retained, total.overspend, total.fund_payable) == (
        D("1927.41"),
        D("0.00"),
        D("2288.15"),
    )
    # The mean of the scored institutions' scores: NK001 only.
    assert total.quality_score == D("80.00")
    # 2409.26 / 2590.00 = 93.0216…%; 125.00 / 305.00 = 40.9836…%; 2534.26 / 2895.00 = 87.539…%
    assert nankai.surplus_rate == D("93.02")
    assert hexi.surplus_rate == D("40.98")
    assert total.surplus_rate == D("87.54")
    html = response.content.decode()
    for shown in (
        "2,590.00",
        "2,409.26",
        "1,927.41",
        "2,108.15",
        "2,895.00",
        "2,288.15",
        "93.02%",
        "40.98%",
        "87.54%",
    ):
        assert shown in html
    # The chart is inline SVG drawn by pygal, loading nothing from outside (no CDN): the only
    # script is pygal's inline configuration, and nothing on the page has a src or href to
    # another host.
    assert 'class="chart pygal-chart"' in html
    assert "<script src" not in html
    assert 'xlink:href="http' not in html
    assert "kozea.github.io" not in html


def test_district_page_shows_each_institution_line(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("district", "120104"))

    (row,) = response.context["rows"]
    line = settled["run"].lines.get(institution__code="NK001")
    assert (row.code, row.enrolees, row.member_days, row.claim_lines) == ("NK001", 3, 518, 4)
    assert (row.budget, row.spending, row.balance) == (line.budget, line.spending, line.balance)
    assert (row.quality_score, row.retention_ratio, row.retained) == (
        D("80.00"),
        D("0.80"),
        D("1927.41"),
    )
    assert (row.overspend, row.fund_payable) == (D("0.00"), D("2108.15"))
    assert "total" not in response.context  # one row: no total line


def test_institution_page_shows_the_line_and_each_indicator(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("institution", "NK001"))

    assert response.context["line"] == settled["run"].lines.get(institution__code="NK001")
    indicators = {
        row.indicator: (row.numerator, row.denominator, row.value, row.points)
        for row in response.context["indicators"]
    }
    # SMR 2/2 → 40; GCR 1/2 = 0.5 / 0.6 → 25; HTR 0/2 → 0; GCI (1 − 0)/2 = 0.5 ≥ 0.1 → 15.
    assert indicators == {
        "SMR": (2, 2, D("1.0000"), D("40.00")),
        "GCR": (1, 2, D("0.5000"), D("25.00")),
        "HTR": (0, 2, D("0.0000"), D("0.00")),
        "GCI": (1, 2, D("0.5000"), D("15.00")),
    }
    assert response.context["assessment"].score == D("80.00")
    html = response.content.decode()
    assert "2,108.15" in html
    assert "50.00%" in html  # GCR as a percentage


def test_institution_without_managed_population_has_no_indicators(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("institution", "HX001"))

    assert response.context["assessment"].managed_population == 0
    assert "indicators" not in response.context
    assert response.context["row"].fund_payable == D("180.00")


def test_interim_period_shows_no_quality_columns(client, settled, city_regulator):
    response = _client(client, city_regulator).get(
        _url("index", query="scheme=DM2024&period=2024-11")
    )

    assert response.context["selection"].run == settled["november"]
    assert [
        (row.code, row.budget, row.spending, row.fund_payable, row.retained)
        for row in response.context["rows"]
    ] == [
        ("120102", D("150.00"), D("180.00"), D("150.00"), None),
        ("120104", D("300.00"), D("0.00"), D("0.00"), None),
    ]
    assert response.context["total"].overspend == D("30.00")
    # No quality score, retention ratio or retained column: 10 columns instead of 12.
    assert _first_table_columns(response) == 10
    final = client.get(_url("index"))
    assert _first_table_columns(final) == 12


def _first_table_columns(response):
    html = response.content.decode()
    first_table = html[html.index("<table") : html.index("</table>")]
    return first_table.count('<th scope="col"')


# --- Monthly trend -


def test_trend_takes_monthly_runs_and_computes_the_other_months(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("index"))

    trend = {month.period: month for month in response.context["trend"]}
    assert len(trend) == 12
    november = trend["2024-11"]
    assert (november.source, november.budget, november.spending, november.fund_payable) == (
        TrendSource.RUN,
        D("450.00"),
        D("180.00"),
        D("150.00"),
    )
    # February: P1's 29 days at NK001 (5.00 a day), the leap-day claim of 100.00.
    february = trend["2024-02"]
    assert (february.source, february.budget, february.spending, february.fund_payable) == (
        TrendSource.COMPUTED,
        D("145.00"),
        D("100.00"),
        None,
    )
    # December: P1 31 + P3 31 days at NK001, P4 31 at HX001 → 93 × 5.00; P3's 9.99.
    december = trend["2024-12"]
    assert (december.budget, december.spending) == (D("465.00"), D("9.99"))
    assert response.context["trend_has_computed"] is True


def test_district_regulator_trend_counts_their_district_only(client, settled, district_regulator):
    response = _client(client, district_regulator).get(_url("index"))

    trend = {month.period: month for month in response.context["trend"]}
    assert (trend["2024-11"].budget, trend["2024-11"].spending) == (D("300.00"), D("0.00"))
    assert (trend["2024-12"].budget, trend["2024-12"].spending) == (D("310.00"), D("9.99"))


# --- Drill-down to members and claim lines -------------------------------------------------------


def _resident_ids(html):
    return set(re.findall(r"\b\d{17}[\dX]\b", html))


def test_members_page_lists_the_memberships_with_masked_ids(client, settled, district_regulator):
    response = _client(client, district_regulator).get(_url("members", "NK001"))

    p1, p2, p3, _p4 = settled["p"]
    rows = [
        (r.masked_resident_id, r.start, r.end, r.covered_days) for r in response.context["rows"]
    ]
    assert rows == [
        (p1.masked_resident_id, dt.date(2023, 5, 1), None, 366),
        (p2.masked_resident_id, dt.date(2024, 3, 1), dt.date(2024, 4, 30), 61),
        (p3.masked_resident_id, dt.date(2024, 10, 2), None, 91),
    ]
    assert sum(r.covered_days for r in response.context["rows"]) == 518
    html = response.content.decode()
    assert _resident_ids(html) == set()
    assert p1.masked_resident_id in html


def test_members_page_is_paginated(client, settled, city_regulator, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    _client(client, city_regulator)

    first = client.get(_url("members", "NK001"))
    second = client.get(_url("members", "NK001", query=QUERY + "&page=2"))

    assert len(first.context["rows"]) == 2
    assert [r.covered_days for r in second.context["rows"]] == [91]
    assert "?scheme=DM2024&amp;period=2024&amp;page=2" in first.content.decode()


def test_claims_page_lists_the_lines_behind_the_spending(client, settled, city_regulator):
    # verify=1 recounts the lines from the ledger (the page itself shows the run's figures).
    response = _client(client, city_regulator).get(
        _url("claims", "NK001", query=QUERY + "&verify=1")
    )

    claims = list(response.context["page"].object_list)
    assert [(c.service_date, c.fund_paid) for c in claims] == [
        (dt.date(2024, 2, 29), D("100.00")),
        (dt.date(2024, 4, 30), D("20.25")),
        (dt.date(2024, 6, 1), D("50.50")),
        (dt.date(2024, 12, 31), D("9.99")),
    ]
    # The line given at HP001 counts against NK001, its member's responsible institution.
    assert claims[2].institution.code == "HP001"
    assert (response.context["count"], response.context["paid"]) == (4, D("180.74"))
    assert response.context["matches_run"] is True
    html = response.content.decode()
    assert _resident_ids(html) == set()
    assert settled["p"][0].masked_resident_id in html


def test_claims_page_says_when_the_ledger_changed_after_the_run(client, settled, city_regulator):
    ClaimLineFactory(
        patient=settled["p"][0],
        institution=settled["a"],
        service_date=dt.date(2024, 9, 9),
        category="pharmacy",
        diagnosis_code="E11.9",
        total_amount=D("20.00"),
        fund_paid=D("15.00"),
    )

    response = _client(client, city_regulator).get(
        _url("claims", "NK001", query=QUERY + "&verify=1")
    )

    assert (response.context["count"], response.context["paid"]) == (5, D("195.74"))
    assert response.context["matches_run"] is False


def _walk_claim_pages(client, code, query=QUERY):
    """Every page of the claims page from the first, following its "more" link: the lines shown
    and the number of pages."""
    url = _url("claims", code, query=query)
    shown = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages += 1
        shown += list(response.context["page"].object_list)
        more = re.search(r'href="(\?[^"]*)" rel="next"', response.content.decode())
        url = (
            reverse("settlements:claims", args=[code]) + more.group(1).replace("&amp;", "&")
            if more
            else ""
        )
        assert pages <= 50
    return shown, pages


def test_claims_pages_show_exactly_the_lines_behind_the_spending(
    client, settled, city_regulator, monkeypatch
):
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    _client(client, city_regulator)

    shown, pages = _walk_claim_pages(client, "NK001")

    # The 4 lines behind NK001's 180.74 and none of the 9 the run left out (conftest).
    assert [(c.service_date, c.fund_paid) for c in shown] == [
        (dt.date(2024, 2, 29), D("100.00")),
        (dt.date(2024, 4, 30), D("20.25")),
        (dt.date(2024, 6, 1), D("50.50")),
        (dt.date(2024, 12, 31), D("9.99")),
    ]
    assert pages == 4
    line = SettlementLine.objects.get(run=settled["run"], institution=settled["a"])
    assert (len(shown), sum(c.fund_paid for c in shown)) == (line.claim_lines, line.spending)

    november, pages = _walk_claim_pages(client, "HX001", query="scheme=DM2024&period=2024-11")
    assert [(c.service_date, c.fund_paid, c.institution.code) for c in november] == [
        (dt.date(2024, 11, 15), D("100.00"), "HX001"),
        (dt.date(2024, 11, 20), D("80.00"), "HP001"),
    ]


def test_claims_pages_match_the_ledger_selector_with_ties_and_a_second_enrolment(
    client, community, quality_provider, city_regulator, monkeypatch
):
    a, b = community["a"], community["b"]
    p1, p2 = community["p"][:2]
    # Five lines on one day (ties broken by id across pages), and P2 enrolled again from June:
    # 2024-05-01 stays out (between the two enrolments), 2024-06-15 counts.
    for fund in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        ClaimLineFactory(
            patient=p1,
            institution=b,
            service_date=dt.date(2024, 3, 3),
            category="outpatient",
            diagnosis_code="E11",
            total_amount=D("9.00"),
            fund_paid=D(fund),
        )
    DiabetesEnrollmentFactory(patient=p2, institution=a, enrolled_on=dt.date(2024, 6, 1))
    ClaimLineFactory(
        patient=p2,
        institution=a,
        service_date=dt.date(2024, 6, 15),
        category="pharmacy",
        diagnosis_code="E10.2",
        total_amount=D("12.00"),
        fund_paid=D("7.00"),
    )
    run = run_settlement(scheme=community["scheme"], period="2024")
    assert run.status == SettlementRun.Status.FINISHED
    line = SettlementLine.objects.select_related("run").get(run=run, institution=a)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    _client(client, city_regulator)

    shown, pages = _walk_claim_pages(client, "NK001")

    expected = list(selectors.claim_lines_behind_line(line=line).values_list("pk", flat=True))
    assert [c.pk for c in shown] == expected
    assert len(expected) == line.claim_lines == 10
    assert pages == 5
    assert sum(c.fund_paid for c in shown) == line.spending == D("202.74")


def test_claims_page_shows_the_run_figures_without_recounting(client, settled, city_regulator):
    _client(client, city_regulator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url("claims", "NK001"))

    assert response.status_code == 200
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    html = response.content.decode()
    assert "The run counted 4 claim lines" in html
    assert "verify=1" in html
    assert 'rel="next"' not in html
    assert "count" not in response.context


def test_claims_page_rejects_a_bad_position(client, settled, city_regulator):
    _client(client, city_regulator)
    for bad in ("yesterday", "2024-13-01.5", "2024-02-29.x", "2024-02-29"):
        response = client.get(_url("claims", "NK001", query=QUERY + "&after=" + bad))
        assert response.status_code == 400
        assert "after" in response.content.decode()


def test_claims_page_after_the_last_line_is_empty(client, settled, city_regulator):
    _client(client, city_regulator)
    response = client.get(_url("claims", "NK001", query=QUERY + "&after=2024-12-31.999999999"))
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert 'rel="first"' in response.content.decode()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL statistics setting")
def test_migration_sets_the_residents_per_claim_line_statistics():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attoptions FROM pg_attribute"
            " WHERE attrelid = 'payments_claimline'::regclass AND attname = 'patient_id'"
        )
        (options,) = cursor.fetchone()
    assert "n_distinct=-0.05" in options


def test_tracing_needs_a_line_in_the_run(client, settled, city_regulator):
    # HP001 has no members, hence no line: its page says so and it has nothing to trace.
    _client(client, city_regulator)
    page = client.get(_url("institution", "HP001"))
    assert page.status_code == 200
    assert page.context["line"] is None
    assert client.get(_url("members", "HP001")).status_code == 404
    assert client.get(_url("claims", "HP001")).status_code == 404


# --- Choosing the scheme and period -


def test_defaults_to_the_annual_run_of_the_latest_scheme(client, settled, city_regulator):
    response = _client(client, city_regulator).get(reverse("settlements:index"))

    selection = response.context["selection"]
    assert (selection.scheme.code, selection.period, selection.run) == (
        "DM2024",
        "2024",
        settled["run"],
    )


def test_a_period_of_another_year_falls_back_to_the_schemes_year(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("index", query="scheme=DM2024&period=2025"))

    assert response.context["selection"].adjusted is True
    assert response.context["selection"].period == "2024"


def test_unknown_scheme_and_bad_period_are_field_errors(client, settled, city_regulator):
    _client(client, city_regulator)

    unknown = client.get(_url("index", query="scheme=NOPE&period=2024"))
    bad = client.get(_url("index", query="scheme=DM2024&period=2024-13"))

    assert unknown.status_code == bad.status_code == 200
    assert list(unknown.context["selection"].form.errors) == ["scheme"]
    assert list(bad.context["selection"].form.errors) == ["period"]
    assert unknown.context["selection"].run is None
    assert bad.context["selection"].run is None
    assert "rows" not in bad.context


def test_a_period_without_a_finished_run_says_so(client, settled, city_regulator):
    response = _client(client, city_regulator).get(
        _url("index", query="scheme=DM2024&period=2024-03")
    )

    assert response.context["selection"].run is None
    assert "rows" not in response.context
    assert "alert--info" in response.content.decode()
    assert reverse("settlements:download_csv") not in response.content.decode()


# --- Downloads -

HEADER = (
    "institution_code,enrolees,member_days,budget,spending,balance,quality_score,"
    "retention_ratio,retained,overspend,fund_payable\r\n"
)


def test_csv_download_has_bom_and_the_section_4_columns(client, settled, city_regulator):
    response = _client(client, city_regulator).get(_url("download_csv"))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == ('attachment; filename="settlement-DM2024-2024.csv"')
    assert response.content.decode("utf-8") == (
        "\ufeff"
        + HEADER
        + "HX001,1,61,305.00,180.00,125.00,,0.00,0.00,0.00,180.00\r\n"
        + "NK001,3,518,2590.00,180.74,2409.26,80.00,0.80,1927.41,0.00,2108.15\r\n"
    )


def test_csv_download_of_one_district(client, settled, city_regulator):
    response = _client(client, city_regulator).get(
        _url("download_csv", query="scheme=DM2024&period=2024-11&district=120102")
    )

    assert response["Content-Disposition"] == (
        'attachment; filename="settlement-DM2024-2024-11-120102.csv"'
    )
    assert response.content.decode("utf-8") == (
        "\ufeff" + HEADER + "HX001,1,30,150.00,180.00,-30.00,,,,30.00,150.00\r\n"
    )


def test_download_without_a_finished_run_is_404(client, settled, city_regulator):
    _client(client, city_regulator)
    assert client.get(_url("download_csv", query="scheme=DM2024&period=2024-03")).status_code == 404
    assert client.get(_url("download_xlsx", query="scheme=NOPE&period=2024")).status_code == 404


# --- Set-based: the number of queries does not grow with the institutions -----------------------


def _more_institutions(count, scheme):
    for index in range(count):
        institution = InstitutionFactory(code=f"XQ{index:03d}", district=district("120111"))
        patient = PatientFactory(home_institution=institution)
        DiabetesEnrollmentFactory(
            patient=patient, institution=institution, enrolled_on=dt.date(2024, 1, 1)
        )
        ClaimLineFactory(patient=patient, institution=institution, service_date=dt.date(2024, 5, 5))


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("index", ()),
        ("district", ("120111",)),
        ("institution", ("XQ000",)),
        ("members", ("XQ000",)),
        ("claims", ("XQ000",)),
        ("what_if", ()),
    ],
)
def test_pages_cost_the_same_queries_for_2_or_14_institutions(
    client, community, quality_provider, city_regulator, django_assert_max_num_queries, name, args
):
    scheme = community["scheme"]
    _more_institutions(1, scheme)
    _client(client, city_regulator)
    url = _url(name, *args, query="scheme=DM2024&period=2024")
    SettlementRun.objects.all().delete()
    run_settlement(scheme=scheme, period="2024")
    few = _count_queries(client, url)

    _more_institutions(12, scheme)
    SettlementRun.objects.all().delete()
    run_settlement(scheme=scheme, period="2024")
    many = _count_queries(client, url)

    assert few == many
    # Without monthly runs the trend computes 12 months with 2 grouped queries each.
    with django_assert_max_num_queries(40):
        client.get(url)


def test_pages_with_monthly_runs_stay_under_15_queries(
    client, settled, city_regulator, django_assert_max_num_queries
):
    for month in range(1, 13):
        if month != 11:
            run_settlement(scheme=settled["scheme"], period=f"2024-{month:02d}")
    _client(client, city_regulator)
    for name, args in [("index", ()), ("district", ("120104",)), ("institution", ("NK001",))]:
        with django_assert_max_num_queries(15):
            assert client.get(_url(name, *args)).status_code == 200
