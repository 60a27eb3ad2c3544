"""The patient pages: home per role, login and logout, and the patient's own record."""

import datetime as dt
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.template import loader
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cloud_management.models import DiabetesEnrollment, StaffRole
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    PatientFactory,
    StaffRoleFactory,
    UserFactory,
)

PASSWORD = "demo-pass-123"  # the factories' password


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def template_names(response) -> list[str]:
    return [template.name for template in response.templates]


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def patient(patient_with_login):
    return patient_with_login


@pytest.fixture
def patient_client(patient) -> Client:
    return client_for(patient.user)


@pytest.fixture
def other_patient(home_institution):
    return PatientFactory(home_institution=home_institution, name="张桂兰")


# --- Home -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_home_explains_the_platform_and_offers_login(
    client: Client, chinese_default: None
) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert "cloud_management/welcome.html" in template_names(response)
    content = response.content.decode()
    assert '<html lang="zh-hans">' in content
    assert f'class="button" href="{reverse("cloud_management:login")}"' in content
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in content


@pytest.mark.django_db
def test_english_is_one_button_away_and_sets_the_html_language(client: Client) -> None:
    home = client.get("/").content.decode()
    assert 'name="language" value="en"' in home

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert '<html lang="en">' in client.get("/").content.decode()


@pytest.mark.django_db
def test_patient_home_opens_their_own_record(patient_client: Client) -> None:
    response = patient_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("cloud_management:my_record")


@pytest.mark.django_db
def test_staff_home_links_to_the_admin_and_their_institution_figures(doctor) -> None:
    response = client_for(doctor).get("/")

    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="/admin/"' in content
    assert 'href="/dashboards/"' in content
    assert 'href="/me/"' not in content


@pytest.mark.django_db
def test_regulator_home_links_to_the_dashboards(district_regulator) -> None:
    response = client_for(district_regulator).get("/")

    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="/dashboards/"' in content
    assert 'href="/me/"' not in content
    assert response.context["is_regulator"] is True


@pytest.mark.django_db
def test_operator_home_links_to_admin_and_dashboards(operator) -> None:
    content = client_for(operator).get("/").content.decode()

    assert 'href="/admin/"' in content
    assert 'href="/dashboards/"' in content


@pytest.mark.django_db
def test_user_without_any_role_is_told_so_and_offered_nothing(db) -> None:
    response = client_for(UserFactory(username="nobody")).get("/")

    assert response.status_code == 200
    assert response.context["has_role"] is False
    content = response.content.decode()
    assert 'href="/admin/"' not in content
    assert 'href="/dashboards/"' not in content
    assert 'href="/me/"' not in content


# --- Login and logout -----------------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_labels_every_field(client: Client) -> None:
    content = client.get(reverse("cloud_management:login")).content.decode()

    inputs = re.findall(r"<input[^>]*>", content)
    visible_ids = [
        re.search(r'id="([^"]+)"', tag).group(1) for tag in inputs if 'type="hidden"' not in tag
    ]
    assert visible_ids == ["id_username", "id_password"]
    for field_id in visible_ids:
        assert f'<label for="{field_id}">' in content
    assert 'autocomplete="username"' in content
    assert 'autocomplete="current-password"' in content
    assert 'aria-describedby="id_username_helptext"' in content
    assert 'id="id_username_helptext"' in content


@pytest.mark.django_db
def test_patient_logs_in_with_their_phone_number_and_lands_on_their_record(
    client: Client, patient
) -> None:
    response = client.post(
        reverse("cloud_management:login"),
        {"username": "139 0000 0001", "password": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session[SESSION_KEY] == str(patient.user.pk)
    assert client.get("/")["Location"] == "/me/"
    record = client.get("/me/")
    assert record.status_code == 200
    assert patient.resident_id in record.content.decode()


@pytest.mark.django_db
def test_login_follows_next(client: Client, district_regulator) -> None:
    response = client.post(
        reverse("cloud_management:login"),
        {"username": district_regulator.username, "password": PASSWORD, "next": "/dashboards/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/dashboards/"


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_does_not_log_in(client: Client, patient) -> None:
    response = client.post(
        reverse("cloud_management:login"), {"username": "13900000001", "password": "wrong"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["__all__"] == [
        response.context["form"].error_messages["invalid_login"]
    ]
    assert 'role="alert"' in response.content.decode()
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_logged_in_user_opening_login_goes_home(patient_client: Client) -> None:
    response = patient_client.get(reverse("cloud_management:login"))

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_logout_asks_first_then_logs_out_by_post(patient_client: Client) -> None:
    confirm = patient_client.get(reverse("cloud_management:logout"))
    assert confirm.status_code == 200
    assert "cloud_management/logout.html" in template_names(confirm)
    assert SESSION_KEY in patient_client.session

    response = patient_client.post(reverse("cloud_management:logout"))

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert SESSION_KEY not in patient_client.session
    home = patient_client.get("/")
    assert "cloud_management/welcome.html" in template_names(home)
    assert [message.level_tag for message in home.context["messages"]] == ["success"]


@pytest.mark.django_db
def test_logout_page_sends_anonymous_visitors_home(client: Client) -> None:
    response = client.get(reverse("cloud_management:logout"))

    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_every_page_header_logs_out_by_post(patient_client: Client) -> None:
    content = patient_client.get("/me/").content.decode()

    assert re.search(r'<form action="/logout/" method="post">\s*<input type="hidden"', content)


# --- The patient's record -------------------------------------------------------------------


@pytest.mark.django_db
def test_record_shows_the_patients_details_contracts_and_enrolments(
    patient_client: Client, patient, home_institution, other_institution, today
) -> None:
    FamilyDoctorContractFactory(
        patient=patient,
        institution=other_institution,
        signed_on=dt.date(2019, 3, 1),
        ended_on=dt.date(2020, 2, 29),
    )
    FamilyDoctorContractFactory(
        patient=patient, institution=home_institution, signed_on=today - dt.timedelta(days=30)
    )
    DiabetesEnrollmentFactory(
        patient=patient,
        institution=home_institution,
        diabetes_type=DiabetesEnrollment.DiabetesType.TYPE_2,
        diagnosis_code="E11.9",
        enrolled_on=today - dt.timedelta(days=10),
    )

    response = patient_client.get("/me/")

    assert response.status_code == 200
    content = response.content.decode()
    for text in (
        patient.name,
        patient.resident_id,
        "13900000001",
        patient.address,
        home_institution.name,
        other_institution.name,
        "E11.9",
    ):
        assert text in content
    record = response.context["patient"]
    assert [(c.institution.code, c.is_active) for c in record.contract_list] == [
        ("NK001", True),
        ("HP001", False),
    ]
    assert [(e.diabetes_type, e.is_active) for e in record.enrolment_list] == [("T2", True)]
    assert content.count("badge--active") == 2
    assert content.count("badge--ended") == 1


@pytest.mark.django_db
def test_own_record_by_id_is_the_same_page(patient_client: Client, patient) -> None:
    response = patient_client.get(reverse("cloud_management:record_detail", args=[patient.pk]))

    assert response.status_code == 200
    assert response.context["patient"].pk == patient.pk
    assert patient.resident_id in response.content.decode()


@pytest.mark.django_db
def test_a_patient_never_sees_another_patient(patient_client: Client, other_patient) -> None:
    response = patient_client.get(
        reverse("cloud_management:record_detail", args=[other_patient.pk])
    )
    missing = patient_client.get(reverse("cloud_management:record_detail", args=[999_999]))

    assert response.status_code == 404
    assert missing.status_code == 404
    assert "404.html" in template_names(response)
    assert other_patient.resident_id not in response.content.decode()
    assert other_patient.name not in response.content.decode()


@pytest.mark.django_db
def test_a_patient_who_is_also_staff_sees_only_their_own_record_here(
    home_institution, other_patient
) -> None:
    user = StaffRoleFactory(role=StaffRole.Role.NURSE, institution=home_institution).user
    PatientFactory(home_institution=home_institution, user=user)
    client = client_for(user)

    response = client.get(reverse("cloud_management:record_detail", args=[other_patient.pk]))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("doctor", "/admin/"),
        ("operator", "/admin/"),
        ("district_regulator", "/dashboards/"),
        ("city_regulator", "/dashboards/"),
    ],
)
@pytest.mark.django_db
def test_staff_and_regulators_on_patient_pages_go_to_their_part(
    request: pytest.FixtureRequest, who: str, expected: str, other_patient
) -> None:
    client = client_for(request.getfixturevalue(who))

    for url in ("/me/", reverse("cloud_management:record_detail", args=[other_patient.pk])):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == expected, url


@pytest.mark.django_db
def test_anonymous_visitors_are_asked_to_log_in_for_a_record(client: Client, patient) -> None:
    response = client.get("/me/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/me/"


@pytest.mark.django_db
def test_record_costs_the_same_queries_however_long_it_is(
    patient_client: Client, patient, home_institution, django_assert_max_num_queries
) -> None:
    for year in range(2010, 2022):
        FamilyDoctorContractFactory(
            patient=patient,
            institution=home_institution,
            signed_on=dt.date(year, 1, 1),
            ended_on=dt.date(year, 12, 31),
        )
    for year in range(2010, 2020, 2):
        DiabetesEnrollmentFactory(
            patient=patient,
            institution=home_institution,
            enrolled_on=dt.date(year, 1, 1),
            ended_on=dt.date(year, 12, 31),
        )

    # Session, user, the user's roles, the user's patient row, the patient, two prefetches.
    with django_assert_max_num_queries(7):
        response = patient_client.get("/me/")

    assert len(response.context["patient"].contract_list) == 12
    assert len(response.context["patient"].enrolment_list) == 5


@pytest.mark.parametrize(
    "who",
    ["anonymous", "patient", "doctor", "district_regulator", "city_regulator", "operator"],
)
@pytest.mark.django_db
def test_the_whole_resident_id_appears_nowhere_but_the_own_record(
    request: pytest.FixtureRequest, who: str, patient, home_institution
) -> None:
    FamilyDoctorContractFactory(patient=patient, institution=home_institution)
    if who == "anonymous":
        client = Client()
    else:
        user = patient.user if who == "patient" else request.getfixturevalue(who)
        client = client_for(user)
    urls = [
        "/",
        "/login/",
        "/logout/",
        "/dashboards/",
        f"/dashboards/districts/{home_institution.district.code}/",
        f"/dashboards/institutions/{home_institution.code}/",
        "/no-such-page/",
    ]
    if who != "patient":
        urls += ["/me/", f"/patients/{patient.pk}/"]

    for url in urls:
        # The patient's "/" redirects to their own record, the one page allowed to show it.
        response = client.get(url, follow=who != "patient")
        assert patient.resident_id not in response.content.decode(), url


# --- Error pages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_404_uses_the_base_layout(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert template_names(response)[:2] == ["404.html", "base.html"]
    assert 'href="/"' in response.content.decode()


def test_500_page_renders_without_a_request(chinese_default: None) -> None:
    content = loader.get_template("500.html").render({})

    assert '<html lang="zh-hans">' in content
    assert 'href="/"' in content
    assert "/static/healthcommunity/site.css" in content


@pytest.mark.django_db
def test_an_expired_form_explains_itself_instead_of_djangos_english_page(
    patient, chinese_default: None
) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(
        reverse("cloud_management:login"), {"username": "13900000001", "password": PASSWORD}
    )

    assert response.status_code == 403
    content = response.content.decode()
    assert '<html lang="zh-hans">' in content
    assert 'class="button" href="/login/"' in content
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_403_uses_the_base_layout(rf, patient, chinese_default: None) -> None:
    content = loader.get_template("403.html").render({}, rf.get("/"))

    assert 'href="/"' in content
    assert '<html lang="zh-hans">' in content
