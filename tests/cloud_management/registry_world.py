"""A small registry with two districts, three institutions and one user per role, and the
rows each role is expected to see, written out by hand (not computed by access.py).

Districts: dA = 120104 南开区 (institutions A and A2), dB = 120101 和平区 (institution B).

Residents: pA (registered at A), pSelf (registered at A, has a login), pC (registered at B but
under contract at A: A's staff see them), pA2 (registered at A2), pB (registered at B).
Contracts: cC (pC at A), cS (pSelf at A), cA2 (pA2 at A2), cB (pB at B); pA has none.
Enrolments: eA (pA at A), eS (pSelf at A), eA2 (pA2 at A2), eB (pB at B); pC has none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models

from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    InstitutionFactory,
    PatientFactory,
    RegulatorRoleFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)

STAFF_ROLES = (
    "doctor",
    "nurse",
    "pharmacist",
    "lab_technician",
    "health_manager",
    "institution_admin",
)
ROLES = (
    "anonymous",
    *STAFF_ROLES,
    "district_regulator",
    "other_district_regulator",
    "city_regulator",
    "patient",
    "operator",
)
EDITORS = frozenset({"doctor", "nurse", "health_manager", "institution_admin", "operator"})
ADMIN_USERS = frozenset(
    set(STAFF_ROLES)
    | {"district_regulator", "other_district_regulator", "city_regulator", "operator"}
)
# Whole resident IDs on a record's own page: the record's institution's staff, the resident,
# operators. Regulators read masked IDs everywhere.
FULL_ID_ROLES = frozenset(set(STAFF_ROLES) | {"patient", "operator"})
MODELS = ("district", "institution", "patient", "contract", "enrolment")

_ALL = "all"
_STAFF_A: dict[str, Any] = {
    "district": {"dA"},
    "institution": {"A"},
    "patient": {"pA", "pSelf", "pC"},
    "contract": {"cC", "cS"},
    "enrolment": {"eA", "eS"},
    "staffrole": {f"role_{name}" for name in STAFF_ROLES},
}
EXPECTED_VISIBLE: dict[str, dict[str, Any]] = {
    **dict.fromkeys(STAFF_ROLES, _STAFF_A),
    "district_regulator": {
        "district": {"dA"},
        "institution": {"A", "A2"},
        # pC is registered in district B: A's district regulator does not see them.
        "patient": {"pA", "pSelf", "pA2"},
        "contract": {"cC", "cS", "cA2"},
        "enrolment": {"eA", "eS", "eA2"},
    },
    "other_district_regulator": {
        "district": {"dB"},
        "institution": {"B"},
        "patient": {"pC", "pB"},
        "contract": {"cB"},
        "enrolment": {"eB"},
    },
    "city_regulator": dict.fromkeys(MODELS, _ALL),
    "operator": {**dict.fromkeys(MODELS, _ALL), "staffrole": _ALL},
    "patient": {
        "district": {"dA"},
        "institution": {"A"},
        "patient": {"pSelf"},
        "contract": {"cS"},
        "enrolment": {"eS"},
    },
    "anonymous": {key: set() for key in MODELS},
}
MODEL_CLASSES: dict[str, type[models.Model]] = {
    "district": District,
    "institution": Institution,
    "patient": Patient,
    "contract": FamilyDoctorContract,
    "enrolment": DiabetesEnrollment,
    "staffrole": StaffRole,
}


@dataclass
class World:
    objects: dict[str, models.Model] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)

    def keys_of(self, model: str) -> list[str]:
        cls = MODEL_CLASSES[model]
        return [key for key, obj in self.objects.items() if type(obj) is cls]

    def visible(self, role: str, model: str) -> set[str]:
        expected = EXPECTED_VISIBLE[role].get(model, set())
        if expected == _ALL:
            return set(self.keys_of(model))
        return set(expected)

    def pks(self, keys: set[str]) -> set[int]:
        return {self.objects[key].pk for key in keys}

    def visible_pks(self, role: str, model: str) -> set[int]:
        if model == "district" and EXPECTED_VISIBLE[role].get(model) == _ALL:
            return set(District.objects.values_list("pk", flat=True))
        return self.pks(self.visible(role, model))

    def key_of(self, obj: models.Model) -> str:
        for key, candidate in self.objects.items():
            if type(candidate) is type(obj) and candidate.pk == obj.pk:
                return key
        raise KeyError(obj)


def build_world() -> World:
    world = World()
    o = world.objects
    o["dA"] = district("120104")
    o["dB"] = district("120101")
    o["A"] = InstitutionFactory(code="NK001", name="甲街社区卫生服务中心", district=o["dA"])
    o["A2"] = InstitutionFactory(code="NK002", name="乙镇卫生院", district=o["dA"])
    o["B"] = InstitutionFactory(code="HP001", name="丙街社区卫生服务中心", district=o["dB"])

    users = world.users
    users["anonymous"] = None
    for name in STAFF_ROLES:
        role = StaffRoleFactory(
            role=name, institution=o["A"], user=UserFactory(username=f"a_{name}", is_staff=True)
        )
        users[name] = role.user
        o[f"role_{name}"] = role
    o["role_doctor_b"] = StaffRoleFactory(
        role="doctor", institution=o["B"], user=UserFactory(username="b_doctor", is_staff=True)
    )
    users["district_regulator"] = RegulatorRoleFactory(
        district=o["dA"], user=UserFactory(username="reg_a", is_staff=True)
    ).user
    users["other_district_regulator"] = RegulatorRoleFactory(
        district=o["dB"], user=UserFactory(username="reg_b", is_staff=True)
    ).user
    users["city_regulator"] = RegulatorRoleFactory(
        district=None,
        agency=StaffRole.Agency.HEALTH_COMMISSION,
        user=UserFactory(username="reg_city", is_staff=True),
    ).user
    users["operator"] = UserFactory(username="operator", is_staff=True, is_superuser=True)

    o["pA"] = PatientFactory(name="赵一", home_institution=o["A"])
    o["pSelf"] = PatientFactory(
        name="钱二",
        home_institution=o["A"],
        phone="13900000001",
        user=UserFactory(username="13900000001"),
    )
    users["patient"] = o["pSelf"].user
    o["pC"] = PatientFactory(name="孙三", home_institution=o["B"])
    o["pA2"] = PatientFactory(name="李四", home_institution=o["A2"])
    o["pB"] = PatientFactory(name="周五", home_institution=o["B"])

    start = dt.date(2025, 1, 1)
    o["cC"] = FamilyDoctorContractFactory(patient=o["pC"], institution=o["A"], signed_on=start)
    o["cS"] = FamilyDoctorContractFactory(patient=o["pSelf"], institution=o["A"], signed_on=start)
    o["cA2"] = FamilyDoctorContractFactory(patient=o["pA2"], institution=o["A2"], signed_on=start)
    o["cB"] = FamilyDoctorContractFactory(patient=o["pB"], institution=o["B"], signed_on=start)
    o["eA"] = DiabetesEnrollmentFactory(patient=o["pA"], institution=o["A"], enrolled_on=start)
    o["eS"] = DiabetesEnrollmentFactory(patient=o["pSelf"], institution=o["A"], enrolled_on=start)
    o["eA2"] = DiabetesEnrollmentFactory(patient=o["pA2"], institution=o["A2"], enrolled_on=start)
    o["eB"] = DiabetesEnrollmentFactory(patient=o["pB"], institution=o["B"], enrolled_on=start)
    return world


def registry_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every registry row and user, to compare before and after a denied write."""
    tables: dict[str, models.QuerySet[Any]] = {
        "district": District.objects.order_by("pk"),
        "institution": Institution.objects.order_by("pk"),
        "staffrole": StaffRole.objects.order_by("pk"),
        "patient": Patient.objects.order_by("pk"),
        "contract": FamilyDoctorContract.objects.order_by("pk"),
        "enrolment": DiabetesEnrollment.objects.order_by("pk"),
        "user": get_user_model().objects.order_by("pk"),
    }
    return {name: list(qs.values_list()) for name, qs in tables.items()}
