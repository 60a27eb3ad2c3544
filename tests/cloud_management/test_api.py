"""The registry API beyond the role matrix: authentication, writes through the services,
field errors, pagination, filters and the OpenAPI schema."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from cloud_management.identifiers import make_resident_id, mask_resident_id
from cloud_management.models import DiabetesEnrollment, FamilyDoctorContract, Patient, StaffRole
from tests.cloud_management.registry_world import registry_snapshot
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    PatientFactory,
    StaffRoleFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/registry/"


def _registration(**overrides):
    data = {
        "resident_id": make_resident_id("120104", dt.date(1958, 3, 9), 5, "F"),
        "name": "刘桂兰",
        "sex": "F",
        "birth_date": "1958-03-09",
        "phone": "13698765432",
        "home_institution": "NK001",
        "insurance_type": "employee",
    }
    data.update(overrides)
    return data


def test_token_authentication(doctor, home_institution):
    PatientFactory(home_institution=home_institution)
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token/",
        {"username": doctor.username, "password": "demo-pass-123"},
        format="json",
    ).json()["token"]

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get(f"{API}patients/")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_anonymous_request_is_401_with_a_token_challenge(anonymous_client):
    response = anonymous_client.get(f"{API}patients/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_register_a_resident_answers_201_with_the_whole_id(doctor_client, home_institution):
    response = doctor_client.post(f"{API}patients/", _registration(), format="json")

    assert response.status_code == 201
    body = response.json()
    patient = Patient.objects.get(pk=body["id"])
    assert body["resident_id"] == patient.resident_id
    assert body["district"] == "120104"
    assert body["home_institution"] == "NK001"
    assert body["has_login"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resident_id": "120104195803090001"}, "resident_id"),
        ({"birth_date": "1958-03-10"}, "birth_date"),
        ({"home_institution": "HP001"}, "home_institution"),
        ({"home_institution": "NOSUCH"}, "home_institution"),
        ({"phone": "phone?"}, "phone"),
        ({"sex": "X"}, "sex"),
    ],
)
def test_bad_registration_is_400_naming_the_field_and_writes_nothing(
    doctor_client, home_institution, other_institution, overrides, field
):
    before = registry_snapshot()

    response = doctor_client.post(f"{API}patients/", _registration(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert registry_snapshot() == before


def test_out_of_scope_institution_and_a_missing_one_get_the_same_answer(
    doctor_client, home_institution, other_institution
):
    foreign = doctor_client.post(
        f"{API}patients/", _registration(home_institution="HP001"), format="json"
    ).json()
    missing = doctor_client.post(
        f"{API}patients/", _registration(home_institution="NOSUCH"), format="json"
    ).json()

    assert foreign["home_institution"] == [
        message.replace("NOSUCH", "HP001") for message in missing["home_institution"]
    ]


def test_staff_keep_a_residents_home_institution_from_another_scope_on_put(
    doctor_client, home_institution, other_institution
):
    patient = PatientFactory(home_institution=other_institution)
    FamilyDoctorContractFactory(patient=patient, institution=home_institution)
    data = {
        "resident_id": patient.resident_id,
        "name": "改名",
        "sex": patient.sex,
        "birth_date": patient.birth_date.isoformat(),
        "phone": patient.phone,
        "address": patient.address,
        "district": other_institution.district.code,
        "home_institution": other_institution.code,
        "insurance_type": patient.insurance_type,
        "insurance_number": patient.insurance_number,
    }

    response = doctor_client.put(f"{API}patients/{patient.pk}/", data, format="json")

    assert response.status_code == 200, response.content
    assert Patient.objects.get(pk=patient.pk).name == "改名"


def test_lists_are_paginated(doctor_client, home_institution):
    PatientFactory.create_batch(55, home_institution=home_institution)

    first = doctor_client.get(f"{API}patients/").json()
    second = doctor_client.get(first["next"]).json()

    assert first["count"] == 55
    assert len(first["results"]) == 50
    assert first["previous"] is None
    assert len(second["results"]) == 5
    assert second["next"] is None
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert len(set(ids)) == 55


def test_patient_list_masks_ids(doctor_client, home_institution):
    patient = PatientFactory(home_institution=home_institution)

    row = doctor_client.get(f"{API}patients/").json()["results"][0]

    assert row["resident_id"] == mask_resident_id(patient.resident_id)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"name": "王"}, {"王建国", "王芳"}),
        ({"name": "建国"}, set()),
        ({"phone": "13600000001"}, {"王建国"}),
        ({"phone": "1360000000"}, set()),
        ({"sex": "F"}, {"王芳", "李娜"}),
        ({"district": "120104"}, {"王建国", "王芳", "李娜"}),
        ({"district": "120101"}, set()),
        ({"institution": "NK001"}, {"王建国", "王芳", "李娜"}),
        ({"institution_kind": "village_clinic"}, set()),
        ({"insurance_type": "resident"}, {"李娜"}),
    ],
)
def test_patient_filters(doctor_client, home_institution, query, expected):
    PatientFactory(home_institution=home_institution, name="王建国", sex="M", phone="13600000001")
    PatientFactory(home_institution=home_institution, name="王芳", sex="F")
    PatientFactory(
        home_institution=home_institution, name="李娜", sex="F", insurance_type="resident"
    )

    results = doctor_client.get(f"{API}patients/", query).json()["results"]

    assert {row["name"] for row in results} == expected


def test_resident_id_filter_is_exact_and_case_insensitive_for_x(doctor_client, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    PatientFactory(home_institution=home_institution)

    results = doctor_client.get(
        f"{API}patients/", {"resident_id": patient.resident_id.lower()}
    ).json()["results"]

    assert [row["id"] for row in results] == [patient.pk]


def test_active_on_filter(doctor_client, home_institution):
    ended = FamilyDoctorContractFactory(
        patient=PatientFactory(home_institution=home_institution),
        signed_on=dt.date(2024, 1, 1),
        ended_on=dt.date(2024, 12, 31),
    )
    running = FamilyDoctorContractFactory(
        patient=PatientFactory(home_institution=home_institution), signed_on=dt.date(2025, 1, 1)
    )

    on_2024 = doctor_client.get(f"{API}contracts/", {"active_on": "2024-06-01"}).json()
    on_2025 = doctor_client.get(f"{API}contracts/", {"active_on": "2025-06-01"}).json()

    assert [row["id"] for row in on_2024["results"]] == [ended.pk]
    assert [row["id"] for row in on_2025["results"]] == [running.pk]


def test_contract_rows_show_the_resident_masked(doctor_client, home_institution):
    contract = FamilyDoctorContractFactory(
        patient=PatientFactory(home_institution=home_institution)
    )

    row = doctor_client.get(f"{API}contracts/{contract.pk}/").json()

    assert row["patient"] == contract.patient_id
    assert row["patient_resident_id"] == mask_resident_id(contract.patient.resident_id)
    assert row["institution"] == "NK001"


def test_sign_then_end_a_contract(doctor_client, home_institution):
    patient = PatientFactory(home_institution=home_institution)

    created = doctor_client.post(
        f"{API}contracts/",
        {"patient": patient.pk, "institution": "NK001", "signed_on": "2025-02-01"},
        format="json",
    )
    ended = doctor_client.patch(
        f"{API}contracts/{created.json()['id']}/", {"ended_on": "2025-11-30"}, format="json"
    )

    assert created.status_code == 201
    assert ended.status_code == 200
    assert ended.json()["ended_on"] == "2025-11-30"
    assert FamilyDoctorContract.objects.get(patient=patient).ended_on == dt.date(2025, 11, 30)


def test_second_running_contract_is_400_on_signed_on(doctor_client, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    FamilyDoctorContractFactory(patient=patient, signed_on=dt.date(2025, 1, 1))

    response = doctor_client.post(
        f"{API}contracts/",
        {"patient": patient.pk, "institution": "NK001", "signed_on": "2025-02-01"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["signed_on"]
    assert FamilyDoctorContract.objects.count() == 1


def test_ending_without_a_date_is_400(doctor_client, home_institution):
    contract = FamilyDoctorContractFactory(
        patient=PatientFactory(home_institution=home_institution)
    )

    response = doctor_client.patch(f"{API}contracts/{contract.pk}/", {}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["ended_on"]


def test_enrol_and_end_an_enrolment(doctor_client, doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)

    created = doctor_client.post(
        f"{API}enrolments/",
        {
            "patient": patient.pk,
            "institution": "NK001",
            "diabetes_type": "T2",
            "diagnosis_code": "E11.9",
            "enrolled_on": "2025-01-15",
            "responsible_doctor": doctor.pk,
            "baseline_hba1c": "8.1",
        },
        format="json",
    )
    ended = doctor_client.put(
        f"{API}enrolments/{created.json()['id']}/",
        {"ended_on": "2025-10-31", "reason": "死亡"},
        format="json",
    )

    assert created.status_code == 201, created.content
    assert created.json()["responsible_doctor"] == doctor.pk
    assert ended.status_code == 200
    stored = DiabetesEnrollment.objects.get(patient=patient)
    assert (stored.ended_on, stored.end_reason) == (dt.date(2025, 10, 31), "死亡")


def test_overlapping_enrolment_is_400_on_enrolled_on(doctor_client, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=dt.date(2025, 1, 1))

    response = doctor_client.post(
        f"{API}enrolments/",
        {
            "patient": patient.pk,
            "institution": "NK001",
            "diabetes_type": "T2",
            "diagnosis_code": "E11.9",
            "enrolled_on": "2025-03-01",
        },
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["enrolled_on"]


def test_doctor_of_another_institution_is_not_a_valid_choice(
    doctor_client, home_institution, other_institution
):
    outsider = StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=other_institution).user
    patient = PatientFactory(home_institution=home_institution)

    response = doctor_client.post(
        f"{API}enrolments/",
        {
            "patient": patient.pk,
            "institution": "NK001",
            "diabetes_type": "T2",
            "diagnosis_code": "E11.9",
            "enrolled_on": "2025-03-01",
            "responsible_doctor": outsider.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()) == ["responsible_doctor"]
    assert not DiabetesEnrollment.objects.exists()


def test_transfer_by_a_doctor_of_both_institutions(home_institution, other_institution):
    user = StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=home_institution).user
    StaffRoleFactory(user=user, role=StaffRole.Role.DOCTOR, institution=other_institution)
    client = APIClient()
    client.force_login(user)
    enrolment = DiabetesEnrollmentFactory(
        patient=PatientFactory(home_institution=home_institution), enrolled_on=dt.date(2025, 1, 1)
    )

    response = client.post(
        f"{API}enrolments/{enrolment.pk}/transfer/",
        {"to_institution": "HP001", "transfer_on": "2025-05-01", "responsible_doctor": user.pk},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["institution"] == "HP001"
    assert response.json()["enrolled_on"] == "2025-05-01"
    enrolment.refresh_from_db()
    assert enrolment.ended_on == dt.date(2025, 4, 30)


def test_districts_and_institutions_are_read_only(operator, home_institution):
    client = APIClient()
    client.force_login(operator)

    assert client.post(f"{API}districts/", {"code": "999999"}).status_code == 405
    assert (
        client.patch(f"{API}institutions/{home_institution.pk}/", {"name": "x"}).status_code == 405
    )


def test_registry_schema_generates_without_warnings_and_validates():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(
        patterns=[path("api/v1/registry/", include("cloud_management.api.urls"))]
    )

    schema = generator.get_schema(request=None, public=True)

    assert not GENERATOR_STATS, "drf-spectacular reported warnings or errors"
    validate_schema(schema)
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/registry/districts/",
        "/api/v1/registry/districts/{id}/",
        "/api/v1/registry/institutions/",
        "/api/v1/registry/institutions/{id}/",
        "/api/v1/registry/patients/",
        "/api/v1/registry/patients/{id}/",
        "/api/v1/registry/contracts/",
        "/api/v1/registry/contracts/{id}/",
        "/api/v1/registry/enrolments/",
        "/api/v1/registry/enrolments/{id}/",
        "/api/v1/registry/enrolments/{id}/transfer/",
    }
    patient_params = {p["name"] for p in paths["/api/v1/registry/patients/"]["get"]["parameters"]}
    assert {"page", "district", "institution", "name", "phone", "resident_id", "sex"} <= (
        patient_params
    )


def test_schema_and_docs_are_served_without_a_cdn(anonymous_client):
    schema = anonymous_client.get("/api/schema/")
    docs = anonymous_client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/registry/patients/" in schema.content
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower()
