"""Quality dashboards, worklist pages and the chronic-care admin, by role (the community of
test_indicators.py: A = NK001 in 南开区 120104, B = HP001 in 和平区 120101)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from chronic_care.models import FollowUp
from chronic_care.services import EndReason
from cloud_management.models import DiabetesEnrollment, StaffRole
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    PatientFactory,
    RegulatorRoleFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)

QUALITY = "/dashboards/quality/"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager_a(world):
    return StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=world["a"]).user


def test_the_city_sees_every_district_with_its_figures(world):
    city = RegulatorRoleFactory(district=None, agency=StaffRole.Agency.HEALTH_COMMISSION).user

    response = client_for(city).get(QUALITY, {"year": 2024})

    assert response.status_code == 200
    rows = {row.code: row for row in response.context["rows"]}
    assert len(rows) == 16
    assert (rows["120104"].managed, rows["120104"].score) == (4, Decimal("67.86"))
    assert (rows["120101"].managed, rows["120101"].score) == (1, Decimal("100.00"))
    assert rows["120102"].score is None
    assert response.context["total"].managed == 5
    assert "<svg" in response.content.decode()
    assert len(response.context["trend"]) == 12


def test_a_district_regulator_sees_their_district_only_and_no_residents(world):
    regulator = RegulatorRoleFactory(district=district("120104")).user
    client = client_for(regulator)

    index = client.get(QUALITY, {"year": 2024})
    own = client.get(f"{QUALITY}districts/120104/", {"year": 2024})
    other = client.get(f"{QUALITY}districts/120101/", {"year": 2024})
    institution = client.get(f"{QUALITY}institutions/NK001/", {"year": 2024})
    patients = client.get(f"{QUALITY}institutions/NK001/patients/", {"year": 2024})
    elsewhere = client.get(f"{QUALITY}institutions/HP001/", {"year": 2024})

    assert [row.code for row in index.context["rows"]] == ["NK001"]
    assert own.status_code == 200
    assert [row.code for row in own.context["rows"]] == ["NK001"]
    assert (other.status_code, elsewhere.status_code, patients.status_code) == (404, 404, 404)
    assert institution.status_code == 200
    assert institution.context["may_drill_down"] is False
    assert world["p"][1].name not in institution.content.decode()


def test_staff_drill_down_to_their_residents(world, manager_a):
    client = client_for(manager_a)

    index = client.get(QUALITY, {"year": 2024})
    page = client.get(f"{QUALITY}institutions/NK001/patients/", {"year": 2024})
    missed = client.get(
        f"{QUALITY}institutions/NK001/patients/", {"year": 2024, "show": "gcr_missed"}
    )
    other = client.get(f"{QUALITY}institutions/HP001/patients/", {"year": 2024})
    district_page = client.get(f"{QUALITY}districts/120104/", {"year": 2024})

    assert [row.code for row in index.context["rows"]] == ["NK001"]
    assert page.status_code == 200
    p = world["p"]
    assert {row.patient.pk for row in page.context["rows"]} == {
        p[1].pk,
        p[2].pk,
        p[3].pk,
        p[4].pk,
    }
    assert {row.patient.pk for row in missed.context["rows"]} == {p[1].pk, p[2].pk}
    assert p[1].masked_resident_id in page.content.decode()
    assert p[1].resident_id not in page.content.decode()
    assert (other.status_code, district_page.status_code) == (404, 404)


@pytest.mark.parametrize("query", [{"year": "1999"}, {"year": "abc"}])
def test_an_unknown_year_is_404(world, manager_a, query):
    assert client_for(manager_a).get(QUALITY, query).status_code == 404


def test_patients_and_anonymous_visitors_see_no_dashboard(world):
    patient = world["p"][1]
    patient.user = UserFactory()
    patient.save()

    assert client_for(patient.user).get(QUALITY).status_code == 404
    assert client_for(patient.user).get("/care/").status_code == 404
    assert Client().get(QUALITY).status_code == 302


def test_worklists_page_for_the_institutions_staff_only(world, manager_a):
    regulator = RegulatorRoleFactory(district=district("120104")).user
    staff_b = StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=world["b"]).user

    index = client_for(manager_a).get("/care/")
    page = client_for(manager_a).get("/care/NK001/worklists/", {"list": "no_hba1c"})

    assert index.status_code == 302
    assert index["Location"] == "/care/NK001/worklists/"
    assert page.status_code == 200
    assert page.context["chosen"] == "no_hba1c"
    assert client_for(staff_b).get("/care/NK001/worklists/").status_code == 404
    assert client_for(regulator).get("/care/NK001/worklists/").status_code == 404
    assert client_for(manager_a).get("/care/NK001/worklists/?list=x").status_code == 404


# --- Admin -----------------------------------------------------------------------------------


def test_a_health_manager_records_a_follow_up_in_the_admin(world, manager_a):
    patient = world["p"][1]
    client = client_for(manager_a)

    response = client.post(
        "/admin/chronic_care/followup/add/",
        {
            "patient": patient.pk,
            "institution": world["a"].pk,
            "date": "2025-02-03",
            "mode": "home",
            "symptom_choices": ["polydipsia", "blurred_vision"],
            "fbg": "17.2",
            "systolic": "150",
            "diastolic": "90",
            "weight_kg": "66.0",
            "height_cm": "165.0",
            "medication_adherence": "regular",
            "outcome": "uncontrolled",
            "next_date": "2025-02-17",
            "referral_to": "",
            "referral_reason": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = FollowUp.objects.get(patient=patient, date=dt.date(2025, 2, 3))
    assert (saved.symptoms, saved.needs_urgent_referral, saved.recorded_by) == (
        "polydipsia,blurred_vision",
        True,
        manager_a,
    )
    changelist = client.get("/admin/chronic_care/followup/")
    assert changelist.status_code == 200
    assert "/admin/chronic_care/followup/worklists/" in changelist.content.decode()


def test_the_admin_refuses_a_follow_up_at_another_institution(world, manager_a):
    response = client_for(manager_a).post(
        "/admin/chronic_care/followup/add/",
        {
            "patient": world["p"][1].pk,
            "institution": world["b"].pk,
            "date": "2025-02-03",
            "mode": "clinic",
            "outcome": "controlled",
        },
    )

    assert response.status_code == 200
    assert FollowUp.objects.filter(date=dt.date(2025, 2, 3)).count() == 0


def test_admin_worklists(world, manager_a):
    response = client_for(manager_a).get(
        "/admin/chronic_care/followup/worklists/", {"worklist": "uncontrolled"}
    )

    assert response.status_code == 200
    assert response.context["institution"] == world["a"]
    assert response.context["chosen"] == "uncontrolled"
    # One page of the list, each entry shown with its resident.
    page = response.context["page"]
    assert page.number == 1
    assert [entry.patient.pk for entry in page.object_list] == [
        entry.patient_id for entry in page.object_list
    ]


def test_transfer_and_end_in_the_admin(world, manager_a):
    StaffRoleFactory(user=manager_a, role=StaffRole.Role.HEALTH_MANAGER, institution=world["b"])
    patient = PatientFactory(home_institution=world["a"])
    enrolment = DiabetesEnrollmentFactory(
        patient=patient, institution=world["a"], enrolled_on=dt.date(2024, 1, 1)
    )
    client = client_for(manager_a)

    form = client.get(f"/admin/cloud_management/diabetesenrollment/{enrolment.pk}/change/")
    assert f"/admin/cloud_management/diabetesenrollment/{enrolment.pk}/transfer/" in (
        form.content.decode()
    )
    refused = client.post(
        f"/admin/cloud_management/diabetesenrollment/{enrolment.pk}/transfer/",
        {"to_institution": world["b"].pk, "transfer_on": "2024-01-01"},
    )
    assert refused.status_code == 200
    assert "transfer_on" in refused.context["form"].errors

    moved = client.post(
        f"/admin/cloud_management/diabetesenrollment/{enrolment.pk}/transfer/",
        {"to_institution": world["b"].pk, "transfer_on": "2025-03-01", "reason": "搬家"},
    )

    assert moved.status_code == 302
    successor = DiabetesEnrollment.objects.get(patient=patient, institution=world["b"])
    enrolment.refresh_from_db()
    assert (enrolment.ended_on, enrolment.end_reason, successor.enrolled_on) == (
        dt.date(2025, 2, 28),
        "搬家",
        dt.date(2025, 3, 1),
    )

    ended = client.post(
        f"/admin/cloud_management/diabetesenrollment/{successor.pk}/end/",
        {"ended_on": "2025-06-30", "reason": "died"},
    )

    assert ended.status_code == 302
    successor.refresh_from_db()
    # The admin speaks the staff's language (the site default here); the reason is stored as
    # they read it.
    with translation.override(settings.LANGUAGE_CODE):
        expected = str(EndReason.DIED.label)
    assert (successor.ended_on, successor.end_reason) == (dt.date(2025, 6, 30), expected)


def test_a_regulator_cannot_transfer(world):
    regulator = RegulatorRoleFactory(district=district("120104")).user
    enrolment = DiabetesEnrollment.objects.filter(institution=world["a"]).first()

    response = client_for(regulator).post(
        f"/admin/cloud_management/diabetesenrollment/{enrolment.pk}/transfer/",
        {"to_institution": world["b"].pk, "transfer_on": "2025-03-01"},
    )

    assert response.status_code in (403, 404)
    assert not DiabetesEnrollment.objects.filter(
        patient=enrolment.patient, institution=world["b"], enrolled_on=dt.date(2025, 3, 1)
    ).exists()
