"""The role × endpoint matrix (ISSUE 2 item 3): every role against every registry API endpoint
and admin page. Visible rows appear; another scope's rows are absent from lists, filter choices,
autocompletes and forms, and are 404 one by one; a denied write changes nothing.

The expected rows per role are written out in registry_world.EXPECTED_VISIBLE.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cloud_management.identifiers import mask_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    FamilyDoctorContract,
    Institution,
    Patient,
)
from tests.cloud_management.registry_world import (
    ADMIN_USERS,
    EDITORS,
    FULL_ID_ROLES,
    MODEL_CLASSES,
    MODELS,
    ROLES,
    World,
    build_world,
    registry_snapshot,
)

API = "/api/v1/registry/"
API_PATHS = {
    "district": "districts",
    "institution": "institutions",
    "patient": "patients",
    "contract": "contracts",
    "enrolment": "enrolments",
}
ADMIN_NAMES = {
    "district": "district",
    "institution": "institution",
    "patient": "patient",
    "contract": "familydoctorcontract",
    "enrolment": "diabetesenrollment",
    "staffrole": "staffrole",
}
ADMIN_MODELS = (*MODELS, "staffrole")
WRITABLE = ("patient", "contract", "enrolment")
READ_ONLY = ("district", "institution")
AUTHENTICATED = tuple(role for role in ROLES if role != "anonymous")


# access._institutions_of_patient ORs a join over registered_patients with two subqueries, so
# a patient's institution comes back once per resident registered there (duplicates in the
# list, MultipleObjectsReturned → 500 on the detail). Fix asked for in access.py; strict, so
# these fail as soon as it is fixed and the mark must go.
_ACCESS_DUPLICATES = pytest.mark.xfail(
    strict=True, reason="access.py: a patient's institutions are duplicated by a join"
)


def _role_model_matrix() -> list[Any]:
    return [
        pytest.param(role, model, marks=_ACCESS_DUPLICATES)
        if (role, model) == ("patient", "institution")
        else pytest.param(role, model)
        for role in ROLES
        for model in MODELS
    ]


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


def _api_client(world: World, role: str) -> APIClient:
    client = APIClient()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def _admin_client(world: World, role: str) -> Client:
    client = Client()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    return client


def _full_ids() -> list[str]:
    return list(Patient.objects.values_list("resident_id", flat=True))


def _assert_no_full_resident_id(content: bytes) -> None:
    text = content.decode()
    for resident_id in _full_ids():
        assert resident_id not in text


def _detail_keys(world: World, model: str) -> list[str]:
    return world.keys_of(model)


# --- API -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "model"), _role_model_matrix())
def test_api_list_shows_exactly_the_rows_in_scope(world, role, model):
    client = _api_client(world, role)

    response = client.get(f"{API}{API_PATHS[model]}/")

    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert {row["id"] for row in body["results"]} == world.visible_pks(role, model)
    assert body["count"] == len(world.visible_pks(role, model))
    _assert_no_full_resident_id(response.content)


@pytest.mark.parametrize(("role", "model"), _role_model_matrix())
def test_api_detail_is_404_outside_the_scope(world, role, model):
    client = _api_client(world, role)
    visible = world.visible(role, model)

    for key in _detail_keys(world, model):
        obj = world.objects[key]
        response = client.get(f"{API}{API_PATHS[model]}/{obj.pk}/")

        if role == "anonymous":
            assert response.status_code == 401
        elif key in visible:
            assert response.status_code == 200, key
            assert response.json()["id"] == obj.pk
        else:
            assert response.status_code == 404, key


@pytest.mark.parametrize("role", ROLES)
def test_api_patient_detail_shows_whole_resident_id_only_to_entitled_roles(world, role):
    client = _api_client(world, role)

    for key in world.visible(role, "patient"):
        patient = world.objects[key]
        data = client.get(f"{API}patients/{patient.pk}/").json()

        if role in FULL_ID_ROLES:
            assert data["resident_id"] == patient.resident_id
        else:
            assert data["resident_id"] == mask_resident_id(patient.resident_id)


def _create_payload(world: World, model: str) -> dict[str, Any]:
    o = world.objects
    if model == "patient":
        return {
            "resident_id": "120104198001010011",
            "name": "新居民",
            "sex": "M",
            "birth_date": "1980-01-01",
            "phone": "13800000009",
            "home_institution": "NK001",
            "insurance_type": "resident",
        }
    if model == "contract":
        return {"patient": o["pA"].pk, "institution": "NK001", "signed_on": "2025-07-01"}
    if model == "enrolment":
        return {
            "patient": o["pC"].pk,
            "institution": "NK001",
            "diabetes_type": "T2",
            "diagnosis_code": "E11.9",
            "enrolled_on": "2025-03-01",
        }
    return {"code": "NEW1", "name": "新"}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_api_create_is_for_editors_and_a_denied_create_changes_nothing(world, role, model):
    client = _api_client(world, role)
    before = registry_snapshot()
    count_before = MODEL_CLASSES[model].objects.count()

    response = client.post(
        f"{API}{API_PATHS[model]}/", _create_payload(world, model), format="json"
    )

    if role == "anonymous":
        expected = 401
    elif model in READ_ONLY:
        expected = 405
    elif role in EDITORS:
        expected = 201
    else:
        expected = 403
    assert response.status_code == expected, response.content
    if expected == 201:
        assert MODEL_CLASSES[model].objects.count() == count_before + 1
        assert MODEL_CLASSES[model].objects.filter(pk=response.json()["id"]).exists()
    else:
        assert registry_snapshot() == before


def _update_payload(model: str) -> dict[str, Any]:
    if model == "patient":
        return {"address": "天津市南开区新地址2号"}
    if model in ("contract", "enrolment"):
        return {"ended_on": "2025-12-31"}
    return {"name": "改名"}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_api_update_is_404_outside_scope_403_when_read_only_and_denied_changes_nothing(
    world, role, model
):
    client = _api_client(world, role)
    visible = world.visible(role, model)

    for key in _detail_keys(world, model):
        obj = world.objects[key]
        before = registry_snapshot()

        response = client.patch(
            f"{API}{API_PATHS[model]}/{obj.pk}/", _update_payload(model), format="json"
        )

        if role == "anonymous":
            expected = 401
        elif model in READ_ONLY:
            expected = 405
        elif key not in visible:
            expected = 404
        elif role in EDITORS:
            expected = 200
        else:
            expected = 403
        assert response.status_code == expected, (key, response.content)
        if expected == 200:
            obj.refresh_from_db()
            if model == "patient":
                assert obj.address == "天津市南开区新地址2号"
            else:
                assert obj.ended_on == dt.date(2025, 12, 31)
        else:
            assert registry_snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_api_transfer_is_404_outside_scope_and_needs_rights_on_both_sides(world, role):
    client = _api_client(world, role)
    visible = world.visible(role, "enrolment")

    for key in _detail_keys(world, "enrolment"):
        enrolment = world.objects[key]
        before = registry_snapshot()

        response = client.post(
            f"{API}enrolments/{enrolment.pk}/transfer/",
            {"to_institution": "NK002", "transfer_on": "2025-06-01"},
            format="json",
        )

        if role == "anonymous":
            expected = 401
        elif key not in visible:
            expected = 404
        elif role == "operator":
            # eA2 is already at NK002.
            expected = 400 if key == "eA2" else 201
        elif role in EDITORS:
            # A's staff may not record anything at A2, and do not even see it.
            expected = 400
        else:
            expected = 403
        assert response.status_code == expected, (key, response.content)
        if expected == 201:
            enrolment.refresh_from_db()
            assert enrolment.ended_on == dt.date(2025, 5, 31)
            assert response.json()["institution"] == "NK002"
        else:
            assert registry_snapshot() == before
        if expected == 400:
            assert "to_institution" in response.json()


@pytest.mark.parametrize("model", ["patient", "contract", "enrolment"])
@pytest.mark.parametrize("role", AUTHENTICATED)
def test_api_filters_only_narrow_the_scope(world, role, model):
    client = _api_client(world, role)
    field = {"patient": "home_institution", "contract": "institution", "enrolment": "institution"}
    cls = MODEL_CLASSES[model]

    for institution in Institution.objects.all():
        response = client.get(f"{API}{API_PATHS[model]}/", {"institution": institution.code})

        assert response.status_code == 200
        in_institution = set(
            cls.objects.filter(**{field[model]: institution}).values_list("pk", flat=True)
        )
        expected = world.visible_pks(role, model) & in_institution
        assert {row["id"] for row in response.json()["results"]} == expected


_SELECT = re.compile(r'<select[^>]*name="(?P<name>\w+)"[^>]*>(?P<body>.*?)</select>', re.S)
_OPTION = re.compile(r'<option[^>]*value="(?P<value>[^"]*)"')


def _select_options(html: str) -> dict[str, set[str]]:
    return {
        match["name"]: {value for value in _OPTION.findall(match["body"]) if value}
        for match in _SELECT.finditer(html)
    }


@pytest.mark.parametrize("model", WRITABLE)
@pytest.mark.parametrize("role", AUTHENTICATED)
def test_browsable_api_forms_offer_only_rows_in_scope(world, role, model):
    client = _api_client(world, role)
    visible_institutions = {world.objects[k].code for k in world.visible(role, "institution")}
    visible_patients = {str(world.objects[k].pk) for k in world.visible(role, "patient")}
    visible_districts = {world.objects[k].code for k in world.visible(role, "district")}
    if role in ("city_regulator", "operator"):
        visible_districts = set(MODEL_CLASSES["district"].objects.values_list("code", flat=True))

    response = client.get(f"{API}{API_PATHS[model]}/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    selects = _select_options(response.content.decode())
    if role not in EDITORS:
        # No create form at all for users who may not create.
        assert not ({"patient", "institution", "home_institution"} & set(selects))
        return
    if model == "patient":
        assert selects["home_institution"] == visible_institutions
        assert selects["district"] == visible_districts
    else:
        assert selects["patient"] == visible_patients
        assert selects["institution"] == visible_institutions
    _assert_no_full_resident_id(response.content)


# --- Admin -----------------------------------------------------------------------------------


def _assert_login_redirect(response: Any) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def _admin_url(model: str, suffix: str = "") -> str:
    return f"/admin/cloud_management/{ADMIN_NAMES[model]}/{suffix}"


def _staffrole_visible(world: World, role: str) -> set[str]:
    if role == "operator":
        return set(world.keys_of("staffrole"))
    if role == "institution_admin":
        return {key for key in world.keys_of("staffrole") if key != "role_doctor_b"}
    return set()


def _admin_visible(world: World, role: str, model: str) -> set[str]:
    if model == "staffrole":
        return _staffrole_visible(world, role)
    return world.visible(role, model)


def _admin_visible_pks(world: World, role: str, model: str) -> set[int]:
    if model == "staffrole":
        keys = _staffrole_visible(world, role)
        if role == "operator":
            return set(MODEL_CLASSES["staffrole"].objects.values_list("pk", flat=True))
        return world.pks(keys)
    return world.visible_pks(role, model)


_FILTER_MODELS = {"district": "district", "institution": "institution"}


@pytest.mark.parametrize("model", ADMIN_MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_admin_changelist_lists_and_filters_only_rows_in_scope(world, role, model):
    client = _admin_client(world, role)

    response = client.get(_admin_url(model))

    if role not in ADMIN_USERS:
        _assert_login_redirect(response)
        return
    if model == "staffrole" and role not in ("operator", "institution_admin"):
        assert response.status_code == 403
        return
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert {obj.pk for obj in changelist.result_list} == _admin_visible_pks(world, role, model)
    for spec in changelist.filter_specs:
        parameter = getattr(spec, "parameter_name", None)
        if parameter in _FILTER_MODELS:
            offered = {int(value) for value, _label in spec.lookup_choices}
            assert offered == world.visible_pks(role, _FILTER_MODELS[parameter])
    _assert_no_full_resident_id(response.content)
    html = response.content.decode()
    if model in WRITABLE:
        # A resident's name appears only on their own visible rows.
        shown = {world.objects[key] for key in world.visible(role, model)}
        owners = {getattr(obj, "patient", obj).pk for obj in shown}
        for key in world.keys_of("patient"):
            if world.objects[key].pk not in owners:
                assert world.objects[key].name not in html, key


@pytest.mark.parametrize("model", ADMIN_MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_admin_change_page_is_404_outside_the_scope(world, role, model):
    client = _admin_client(world, role)
    visible = _admin_visible(world, role, model)

    for key in world.keys_of(model):
        obj = world.objects[key]
        response = client.get(_admin_url(model, f"{obj.pk}/change/"))

        if role not in ADMIN_USERS:
            _assert_login_redirect(response)
        elif key in visible:
            assert response.status_code == 200, key
        else:
            assert response.status_code == 404, key
        history = client.get(_admin_url(model, f"{obj.pk}/history/"))
        if role in ADMIN_USERS:
            assert history.status_code == (200 if key in visible else 404), key


@pytest.mark.parametrize("role", ROLES)
def test_admin_patient_page_shows_whole_resident_id_only_to_entitled_roles(world, role):
    client = _admin_client(world, role)

    for key in world.visible(role, "patient") if role in ADMIN_USERS else ():
        patient = world.objects[key]
        html = client.get(_admin_url("patient", f"{patient.pk}/change/")).content.decode()

        if role in FULL_ID_ROLES:
            assert patient.resident_id in html
        else:
            assert patient.resident_id not in html
            assert mask_resident_id(patient.resident_id) in html


@pytest.mark.parametrize("model", ADMIN_MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_admin_add_page_is_for_editors_and_operators(world, role, model):
    client = _admin_client(world, role)

    response = client.get(_admin_url(model, "add/"))

    if role not in ADMIN_USERS:
        _assert_login_redirect(response)
    elif (model in WRITABLE and role in EDITORS) or role == "operator":
        assert response.status_code == 200
        # Foreign keys to big tables are autocompletes: no <option> list of residents.
        for key in world.keys_of("patient"):
            assert world.objects[key].name not in response.content.decode()
    else:
        assert response.status_code == 403


def _change_form_data(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Patient):
        return {
            "resident_id": obj.resident_id,
            "name": obj.name,
            "sex": obj.sex,
            "birth_date": obj.birth_date.isoformat(),
            "phone": obj.phone,
            "address": "天津市南开区新地址3号",
            "district": obj.district_id,
            "home_institution": obj.home_institution_id,
            "insurance_type": obj.insurance_type,
            "insurance_number": obj.insurance_number,
        }
    if isinstance(obj, FamilyDoctorContract):
        return {"ended_on": "2025-12-31"}
    if isinstance(obj, DiabetesEnrollment):
        return {"ended_on": "2025-12-31", "end_reason": "随访结束"}
    if isinstance(obj, Institution):
        return {
            "code": obj.code,
            "name": f"{obj.name}（改）",
            "district": obj.district_id,
            "kind": obj.kind,
            "is_chronic_care_centre": "on",
            "is_active": "on",
        }
    return {"code": obj.code, "name": f"{obj.name}（改）"}


def _changed(obj: Any) -> bool:
    before = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    obj.refresh_from_db()
    after = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    return before != after


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_admin_change_post_is_denied_without_rights_and_changes_nothing(world, role, model):
    client = _admin_client(world, role)
    visible = world.visible(role, model)
    may_write = role == "operator" or (role in EDITORS and model in WRITABLE)

    for key in world.keys_of(model):
        obj = world.objects[key]
        before = registry_snapshot()

        response = client.post(_admin_url(model, f"{obj.pk}/change/"), _change_form_data(obj))

        if role not in ADMIN_USERS:
            _assert_login_redirect(response)
        elif key not in visible:
            assert response.status_code == 404, key
        elif may_write:
            assert response.status_code == 302, (key, response.content.decode()[:3000])
            assert _changed(obj), key
            continue
        else:
            assert response.status_code == 403, key
        assert registry_snapshot() == before, key


def _add_form_data(world: World, model: str) -> dict[str, Any]:
    o = world.objects
    if model == "patient":
        return {
            "resident_id": "120104198001010011",
            "name": "新居民",
            "sex": "M",
            "birth_date": "1980-01-01",
            "phone": "13800000009",
            "address": "",
            "district": o["dA"].pk,
            "home_institution": o["A"].pk,
            "insurance_type": "resident",
            "insurance_number": "",
        }
    if model == "contract":
        return {"patient": o["pA"].pk, "institution": o["A"].pk, "signed_on": "2025-07-01"}
    return {
        "patient": o["pC"].pk,
        "institution": o["A"].pk,
        "diabetes_type": "T2",
        "diagnosis_code": "E11.9",
        "enrolled_on": "2025-03-01",
    }


@pytest.mark.parametrize("model", WRITABLE)
@pytest.mark.parametrize("role", ROLES)
def test_admin_add_post_is_for_editors_and_a_denied_add_changes_nothing(world, role, model):
    client = _admin_client(world, role)
    before = registry_snapshot()
    count_before = MODEL_CLASSES[model].objects.count()

    response = client.post(_admin_url(model, "add/"), _add_form_data(world, model))

    if role not in ADMIN_USERS:
        _assert_login_redirect(response)
    elif role in EDITORS:
        assert response.status_code == 302, response.content.decode()[:3000]
        assert MODEL_CLASSES[model].objects.count() == count_before + 1
        return
    else:
        assert response.status_code == 403
    assert registry_snapshot() == before


@pytest.mark.parametrize("model", ADMIN_MODELS)
@pytest.mark.parametrize("role", ROLES)
def test_admin_delete_is_for_operators_only(world, role, model):
    client = _admin_client(world, role)
    visible = _admin_visible(world, role, model)

    for key in world.keys_of(model):
        obj = world.objects[key]
        before = registry_snapshot()

        response = client.post(_admin_url(model, f"{obj.pk}/delete/"), {"post": "yes"})

        if role not in ADMIN_USERS:
            _assert_login_redirect(response)
        elif key not in visible:
            assert response.status_code == 404, key
        elif role == "operator":
            # Protected rows (districts, institutions in use) answer with an explanation.
            assert response.status_code in (200, 302), key
            continue
        else:
            assert response.status_code == 403, key
        assert registry_snapshot() == before, key


AUTOCOMPLETES = (
    # (source admin, source field, target model)
    ("patient", "district", "district"),
    ("patient", "home_institution", "institution"),
    ("familydoctorcontract", "patient", "patient"),
    ("familydoctorcontract", "institution", "institution"),
    ("diabetesenrollment", "patient", "patient"),
    ("diabetesenrollment", "institution", "institution"),
    ("institution", "district", "district"),
    ("staffrole", "institution", "institution"),
    ("staffrole", "district", "district"),
)


def _editable_institutions(world: World, role: str) -> set[int]:
    if role == "operator":
        return set(Institution.objects.values_list("pk", flat=True))
    if role in EDITORS:
        return {world.objects["A"].pk}
    return set()


@pytest.mark.parametrize(("source", "field", "target"), AUTOCOMPLETES)
@pytest.mark.parametrize("role", ROLES)
def test_admin_autocomplete_offers_only_rows_in_scope(world, role, source, field, target):
    client = _admin_client(world, role)
    ids: set[int] = set()
    page = 1

    while True:
        response = client.get(
            "/admin/autocomplete/",
            {
                "app_label": "cloud_management",
                "model_name": source,
                "field_name": field,
                "term": "",
                "page": page,
            },
        )
        if role not in ADMIN_USERS:
            _assert_login_redirect(response)
            return
        assert response.status_code == 200
        body = response.json()
        ids |= {int(row["id"]) for row in body["results"]}
        if not body["pagination"]["more"]:
            break
        page += 1

    if target == "institution":
        # Offered where something is recorded: only institutions the user may record at.
        assert ids == _editable_institutions(world, role)
    else:
        assert ids == world.visible_pks(role, target)
    _assert_no_full_resident_id(response.content)
