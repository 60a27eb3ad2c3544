"""Staff and logins: the demo logins (one per role at the demo institution, two regulators, an
operator, a patient) and the institutions' own doctors and health managers, who hold
enrolments but cannot log in.

Everything is keyed by username, so running the demo again updates and never duplicates.
"""

import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db.models import F, Q
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cloud_management.models import District, Patient, StaffRole
from healthcommunity.demo import names
from healthcommunity.demo.catalogue import DEMO_DISTRICT_CODE, DEMO_INSTITUTION_CODE

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - printed for the demo on purpose
DOCTORS_PER_INSTITUTION = 2
HEALTH_MANAGERS_PER_INSTITUTION = 1

Role = StaffRole.Role
Agency = StaffRole.Agency


@dataclass(frozen=True)
class DemoStaff:
    username: str
    role: str
    last_name: str
    first_name: str


# One login per staff role at the demo institution (DEMO_INSTITUTION_CODE).
DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("doctor", Role.DOCTOR, "王", "建华"),
    DemoStaff("nurse", Role.NURSE, "李", "秀梅"),
    DemoStaff("pharmacist", Role.PHARMACIST, "张", "丽娟"),
    DemoStaff("lab_technician", Role.LAB_TECHNICIAN, "刘", "海涛"),
    DemoStaff("health_manager", Role.HEALTH_MANAGER, "赵", "春燕"),
    DemoStaff("institution_admin", Role.INSTITUTION_ADMIN, "陈", "志强"),
)


@dataclass(frozen=True)
class DemoRegulator:
    username: str
    # None: the whole city.
    district_code: str | None
    agency: str
    last_name: str
    first_name: str


DEMO_REGULATORS: tuple[DemoRegulator, ...] = (
    DemoRegulator("regulator_nankai", DEMO_DISTRICT_CODE, Agency.INSURANCE_BUREAU, "孙", "立新"),
    DemoRegulator("regulator_city", None, Agency.HEALTH_COMMISSION, "周", "振华"),
)
OPERATOR_USERNAME = "operator"

ADMIN_PATH = "/admin/"
PATIENT_PATH = "/"
DASHBOARDS_PATH = "/dashboards/"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    password: str
    where: str


def _user_model() -> type[User]:
    return get_user_model()


def _upsert_login(
    username: str, *, password_hash: str, last_name: str, first_name: str, superuser: bool = False
) -> User:
    user, _created = _user_model().objects.update_or_create(
        username=username,
        defaults={
            "password": password_hash,
            "last_name": last_name,
            "first_name": first_name,
            "is_staff": True,
            "is_superuser": superuser,
            "is_active": True,
        },
    )
    return user


def ensure_demo_staff_logins(*, institution_id: int, district_ids: dict[str, int]) -> None:
    """The staff, regulator and operator logins with the demo password."""
    # One hash for all: hashing is deliberately slow, and the password is printed anyway.
    password_hash = make_password(DEMO_PASSWORD)
    for staff in DEMO_STAFF:
        user = _upsert_login(
            staff.username,
            password_hash=password_hash,
            last_name=staff.last_name,
            first_name=staff.first_name,
        )
        StaffRole.objects.get_or_create(user=user, role=staff.role, institution_id=institution_id)
    for regulator in DEMO_REGULATORS:
        user = _upsert_login(
            regulator.username,
            password_hash=password_hash,
            last_name=regulator.last_name,
            first_name=regulator.first_name,
        )
        district_id = district_ids[regulator.district_code] if regulator.district_code else None
        StaffRole.objects.update_or_create(
            user=user,
            role=Role.REGULATOR,
            defaults={"district_id": district_id, "agency": regulator.agency, "institution": None},
        )
    _upsert_login(
        OPERATOR_USERNAME,
        password_hash=password_hash,
        last_name="",
        first_name=_("Platform operator"),
        superuser=True,
    )


def staff_usernames(code: str) -> tuple[list[str], list[str]]:
    """Usernames of an institution's doctors and health managers; at the demo institution the
    demo doctor and health manager come first, so the demo logins hold enrolments."""
    doctors = [f"{code}-doctor-{n}" for n in range(1, DOCTORS_PER_INSTITUTION + 1)]
    managers = [f"{code}-manager-{n}" for n in range(1, HEALTH_MANAGERS_PER_INSTITUTION + 1)]
    if code == DEMO_INSTITUTION_CODE:
        doctors[0] = "doctor"
        managers[0] = "health_manager"
    return doctors, managers


def ensure_institution_staff(
    institution_ids: dict[str, int],
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Doctors and health managers for every institution (no usable password), in bulk.

    Returns the user ids of each institution's doctors and health managers, by code.
    """
    user_model = _user_model()
    wanted: dict[str, tuple[str, int, str]] = {}  # username -> (role, institution id, code)
    for code, institution_id in institution_ids.items():
        doctors, managers = staff_usernames(code)
        for username in doctors:
            wanted[username] = (Role.DOCTOR, institution_id, code)
        for username in managers:
            wanted[username] = (Role.HEALTH_MANAGER, institution_id, code)

    existing = dict(
        user_model.objects.filter(username__in=list(wanted)).values_list("username", "pk")
    )
    new_users = []
    for username in wanted:
        if username in existing:
            continue
        rng = random.Random(username)  # noqa: S311 - a stable made-up name per username
        sex = rng.choice(("M", "F"))
        new_users.append(
            user_model(
                username=username,
                password=make_password(None),
                last_name=names.surname(rng),
                first_name=names.given_name(rng, sex=sex, birth_year=rng.randint(1965, 1998)),
                is_staff=True,
            )
        )
    user_model.objects.bulk_create(new_users, batch_size=500)
    ids = dict(user_model.objects.filter(username__in=list(wanted)).values_list("username", "pk"))

    roles = set(
        StaffRole.objects.filter(user_id__in=list(ids.values())).values_list(
            "user_id", "role", "institution_id"
        )
    )
    new_roles = [
        StaffRole(user_id=ids[username], role=role, institution_id=institution_id)
        for username, (role, institution_id, _code) in wanted.items()
        if (ids[username], role, institution_id) not in roles
    ]
    StaffRole.objects.bulk_create(new_roles, batch_size=500)

    doctors_by_code: dict[str, list[int]] = {}
    managers_by_code: dict[str, list[int]] = {}
    for code in institution_ids:
        doctors, managers = staff_usernames(code)
        doctors_by_code[code] = [ids[username] for username in doctors]
        managers_by_code[code] = [ids[username] for username in managers]
    return doctors_by_code, managers_by_code


def ensure_patient_login(patient: Patient) -> None:
    """The demo patient's login: username = their phone (CONTRACTS §2), the demo password."""
    user = _user_model().objects.filter(username=patient.phone).first()
    if user is None:
        user = _user_model()(username=patient.phone)
    user.last_name = patient.name[:1]
    user.first_name = patient.name[1:]
    user.is_staff = False
    user.is_superuser = False
    user.is_active = True
    user.set_password(DEMO_PASSWORD)
    user.save()
    # The login follows the demo patient (a run for another year features another resident).
    Patient.objects.filter(user=user).exclude(pk=patient.pk).update(user=None)
    if patient.user_id != user.pk:
        patient.user = user
        patient.save(update_fields=["user"])


def demo_patient() -> Patient | None:
    """The demo patient: a resident of the demo institution whose login is their phone."""
    return (
        Patient.objects.filter(
            home_institution__code=DEMO_INSTITUTION_CODE, user__username=F("phone")
        )
        .order_by("pk")
        .first()
    )


def demo_logins() -> list[DemoLogin]:
    """The demo logins present in the database, in the order the table prints them."""
    user_model = _user_model()
    staff_names = [staff.username for staff in DEMO_STAFF]
    regulator_names = [regulator.username for regulator in DEMO_REGULATORS]
    present = set(
        user_model.objects.filter(
            Q(username__in=[*staff_names, *regulator_names, OPERATOR_USERNAME])
        ).values_list("username", flat=True)
    )
    labels: dict[str, Promise | str] = dict(Role.choices)
    logins = [
        DemoLogin(str(labels[staff.role]), staff.username, DEMO_PASSWORD, ADMIN_PATH)
        for staff in DEMO_STAFF
        if staff.username in present
    ]
    agencies: dict[str, Promise | str] = dict(Agency.choices)
    district_names = dict(District.objects.values_list("code", "name"))
    for regulator in DEMO_REGULATORS:
        if regulator.username not in present:
            continue
        if regulator.district_code:
            scope = district_names.get(regulator.district_code, regulator.district_code)
        else:
            scope = _("whole city")
        role = _("%(agency)s regulator, %(scope)s") % {
            "agency": agencies[regulator.agency],
            "scope": scope,
        }
        logins.append(DemoLogin(role, regulator.username, DEMO_PASSWORD, DASHBOARDS_PATH))
    if OPERATOR_USERNAME in present:
        logins.append(
            DemoLogin(_("Platform operator"), OPERATOR_USERNAME, DEMO_PASSWORD, ADMIN_PATH)
        )
    patient = demo_patient()
    if patient is not None:
        logins.append(DemoLogin(_("Patient"), patient.phone, DEMO_PASSWORD, PATIENT_PATH))
    return logins


def _width(text: str) -> int:
    """Columns a string takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_logins(logins: Iterable[DemoLogin]) -> str:
    """The logins as an aligned text table with a header."""
    rows = [(_("Role"), _("Username"), _("Password"), _("Where"))]
    rows += [(login.role, login.username, login.password, login.where) for login in logins]
    if len(rows) == 1:
        return _("This database has no demo logins.")
    widths = [max(_width(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# Lazily translated so the table header follows the active language.
DEMO_LOGINS_TITLE = gettext_lazy("Demo logins (all with the same demo password):")
