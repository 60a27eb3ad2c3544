"""Operations monitoring: the metric registry, exact figures, the cache and task, the pages."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from cloud_management import monitoring
from cloud_management.models import DiabetesEnrollment
from cloud_management.monitoring import (
    Figures,
    MetricError,
    cache_key,
    cached_figures,
    compute_figures,
    figures_for,
    register_metric,
    register_registry_metrics,
    registered_metrics,
    registered_temporarily,
)
from cloud_management.tasks import refresh_monitoring_figures_task
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    InstitutionFactory,
    PatientFactory,
    district,
)

REGISTRY_KEYS = [
    "registry.residents",
    "registry.active_contracts",
    "registry.active_enrolments",
    "registry.active_enrolments_t1",
    "registry.active_enrolments_t2",
    "registry.active_enrolments_other",
]
T1 = DiabetesEnrollment.DiabetesType.TYPE_1
T2 = DiabetesEnrollment.DiabetesType.TYPE_2
OTHER = DiabetesEnrollment.DiabetesType.OTHER


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _no_cached_figures() -> None:
    """Forget figures cached by earlier tests. Only these keys: with REDIS_URL set the cache
    shares its Redis database with the broker, which a flush would empty."""
    today = timezone.localdate()
    for day in (today, today - dt.timedelta(days=1), dt.date(2025, 6, 15)):
        cache.delete(cache_key(day))


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def world(home_institution, other_institution, today):
    """Three institutions, hand-counted for ``today`` (D):

    A = NK001 (南开区): residents p1 p2 p3; B = NK002 (南开区): p4 p5; C = HP001 (和平区): p6.
    Contracts:  A p1 D-100..open (active), p1 D-400..D-101 (ended), p2 D..open (starts today:
    active), p3 D-50..D (ends today: active); B p4 D+1..open (not yet), p5 D-10..D-1 (ended
    yesterday); C p6 D-10..D+10 (active).
    Enrolments: A p1 T2 D-30..open (active), p2 T1 D..D (one day: active), p3 other D-60..D-1
    (ended), p3 T2 D+1..open (not yet), p5 T2 D-1..D+1 at A though registered at B (active);
    B p4 T2 D-5..open (active); C p6 T1 D-5..open (active).
    """
    a, c = home_institution, other_institution
    b = InstitutionFactory(
        code="NK002", name="南开区王顶堤社区卫生服务中心", district=district("120104")
    )
    p1, p2, p3 = (PatientFactory(home_institution=a) for _ in range(3))
    p4, p5 = (PatientFactory(home_institution=b) for _ in range(2))
    p6 = PatientFactory(home_institution=c)
    D = today
    for patient, institution, start, end in [
        (p1, a, D - days(100), None),
        (p1, a, D - days(400), D - days(101)),
        (p2, a, D, None),
        (p3, a, D - days(50), D),
        (p4, b, D + days(1), None),
        (p5, b, D - days(10), D - days(1)),
        (p6, c, D - days(10), D + days(10)),
    ]:
        FamilyDoctorContractFactory(
            patient=patient, institution=institution, signed_on=start, ended_on=end
        )
    for patient, institution, kind, start, end in [
        (p1, a, T2, D - days(30), None),
        (p2, a, T1, D, D),
        (p3, a, OTHER, D - days(60), D - days(1)),
        (p3, a, T2, D + days(1), None),
        (p5, a, T2, D - days(1), D + days(1)),
        (p4, b, T2, D - days(5), None),
        (p6, c, T1, D - days(5), None),
    ]:
        DiabetesEnrollmentFactory(
            patient=patient,
            institution=institution,
            diabetes_type=kind,
            diagnosis_code="E10.9" if kind == T1 else "E11.9",
            enrolled_on=start,
            ended_on=end,
        )
    return {"A": a, "B": b, "C": c}


def registry_values(figures: Figures) -> dict[str, dict[int, int]]:
    return {key: dict(figures.values[key]) for key in REGISTRY_KEYS}


# --- The registry ---------------------------------------------------------------------------


def test_the_registry_registers_its_own_metrics_first_and_ready_may_run_twice() -> None:
    before = registered_metrics()

    register_registry_metrics()

    assert registered_metrics() == before
    assert [metric.key for metric in before[: len(REGISTRY_KEYS)]] == REGISTRY_KEYS
    assert all(metric.summable for metric in before[: len(REGISTRY_KEYS)])


def _provider(day: dt.date) -> dict[int, int]:
    return {1: 1}


def _other_provider(day: dt.date) -> dict[int, int]:
    return {1: 2}


def test_registering_the_same_metric_twice_keeps_one() -> None:
    with registered_temporarily("tests.one", "One", _provider) as metric:
        again = register_metric("tests.one", "One", _provider)

        assert again is metric
        assert [m.key for m in registered_metrics()].count("tests.one") == 1
    assert "tests.one" not in [m.key for m in registered_metrics()]


def test_another_provider_under_a_taken_key_is_refused_and_changes_nothing() -> None:
    with registered_temporarily("tests.one", "One", _provider):
        before = registered_metrics()

        with pytest.raises(MetricError, match=re.escape("'tests.one' is already registered")):
            register_metric("tests.one", "One", _other_provider)
        with pytest.raises(
            MetricError, match=re.escape("'registry.residents' is already registered")
        ):
            register_metric("registry.residents", "Residents", _provider)

        assert registered_metrics() == before


@pytest.mark.parametrize("key", ["residents", "Payments.claims", "payments.", "", "a b.c", 7])
def test_keys_must_be_dotted_lower_case_words(key) -> None:
    before = registered_metrics()

    with pytest.raises(MetricError, match=re.escape("must be dotted lower-case words")):
        register_metric(key, "Label", _provider)

    assert registered_metrics() == before


@pytest.mark.parametrize("label", ["", "   ", None, 3])
def test_labels_must_be_non_empty_text(label) -> None:
    with pytest.raises(
        MetricError, match=re.escape("'tests.bad': the label must be a non-empty string")
    ):
        register_metric("tests.bad", label, _provider)


def _no_arguments() -> dict[int, int]:
    return {}


def _two_arguments(day: dt.date, institution_id: int) -> dict[int, int]:
    return {}


def _keyword_only(*, day: dt.date) -> dict[int, int]:
    return {}


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({1: 1}, "the provider must be callable"),
        (_no_arguments, "the provider must take exactly one argument, the date"),
        (_two_arguments, "the provider must take exactly one argument, the date"),
        (_keyword_only, "the provider must take exactly one argument, the date"),
    ],
)
def test_providers_must_take_the_date(provider, message) -> None:
    before = registered_metrics()

    with pytest.raises(MetricError, match=re.escape(f"'tests.bad': {message}")):
        register_metric("tests.bad", "Bad", provider)

    assert registered_metrics() == before


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([(1, 2)], "the provider returned list, not a mapping"),
        ({"1": 2}, "institution id '1' is not an integer"),
        ({True: 2}, "institution id True is not an integer"),
        ({1: 2.5}, "institution 1: value 2.5 is not an integer or a Decimal"),
        ({1: None}, "institution 1: value None is not an integer or a Decimal"),
        ({1: False}, "institution 1: value False is not an integer or a Decimal"),
    ],
)
@pytest.mark.django_db
def test_a_provider_returning_the_wrong_shape_is_named_and_nothing_is_cached(
    answer, message
) -> None:
    with (
        registered_temporarily("tests.bad", "Bad", lambda day: answer),
        pytest.raises(MetricError, match=re.escape(f"Metric 'tests.bad': {message}")),
    ):
        monitoring.refresh_figures(dt.date(2025, 6, 15))

    assert cache.get(cache_key(dt.date(2025, 6, 15))) is None


# --- Exact figures ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_figures_match_the_hand_count(world, today) -> None:
    a, b, c = world["A"].pk, world["B"].pk, world["C"].pk

    figures = compute_figures(today)

    assert figures.day == today
    assert registry_values(figures) == {
        "registry.residents": {a: 3, b: 2, c: 1},
        "registry.active_contracts": {a: 3, c: 1},
        "registry.active_enrolments": {a: 3, b: 1, c: 1},
        "registry.active_enrolments_t1": {a: 1, c: 1},
        "registry.active_enrolments_t2": {a: 2, b: 1},
        "registry.active_enrolments_other": {},
    }


@pytest.mark.django_db
def test_figures_of_yesterday_count_what_was_active_yesterday(world, today) -> None:
    a, b, c = world["A"].pk, world["B"].pk, world["C"].pk

    figures = compute_figures(today - days(1))

    # Contracts: p1 and p3 at A (p2 starts today), p5 at B (ended yesterday), p6 at C.
    # Enrolments: p1 T2, p3 other (ended yesterday), p5 T2 at A; p4 T2 at B; p6 T1 at C.
    assert registry_values(figures) == {
        "registry.residents": {a: 3, b: 2, c: 1},
        "registry.active_contracts": {a: 2, b: 1, c: 1},
        "registry.active_enrolments": {a: 3, b: 1, c: 1},
        "registry.active_enrolments_t1": {c: 1},
        "registry.active_enrolments_t2": {a: 2, b: 1},
        "registry.active_enrolments_other": {a: 1},
    }


@pytest.mark.django_db
def test_figures_cost_one_query_per_metric(world, today, django_assert_num_queries) -> None:
    # Each figure is one GROUP BY, however many institutions and residents there are.
    with django_assert_num_queries(len(registered_metrics())):
        compute_figures(today)


# --- Cache and task -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_task_fills_the_cache_with_todays_figures(world, today) -> None:
    assert cached_figures(today) is None

    # apply() runs the task here, as the embedded path does; test_monitoring_worker.py sends it
    # with .delay() to a real worker.
    summary = refresh_monitoring_figures_task.apply().get()
    assert summary["day"] == today.isoformat()
    assert summary["metrics"] == len(registered_metrics())
    cached = cached_figures(today)
    assert cached is not None
    assert cached.computed_at.isoformat() == summary["computed_at"]
    assert registry_values(cached) == registry_values(compute_figures(today))
    assert cache.get(cache_key(today))["day"] == today.isoformat()


@pytest.mark.django_db
def test_the_task_is_idempotent(world, today) -> None:
    refresh_monitoring_figures_task.apply()
    first = cached_figures(today)

    refresh_monitoring_figures_task.apply()
    second = cached_figures(today)

    assert first is not None
    assert second is not None
    assert second.values == first.values
    assert second.computed_at >= first.computed_at


@pytest.mark.django_db
def test_figures_are_read_from_the_cache_when_there(
    world, today, django_assert_num_queries
) -> None:
    stored = monitoring.refresh_figures(today)
    PatientFactory(home_institution=world["A"])  # not in the cached figures

    with django_assert_num_queries(0):
        figures = figures_for(today)

    assert figures.computed_at == stored.computed_at
    assert figures.values["registry.residents"][world["A"].pk] == 3


@pytest.mark.django_db
def test_a_cache_miss_computes_live_and_fills_the_cache(world, today) -> None:
    figures = figures_for(today)

    assert registry_values(figures) == registry_values(compute_figures(today))
    assert cached_figures(today) is not None


@pytest.mark.django_db
def test_cached_figures_without_a_newly_registered_metric_count_as_a_miss(world, today) -> None:
    monitoring.refresh_figures(today)

    with registered_temporarily("tests.late", "Late", _provider):
        assert cached_figures(today) is None
        assert figures_for(today).values["tests.late"] == {1: 1}


# --- The pages: scoping -----------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_are_asked_to_log_in(client: Client) -> None:
    response = client.get("/dashboards/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/dashboards/"


@pytest.mark.django_db
def test_patients_get_404_everywhere_on_the_dashboards(patient_with_login, world) -> None:
    client = client_for(patient_with_login.user)

    for url in ["/dashboards/", "/dashboards/districts/120104/", "/dashboards/institutions/NK001/"]:
        assert client.get(url).status_code == 404, url


def _cells(row) -> list[str]:
    return [cell.display for cell in row.cells[: len(REGISTRY_KEYS)]]


@pytest.mark.parametrize("who", ["city_regulator", "operator"])
@pytest.mark.django_db
def test_the_city_sees_every_district_with_exact_sums(
    request: pytest.FixtureRequest, who: str, world
) -> None:
    response = client_for(request.getfixturevalue(who)).get("/dashboards/")

    assert response.status_code == 200
    rows = {row.district.code: row for row in response.context["district_rows"]}
    assert len(rows) == 16
    assert rows["120104"].institution_count == 2
    assert _cells(rows["120104"]) == ["5", "3", "4", "1", "3", "0"]
    assert _cells(rows["120101"]) == ["1", "1", "1", "1", "0", "0"]
    assert _cells(rows["120119"]) == ["0", "0", "0", "0", "0", "0"]
    assert [cell.display for cell in response.context["totals"][: len(REGISTRY_KEYS)]] == [
        "6",
        "4",
        "5",
        "2",
        "3",
        "0",
    ]
    content = response.content.decode()
    assert content.count('href="/dashboards/districts/') == 16


@pytest.mark.django_db
def test_a_district_regulator_sees_only_their_district(district_regulator, world) -> None:
    client = client_for(district_regulator)

    index = client.get("/dashboards/")
    district_page = client.get("/dashboards/districts/120104/")
    institution_page = client.get("/dashboards/institutions/NK002/")

    assert [row.district.code for row in index.context["district_rows"]] == ["120104"]
    assert "totals" not in index.context
    assert [
        (row.institution.code, _cells(row)) for row in district_page.context["institution_rows"]
    ] == [("NK001", ["3", "3", "3", "1", "2", "0"]), ("NK002", ["2", "0", "1", "0", "1", "0"])]
    assert institution_page.status_code == 200
    assert _cells(institution_page.context["row"]) == ["2", "0", "1", "0", "1", "0"]
    assert client.get("/dashboards/districts/120101/").status_code == 404
    assert client.get("/dashboards/institutions/HP001/").status_code == 404
    assert client.get("/dashboards/districts/999999/").status_code == 404
    assert client.get("/dashboards/institutions/NOPE/").status_code == 404


@pytest.mark.django_db
def test_staff_see_only_their_own_institutions_line(doctor, world) -> None:
    client = client_for(doctor)

    index = client.get("/dashboards/")
    own = client.get("/dashboards/institutions/NK001/")

    assert index.status_code == 200
    assert [(row.institution.code, _cells(row)) for row in index.context["institution_rows"]] == [
        ("NK001", ["3", "3", "3", "1", "2", "0"])
    ]
    assert "district_rows" not in index.context
    assert own.status_code == 200
    assert own.context["show_district_link"] is False
    # District pages are for regulators; a colleague institution of the same district is not theirs.
    assert client.get("/dashboards/districts/120104/").status_code == 404
    assert client.get("/dashboards/institutions/NK002/").status_code == 404
    assert client.get("/dashboards/institutions/HP001/").status_code == 404


@pytest.mark.django_db
def test_the_page_says_when_the_figures_were_computed(city_regulator, world, today) -> None:
    stored = monitoring.refresh_figures(today)

    response = client_for(city_regulator).get("/dashboards/")

    assert response.context["figures"].computed_at == stored.computed_at
    shown = date_format(timezone.localtime(stored.computed_at), "DATETIME_FORMAT")
    assert shown in response.content.decode()


@pytest.mark.django_db
def test_pages_show_cached_figures_not_live_ones(city_regulator, world, today) -> None:
    a = world["A"]
    fake = Figures(
        day=today,
        computed_at=timezone.now(),
        values={metric.key: {a.pk: 1234} for metric in registered_metrics()},
    )
    monitoring.store_figures(fake)

    response = client_for(city_regulator).get(f"/dashboards/institutions/{a.code}/")

    assert _cells(response.context["row"]) == ["1,234"] * 6


@pytest.mark.django_db
def test_figures_of_other_apps_show_on_the_pages(city_regulator, world, today) -> None:
    a, b = world["A"], world["B"]

    def claim_share(day: dt.date) -> dict[int, Decimal]:
        return {a.pk: Decimal("0.85")}

    def visits(day: dt.date) -> dict[int, int]:
        return {a.pk: 2, b.pk: 5}

    with (
        registered_temporarily("tests.claim_share", "Claim share", claim_share, summable=False),
        registered_temporarily("tests.visits", "Home visits", visits),
    ):
        client = client_for(city_regulator)
        index = client.get("/dashboards/")
        district_page = client.get("/dashboards/districts/120104/")
        institution_page = client.get(f"/dashboards/institutions/{a.code}/")

    nankai = next(r for r in index.context["district_rows"] if r.district.code == "120104")
    assert [cell.display for cell in nankai.cells[-2:]] == ["—", "7"]
    by_code = {r.institution.code: r for r in district_page.context["institution_rows"]}
    assert [cell.display for cell in by_code["NK001"].cells[-2:]] == ["0.85", "2"]
    assert [cell.display for cell in by_code["NK002"].cells[-2:]] == ["—", "5"]
    content = institution_page.content.decode()
    assert "Claim share" in content
    assert "0.85" in content


@pytest.mark.django_db
def test_pages_cost_a_fixed_number_of_queries(
    city_regulator, world, today, django_assert_max_num_queries
) -> None:
    for n in range(30):
        institution = InstitutionFactory(code=f"XQ{n:03d}", district=district("120111"))
        PatientFactory(home_institution=institution)
    monitoring.refresh_figures(today)
    client = client_for(city_regulator)

    # Session, user, roles, patient row; then districts and institutions.
    with django_assert_max_num_queries(6):
        index = client.get("/dashboards/")
    with django_assert_max_num_queries(7):
        district_page = client.get("/dashboards/districts/120111/")

    assert len(index.context["district_rows"]) == 16
    assert len(district_page.context["institution_rows"]) == 30
