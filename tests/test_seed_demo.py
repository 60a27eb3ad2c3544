"""seed_demo (CONTRACTS §2): the small demo, its logins, re-runs, --if-empty, and the full-scale
path exercised with a small count (COPY and the portable writer give the same rows)."""

import datetime as dt
import io
import itertools
import random
import re
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from cloud_exams.models import ExamResult
from cloud_management import identifiers
from cloud_management.access import scope_of
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)
from cloud_management.tianjin import TIANJIN_DISTRICTS
from healthcommunity.demo import payments as demo_payments
from healthcommunity.demo import small, tianjin
from healthcommunity.demo.catalogue import (
    DEMO_INSTITUTION_CODE,
    small_institutions,
    tianjin_institutions,
)
from healthcommunity.demo.generate import (
    check_digit,
    generate_residents,
    phone_number,
    resident_id,
)
from healthcommunity.demo.runner import run_seed
from healthcommunity.demo.staff import DEMO_PASSWORD
from healthcommunity.demo.steps import SeedContext
from payments.formulas import DEFAULT_RETENTION_TIERS
from payments.models import ClaimLine, QualityAssessment, Scheme, SettlementLine, SettlementRun
from payments.selectors import claim_lines_behind_line
from payments.services.reimbursement import split_charge

YEAR = 2026
D = Decimal
PHONE = re.compile(r"^1[358]\d{9}$")
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY path needs PostgreSQL"
)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--year", str(YEAR), *args, stdout=out)
    return out.getvalue()


def table_counts() -> dict[str, int]:
    return {
        "districts": District.objects.count(),
        "institutions": Institution.objects.count(),
        "users": get_user_model().objects.count(),
        "roles": StaffRole.objects.count(),
        "residents": Patient.objects.count(),
        "contracts": FamilyDoctorContract.objects.count(),
        "enrolments": DiabetesEnrollment.objects.count(),
        "patient_logins": Patient.objects.filter(user__isnull=False).count(),
    }


def demo_patient() -> Patient:
    """The small demo's patient with the demo login: resident 0 of its population (the other
    demo steps give some other residents logins of their own)."""
    plan = small.plan_for(SeedContext(scale="small", year=YEAR, write=lambda _: None))
    first = next(iter(generate_residents(plan)))
    return Patient.objects.get(resident_id=first.resident_id)


def overlapping_enrolments() -> list[int]:
    """Ids of residents with two enrolments sharing a day."""
    by_patient = defaultdict(list)
    for patient_id, start, end in DiabetesEnrollment.objects.values_list(
        "patient_id", "enrolled_on", "ended_on"
    ):
        by_patient[patient_id].append((start, end or dt.date.max))
    overlapping = []
    for patient_id, spans in by_patient.items():
        spans.sort()
        if any(later[0] <= earlier[1] for earlier, later in itertools.pairwise(spans)):
            overlapping.append(patient_id)
    return overlapping


# --- the small demo ------------------------------------------------------------------------


@pytest.mark.django_db
def test_small_demo_leaves_the_sixteen_migrated_districts_untouched():
    before = list(District.objects.values_list("pk", "code", "name"))

    seed()

    assert list(District.objects.values_list("pk", "code", "name")) == before
    assert list(District.objects.values_list("code", "name")) == list(TIANJIN_DISTRICTS)


@pytest.mark.django_db
def test_small_demo_creates_32_institutions_in_all_16_districts():
    seed()

    assert Institution.objects.count() == 32
    assert Counter(Institution.objects.values_list("kind", flat=True)) == {
        "community_centre": 18,
        "township_centre": 9,
        "village_clinic": 3,
        "digital_hospital": 1,
        "general_hospital": 1,
    }
    assert Institution.objects.values("district").distinct().count() == 16
    assert Institution.objects.filter(is_chronic_care_centre=True).count() == 20
    names = set(Institution.objects.values_list("name", flat=True))
    assert {
        "南开区长江道社区卫生服务中心",
        "西青区杨柳青镇卫生院",
        "天津市数字健康中心（互联网医院）",
        "天津市第三中心医院",
        "蓟州区下营镇郭家沟村卫生室",
    } <= names
    demo = Institution.objects.get(code=DEMO_INSTITUTION_CODE)
    assert (demo.name, demo.district.code, demo.kind) == (
        "南开区长江道社区卫生服务中心",
        "120104",
        "community_centre",
    )


@pytest.mark.django_db
def test_small_demo_residents_have_valid_ids_agreeing_with_birth_date_and_sex():
    seed()

    residents = list(Patient.objects.select_related("district", "home_institution"))
    assert len(residents) == 2000
    for patient in residents:
        assert identifiers.validate_resident_id(patient.resident_id) == patient.resident_id
        assert identifiers.birth_date_of(patient.resident_id) == patient.birth_date
        assert identifiers.sex_of(patient.resident_id) == patient.sex
        assert patient.resident_id[:6] == patient.district.code
        assert patient.home_institution.district_id == patient.district_id
        assert patient.home_institution.kind in {
            "community_centre",
            "township_centre",
            "village_clinic",
        }
        assert PHONE.match(patient.phone), patient.phone
        assert patient.address.startswith(f"天津市{patient.district.name}"), patient.address
        assert patient.insurance_type in {"employee", "resident"}
        assert patient.insurance_number.startswith(
            "TJE" if patient.insurance_type == "employee" else "TJR"
        )
        assert len(patient.name) in {2, 3}
    assert len({patient.phone for patient in residents}) == 2000
    assert len({patient.insurance_number for patient in residents}) == 2000


@pytest.mark.django_db
def test_small_demo_signs_most_residents_with_a_family_doctor_and_ends_some():
    seed()

    contracted = FamilyDoctorContract.objects.values("patient").distinct().count()
    assert 1200 <= contracted <= 1600  # 60-80 % of 2,000
    assert FamilyDoctorContract.objects.filter(ended_on__isnull=False).exists()
    assert not FamilyDoctorContract.objects.filter(signed_on__gt=dt.date(YEAR, 3, 31)).exists()
    for signed_on, ended_on, birth_date in FamilyDoctorContract.objects.values_list(
        "signed_on", "ended_on", "patient__birth_date"
    ):
        assert signed_on > birth_date
        assert ended_on is None or ended_on >= signed_on


@pytest.mark.django_db
def test_small_demo_enrols_a_tenth_in_diabetes_care_with_a_few_transfers_and_no_overlap():
    seed()

    enrolments = list(DiabetesEnrollment.objects.select_related("institution"))
    assert len(enrolments) == 200
    assert overlapping_enrolments() == []
    types = Counter(enrolment.diabetes_type for enrolment in enrolments)
    assert types["T2"] > 0.85 * len(enrolments)
    for enrolment in enrolments:
        prefix = {"T1": "E10.", "T2": "E11.", "other": ("E13.", "E14.")}[enrolment.diabetes_type]
        assert enrolment.diagnosis_code.startswith(prefix)
        assert enrolment.institution.kind in {"community_centre", "township_centre"}
    assert any(enrolment.ended_on is not None and not enrolment.end_reason.startswith("转出")
               for enrolment in enrolments)  # fmt: skip
    assert sum(enrolment.baseline_fbg is not None for enrolment in enrolments) > 150
    assert sum(enrolment.baseline_hba1c is not None for enrolment in enrolments) > 150

    transfers = [
        patient_id
        for patient_id, count in Counter(e.patient_id for e in enrolments).items()
        if count > 1
    ]
    assert len(transfers) == 6
    for patient_id in transfers:
        first, second = DiabetesEnrollment.objects.filter(patient_id=patient_id).order_by(
            "enrolled_on"
        )
        assert first.ended_on is not None
        assert first.ended_on < second.enrolled_on
        assert first.institution_id != second.institution_id
        assert second.ended_on is None


@pytest.mark.django_db
def test_small_demo_enrolments_name_a_doctor_and_health_manager_of_their_institution():
    seed()

    roles = set(StaffRole.objects.values_list("user_id", "role", "institution_id"))
    enrolments = DiabetesEnrollment.objects.values_list(
        "responsible_doctor_id", "health_manager_id", "institution_id"
    )
    assert len(enrolments) == 200
    for doctor_id, manager_id, institution_id in enrolments:
        assert (doctor_id, "doctor", institution_id) in roles
        assert (manager_id, "health_manager", institution_id) in roles
    demo_doctor = get_user_model().objects.get(username="doctor")
    assert DiabetesEnrollment.objects.filter(responsible_doctor=demo_doctor).exists()


STAFF_LOGINS = [
    ("doctor", "doctor"),
    ("nurse", "nurse"),
    ("pharmacist", "pharmacist"),
    ("lab_technician", "lab_technician"),
    ("health_manager", "health_manager"),
    ("institution_admin", "institution_admin"),
]


@pytest.mark.django_db
def test_small_demo_has_a_staff_login_for_every_staff_role_at_the_demo_institution():
    seed()

    staff_roles = {choice for choice, _label in StaffRole.Role.choices} - {"regulator"}
    assert {role for _username, role in STAFF_LOGINS} == staff_roles
    for username, role in STAFF_LOGINS:
        user = get_user_model().objects.get(username=username)
        assert user.is_staff
        assert not user.is_superuser
        assert list(user.staff_roles.values_list("role", "institution__code")) == [
            (role, DEMO_INSTITUTION_CODE)
        ]
        assert Client().login(username=username, password=DEMO_PASSWORD)


@pytest.mark.django_db
def test_small_demo_has_regulator_operator_and_patient_logins():
    seed()
    users = get_user_model().objects

    district_regulator = users.get(username="regulator_nankai")
    assert list(district_regulator.staff_roles.values_list("role", "district__code", "agency")) == [
        ("regulator", "120104", "insurance_bureau")
    ]
    city_regulator = users.get(username="regulator_city")
    assert list(city_regulator.staff_roles.values_list("role", "district", "agency")) == [
        ("regulator", None, "health_commission")
    ]
    assert scope_of(city_regulator).is_city_regulator
    operator = users.get(username="operator")
    assert operator.is_superuser
    assert operator.is_staff

    patient = demo_patient()
    assert patient.user is not None
    assert patient.user.username == patient.phone
    assert not patient.user.is_staff
    assert patient.home_institution.code == DEMO_INSTITUTION_CODE
    assert patient.contracts.filter(ended_on__isnull=True).count() == 1
    assert patient.enrolments.get().diabetes_type == "T2"
    assert scope_of(patient.user).patient_id == patient.pk

    for username in ("regulator_nankai", "regulator_city", "operator", patient.phone):
        assert Client().login(username=username, password=DEMO_PASSWORD), username


@pytest.mark.django_db
def test_small_demo_prints_the_logins_with_role_username_password_and_where_to_go():
    output = seed()

    patient = demo_patient()
    lines = output.splitlines()
    expected = [
        ("doctor", "/admin/"),
        ("nurse", "/admin/"),
        ("pharmacist", "/admin/"),
        ("lab_technician", "/admin/"),
        ("health_manager", "/admin/"),
        ("institution_admin", "/admin/"),
        ("regulator_nankai", "/dashboards/"),
        ("regulator_city", "/dashboards/"),
        ("operator", "/admin/"),
        (patient.phone, "/"),
    ]
    table = lines[-len(expected) :]
    for line, (username, where) in zip(table, expected, strict=True):
        cells = line.split()
        assert cells[-3:] == [username, DEMO_PASSWORD, where], line


@pytest.mark.django_db
def test_running_the_small_demo_again_duplicates_nothing():
    seed()
    first = table_counts()
    patient_ids = set(Patient.objects.values_list("pk", flat=True))

    output = seed()

    assert table_counts() == first
    assert set(Patient.objects.values_list("pk", flat=True)) == patient_ids
    assert "Residents: 0 new (of 2000), 0 contracts, 0 diabetes enrolments." in output


@pytest.mark.django_db
def test_if_empty_on_a_seeded_database_seeds_nothing_but_prints_the_logins():
    seed()
    before = table_counts()

    output = seed("--if-empty")

    assert table_counts() == before
    assert "nothing was seeded" in output
    for username in ("doctor", "institution_admin", "regulator_city", "operator"):
        assert re.search(rf"\b{username}\s+{DEMO_PASSWORD}\s", output), username
    assert demo_patient().phone in output


@pytest.mark.django_db
def test_if_empty_on_an_empty_database_seeds_the_small_demo():
    output = seed("--if-empty")

    assert table_counts()["residents"] == 2000
    assert table_counts()["institutions"] == 32
    assert "operator" in output


@pytest.mark.django_db
def test_year_outside_2000_to_2100_is_refused_and_nothing_is_written():
    with pytest.raises(CommandError, match="--year: 1999"):
        call_command("seed_demo", "--year", "1999", stdout=io.StringIO())

    assert Institution.objects.count() == 0


@pytest.mark.django_db
def test_tianjin_scale_refuses_a_database_that_has_residents():
    seed()
    before = table_counts()

    with pytest.raises(CommandError, match="has 2000"):
        call_command("seed_demo", "--scale", "tianjin", "--year", str(YEAR), stdout=io.StringIO())

    assert table_counts() == before


# --- the full-scale path, with a small count ----------------------------------------------


def test_full_catalogue_has_266_institutions_in_the_16_districts():
    institutions = tianjin_institutions()

    assert len(institutions) == 266
    assert len({spec.code for spec in institutions}) == 266
    assert len({spec.name for spec in institutions}) == 266
    assert {spec.district_code for spec in institutions} == {code for code, _ in TIANJIN_DISTRICTS}
    assert Counter(spec.kind for spec in institutions) == {
        "community_centre": 121,
        "township_centre": 128,
        "village_clinic": 10,
        "digital_hospital": 1,
        "general_hospital": 6,
    }
    # The small demo's institutions are the full catalogue's.
    assert set(small_institutions()) <= set(institutions)


def test_full_scale_generator_keeps_exact_counts_and_valid_rows_with_a_small_count():
    ctx = SeedContext(scale="tianjin", year=YEAR, write=print, residents=3000, enrolments=1100)
    plan = tianjin.plan_for(ctx)

    rows = list(generate_residents(plan))

    assert len(rows) == 3000
    assert len({row.resident_id for row in rows}) == 3000
    assert len({row.phone for row in rows}) == 3000
    for row in rows:
        assert identifiers.validate_resident_id(row.resident_id) == row.resident_id
        assert identifiers.birth_date_of(row.resident_id) == row.birth_date
        assert identifiers.sex_of(row.resident_id) == row.sex
    enrolments = [(row, e) for row in rows for e in row.enrolments]
    assert len(enrolments) == 1100
    assert sum(len(row.enrolments) == 2 for row in rows) == plan.transfers == 22
    for row in rows:
        spans = sorted((e.enrolled_on, e.ended_on or dt.date.max) for e in row.enrolments)
        assert all(b[0] > a[1] for a, b in itertools.pairwise(spans))
        assert len({c.signed_on for c in row.contracts}) == len(row.contracts)
    contracted = sum(bool(row.contracts) for row in rows) / len(rows)
    assert 0.60 <= contracted <= 0.70
    assert rows[0].home_institution == DEMO_INSTITUTION_CODE
    # Deterministic: the same plan gives the same rows.
    assert list(generate_residents(plan))[:50] == rows[:50]


def test_small_and_full_scale_populations_never_share_a_resident_id_or_phone():
    small_rows = list(
        generate_residents(small.plan_for(SeedContext("small", YEAR, print, residents=500)))
    )
    full_rows = list(
        generate_residents(
            tianjin.plan_for(SeedContext("tianjin", YEAR, print, residents=500, enrolments=100))
        )
    )

    assert not {row.resident_id for row in small_rows} & {row.resident_id for row in full_rows}
    assert not {row.phone for row in small_rows} & {row.phone for row in full_rows}


def test_check_digit_agrees_with_the_registry_validator():
    rng = random.Random(7)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert check_digit(body) == identifiers.check_digit(body)
    # make_resident_id's serial 12 for a man is the order code 125.
    number = resident_id("120104", dt.date(1958, 3, 9), 125, "M")
    assert number == identifiers.make_resident_id("120104", dt.date(1958, 3, 9), 12, "M")
    assert identifiers.validate_resident_id(number) == number
    with pytest.raises(ValueError, match="parity"):
        resident_id("120104", dt.date(1958, 3, 9), 124, "M")


def test_phone_numbers_are_distinct_mobile_numbers():
    phones = [phone_number(index) for index in range(20_000)]

    assert len(set(phones)) == 20_000
    assert all(PHONE.match(phone) for phone in phones)


def snapshot() -> list[tuple[object, ...]]:
    """Every resident with their contracts and enrolments, by natural key and username."""
    rows: list[tuple[object, ...]] = list(
        Patient.objects.values_list(
            "resident_id", "name", "sex", "birth_date", "phone", "address", "district__code",
            "home_institution__code", "insurance_type", "insurance_number", "user__username",
        )
    )  # fmt: skip
    rows += FamilyDoctorContract.objects.values_list(
        "patient__resident_id", "institution__code", "signed_on", "ended_on"
    )
    rows += DiabetesEnrollment.objects.values_list(
        "patient__resident_id", "institution__code", "responsible_doctor__username",
        "health_manager__username", "diabetes_type", "diagnosis_code", "enrolled_on", "ended_on",
        "end_reason", "baseline_fbg", "baseline_hba1c",
    )  # fmt: skip
    return sorted(rows, key=repr)


@pytest.mark.django_db
def test_full_scale_path_with_the_portable_writer():
    run_seed(scale="tianjin", year=YEAR, write=lambda _: None, residents=800, enrolments=300,
             writer="orm")  # fmt: skip

    assert Institution.objects.count() == 266
    assert Patient.objects.count() == 800
    assert DiabetesEnrollment.objects.count() == 300
    assert overlapping_enrolments() == []
    assert Patient.objects.get(user__isnull=False).home_institution.code == DEMO_INSTITUTION_CODE


def constraint_and_index_definitions() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = ANY(%s::regclass[])
            UNION ALL
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid = ANY(%s::regclass[])
            """,
            [[model._meta.db_table for model in tianjin.REGISTRY_TABLES]] * 2,
        )
        return set(cursor.fetchall())


def claim_constraint_and_index_definitions() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = %s::regclass
            UNION ALL
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid = %s::regclass
            """,
            [ClaimLine._meta.db_table] * 2,
        )
        return set(cursor.fetchall())


def claims_snapshot() -> list[tuple[object, ...]]:
    return sorted(
        ClaimLine.objects.values_list(
            "claim_id", "patient__resident_id", "institution__code", "service_date", "category",
            "diagnosis_code", "total_amount", "fund_paid", "source", "source_ref",
        )
    )  # fmt: skip


@on_postgresql
@pytest.mark.postgres
@pytest.mark.django_db
def test_full_scale_copy_path_writes_what_the_portable_path_writes_and_restores_indexes():
    before = constraint_and_index_definitions()
    claim_definitions_before = claim_constraint_and_index_definitions()
    run_seed(scale="tianjin", year=YEAR, write=lambda _: None, residents=800, enrolments=300,
             writer="copy")  # fmt: skip
    copied = snapshot()
    copied_claims = claims_snapshot()
    assert constraint_and_index_definitions() == before
    assert len(before) > 30
    assert claim_constraint_and_index_definitions() == claim_definitions_before
    assert len(claim_definitions_before) > 8

    SettlementRun.objects.all().delete()
    ClaimLine.objects.all().delete()
    ExamResult.objects.all().delete()  # the care steps' lab results protect their residents
    Patient.objects.all().delete()
    run_seed(scale="tianjin", year=YEAR, write=lambda _: None, residents=800, enrolments=300,
             writer="orm")  # fmt: skip

    assert snapshot() == copied
    assert len(copied) == 800 + FamilyDoctorContract.objects.count() + 300
    assert claims_snapshot() == copied_claims
    assert len(copied_claims) > 800 * 10


@on_postgresql
@pytest.mark.postgres
@pytest.mark.django_db
def test_database_still_refuses_overlapping_enrolments_after_the_copy_path():
    run_seed(scale="tianjin", year=YEAR, write=lambda _: None, residents=200, enrolments=50,
             writer="copy")  # fmt: skip
    enrolment = DiabetesEnrollment.objects.filter(ended_on__isnull=True).first()
    assert enrolment is not None

    with pytest.raises(IntegrityError), transaction.atomic():
        DiabetesEnrollment.objects.create(
            patient=enrolment.patient,
            institution=enrolment.institution,
            diabetes_type="T2",
            diagnosis_code="E11.9",
            enrolled_on=enrolment.enrolled_on + dt.timedelta(days=1),
        )


# --- the small demo's payments ---------------------------------------------------------------

# The demo settles "the last full month": with this date, October of the demo year.
DEMO_TODAY = dt.date(YEAR, 11, 30)


@pytest.fixture
def demo_today(monkeypatch):
    monkeypatch.setattr(demo_payments, "_today", lambda: DEMO_TODAY)
    return DEMO_TODAY


@pytest.mark.django_db
def test_small_demo_seeds_the_family_doctor_and_diabetes_schemes_with_default_tiers():
    seed()

    schemes = {scheme.kind: scheme for scheme in Scheme.objects.filter(year=YEAR)}
    capita, disease = schemes["per_capita"], schemes["per_disease"]
    assert (capita.code, capita.annual_rate, capita.diagnosis_prefixes, capita.categories) == (
        f"FD-CAPITA-{YEAR}",
        D("480.00"),
        "",
        "outpatient;exam;home_service",
    )
    assert (disease.code, disease.annual_rate, disease.diagnosis_prefixes, disease.categories) == (
        f"MTS-DM-{YEAR}",
        D("1800.00"),
        "E10;E11;E13;E14",
        "outpatient;pharmacy;exam",
    )
    for scheme in (capita, disease):
        assert scheme.retention_tiers() == DEFAULT_RETENTION_TIERS
        assert scheme.name.endswith(f"（{YEAR}）")


@pytest.mark.django_db
def test_small_demo_bills_a_year_of_claims_split_by_the_reimbursement_ratios():
    seed()

    # The insurance system's lines (the clouds' demo steps post their own charges as well).
    lines = list(
        ClaimLine.objects.filter(source="insurance").select_related("patient", "institution")
    )
    assert 3_000 <= len(lines) <= 10_000
    assert {line.service_date.year for line in lines} == {YEAR}
    assert {line.service_date.month for line in lines} == set(range(1, 13))
    assert {line.category for line in lines} == set(ClaimLine.Category.values)
    assert all(line.source_ref == line.claim_id for line in lines)
    # Spread over the demo's institutions, for the demo's residents only.
    assert len({line.institution.code for line in lines}) >= 30
    plan = small.plan_for(SeedContext(scale="small", year=YEAR, write=lambda _: None))
    demo_ids = {row.resident_id for row in generate_residents(plan)}
    assert {line.patient.resident_id for line in lines} <= demo_ids
    assert len({line.patient_id for line in lines}) > 1_500
    # The fund's share is the ratio in force for the resident's insurance and the category.
    for line in lines:
        split = split_charge(
            insurance_type=line.patient.insurance_type,
            category=line.category,
            service_date=line.service_date,
            total_amount=line.total_amount,
        )
        assert (line.fund_paid, line.self_paid) == (split.fund_paid, split.self_paid), line
    # People with diabetes have 门特 lines with their enrolment's diagnosis.
    enrolled = dict(DiabetesEnrollment.objects.values_list("patient_id", "diagnosis_code"))
    diabetes_codes = {"E10", "E11", "E13", "E14"}
    diabetes_lines = [line for line in lines if line.diagnosis_code[:3] in diabetes_codes]
    assert len(diabetes_lines) > 1_000
    assert {line.patient_id for line in diabetes_lines} <= set(enrolled)


@pytest.mark.django_db
def test_small_demo_settles_the_last_full_month_and_the_year(demo_today):
    output = seed()

    runs = SettlementRun.objects.filter(status="finished").select_related("scheme")
    assert sorted((run.scheme.code, run.period) for run in runs) == [
        (f"FD-CAPITA-{YEAR}", str(YEAR)),
        (f"FD-CAPITA-{YEAR}", f"{YEAR}-10"),
        (f"MTS-DM-{YEAR}", str(YEAR)),
        (f"MTS-DM-{YEAR}", f"{YEAR}-10"),
    ]
    assert f"Settlement MTS-DM-{YEAR} {YEAR}-10:" in output
    for run in runs:
        lines = list(SettlementLine.objects.filter(run=run))
        assert len(lines) >= 20
        assert run.institutions_total == len(lines)
        # Believable: some institutions keep a surplus, others overspend.
        assert any(line.balance > 0 for line in lines), run
        assert any(line.overspend > 0 for line in lines), run
        assert sum(line.spending for line in lines) > 0
        if run.period == str(YEAR):
            assert QualityAssessment.objects.filter(run=run).count() == len(lines)
        else:
            assert all(line.quality_score is None for line in lines)
    # A line's spending is the claim lines behind it.
    line = SettlementLine.objects.filter(
        run__scheme__code=f"MTS-DM-{YEAR}", run__period=f"{YEAR}-10",
        institution__code=DEMO_INSTITUTION_CODE,
    ).get()  # fmt: skip
    behind = claim_lines_behind_line(line=line)
    assert behind.count() == line.claim_lines > 0
    assert sum(claim.fund_paid for claim in behind) == line.spending


@pytest.mark.django_db
def test_running_the_small_demo_again_adds_no_claim_lines_or_runs(demo_today):
    seed()
    claims = sorted(ClaimLine.objects.values_list("claim_id", "fund_paid", "service_date"))
    runs = list(SettlementRun.objects.values_list("pk", "status"))

    output = seed()

    assert sorted(ClaimLine.objects.values_list("claim_id", "fund_paid", "service_date")) == claims
    assert list(SettlementRun.objects.values_list("pk", "status")) == runs
    assert "Claims: 0 new lines" in output
    assert "already settled" in output


def test_last_full_month_is_the_month_before_today_or_december_of_a_past_year():
    assert demo_payments.last_full_month(2026, dt.date(2026, 11, 30)) == "2026-10"
    assert demo_payments.last_full_month(2026, dt.date(2026, 1, 31)) is None
    assert demo_payments.last_full_month(2025, dt.date(2026, 1, 1)) == "2025-12"
    assert demo_payments.last_full_month(2027, dt.date(2026, 6, 1)) is None


LONG_PRESCRIPTIONS = demo_payments.LONG_PRESCRIPTIONS


@pytest.mark.django_db
def test_claims_are_the_same_for_a_resident_whoever_else_is_billed():
    seed()
    places = demo_payments.Places.of(Institution.objects.values_list("pk", flat=True))
    ratios = demo_payments._ratios_in_force(YEAR)
    subjects = demo_payments.load_subjects(None)

    def lines_of(chosen):
        return {
            row[0]: row
            for row in demo_payments.generate_claims(
                chosen, year=YEAR, places=places, ratios=ratios, habits=LONG_PRESCRIPTIONS
            )
        }

    every = lines_of(subjects)
    some = lines_of(subjects[::7])
    assert some
    assert all(every[claim_id] == row for claim_id, row in some.items())
    stored = {
        claim_id: (fund * 100)
        for claim_id, fund in ClaimLine.objects.filter(source="insurance").values_list(
            "claim_id", "fund_paid"
        )
    }
    assert {claim_id: row[7] for claim_id, row in every.items()} == stored
