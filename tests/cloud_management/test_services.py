"""The registry services: rights through access.py, validation before writing, field-named
errors, nothing written on failure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from cloud_management import services
from cloud_management.identifiers import make_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    FamilyDoctorContract,
    Patient,
    StaffRole,
)
from tests.cloud_management.registry_world import registry_snapshot
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    FamilyDoctorContractFactory,
    InstitutionFactory,
    PatientFactory,
    StaffRoleFactory,
    UserFactory,
    district,
)

pytestmark = pytest.mark.django_db

JAN_1 = dt.date(2025, 1, 1)


def _registration(institution, **overrides):
    data = {
        "resident_id": make_resident_id("120104", dt.date(1960, 5, 17), 3, "M"),
        "name": "王建国",
        "sex": "M",
        "birth_date": dt.date(1960, 5, 17),
        "home_institution": institution,
        "insurance_type": Patient.InsuranceType.RESIDENT,
        "phone": "13612345678",
    }
    data.update(overrides)
    return data


def _error_fields(excinfo):
    return set(excinfo.value.message_dict)


# --- register_patient / update_patient -----------------------------------------------------


def test_doctor_registers_a_resident_at_their_institution(doctor, home_institution):
    patient = services.register_patient(user=doctor, **_registration(home_institution))

    stored = Patient.objects.get(pk=patient.pk)
    assert stored.name == "王建国"
    assert stored.home_institution == home_institution
    # The district defaults to the institution's.
    assert stored.district == home_institution.district


def test_resident_id_is_normalised_to_upper_case(doctor, home_institution):
    resident_id = "11010519491231002x"
    patient = services.register_patient(
        user=doctor,
        **_registration(
            home_institution,
            resident_id=resident_id,
            birth_date=dt.date(1949, 12, 31),
            sex="F",
        ),
    )
    assert patient.resident_id == "11010519491231002X"


@pytest.mark.parametrize("role", ["pharmacist", "lab_technician"])
def test_staff_who_do_not_edit_the_registry_cannot_register(home_institution, role):
    user = StaffRoleFactory(role=role, institution=home_institution).user

    with pytest.raises(PermissionDenied):
        services.register_patient(user=user, **_registration(home_institution))
    assert not Patient.objects.exists()


def test_regulators_cannot_register(district_regulator, city_regulator, home_institution):
    for user in (district_regulator, city_regulator):
        with pytest.raises(PermissionDenied):
            services.register_patient(user=user, **_registration(home_institution))
    assert not Patient.objects.exists()


def test_a_district_out_of_scope_is_refused_like_a_missing_one(doctor, home_institution):
    with pytest.raises(ValidationError) as excinfo:
        services.register_patient(
            user=doctor, **_registration(home_institution, district=district("120101"))
        )

    assert _error_fields(excinfo) == {"district"}
    assert not Patient.objects.exists()


def test_registering_at_another_institution_names_the_field(doctor, other_institution):
    with pytest.raises(ValidationError) as excinfo:
        services.register_patient(user=doctor, **_registration(other_institution))

    assert _error_fields(excinfo) == {"home_institution"}
    assert not Patient.objects.exists()


def test_inactive_institution_is_refused(operator):
    closed = InstitutionFactory(code="CLOSED", is_active=False)

    with pytest.raises(ValidationError) as excinfo:
        services.register_patient(user=operator, **_registration(closed))

    assert _error_fields(excinfo) == {"home_institution"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resident_id": "120104196005170031"}, "resident_id"),
        ({"birth_date": dt.date(1960, 5, 18)}, "birth_date"),
        ({"sex": "F"}, "sex"),
        ({"phone": "call me"}, "phone"),
        ({"insurance_type": "gold"}, "insurance_type"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_registration_names_the_field_and_writes_nothing(
    doctor, home_institution, overrides, field
):
    with pytest.raises(ValidationError) as excinfo:
        services.register_patient(user=doctor, **_registration(home_institution, **overrides))

    assert field in _error_fields(excinfo)
    assert not Patient.objects.exists()


def test_a_resident_id_is_registered_once(doctor, home_institution):
    services.register_patient(user=doctor, **_registration(home_institution))

    with pytest.raises(ValidationError) as excinfo:
        services.register_patient(user=doctor, **_registration(home_institution, name="另一人"))

    assert _error_fields(excinfo) == {"resident_id"}
    assert Patient.objects.count() == 1


def test_update_changes_only_given_fields(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution, name="旧名")

    services.update_patient(user=doctor, patient=patient, name="新名", address="新地址")

    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.name, stored.address, stored.phone) == ("新名", "新地址", patient.phone)


def test_update_of_another_institutions_resident_is_denied(doctor, other_institution):
    patient = PatientFactory(home_institution=other_institution, name="旧名")

    with pytest.raises(PermissionDenied):
        services.update_patient(user=doctor, patient=patient, name="新名")
    assert Patient.objects.get(pk=patient.pk).name == "旧名"


def test_regulator_update_is_denied(district_regulator, home_institution):
    patient = PatientFactory(home_institution=home_institution, name="旧名")

    with pytest.raises(PermissionDenied):
        services.update_patient(user=district_regulator, patient=patient, name="新名")
    assert Patient.objects.get(pk=patient.pk).name == "旧名"


def test_moving_a_resident_needs_rights_at_the_new_institution(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    elsewhere = InstitutionFactory(code="ELSEWHERE")

    with pytest.raises(ValidationError) as excinfo:
        services.update_patient(user=doctor, patient=patient, home_institution=elsewhere)

    assert _error_fields(excinfo) == {"home_institution"}
    assert Patient.objects.get(pk=patient.pk).home_institution == home_institution


def test_staff_of_a_contracted_institution_edit_a_resident_registered_elsewhere(
    doctor, home_institution, other_institution
):
    patient = PatientFactory(home_institution=other_institution, name="旧名")
    FamilyDoctorContractFactory(patient=patient, institution=home_institution)

    services.update_patient(user=doctor, patient=patient, name="新名")

    assert Patient.objects.get(pk=patient.pk).name == "新名"


def test_phone_of_a_resident_with_a_login_cannot_change(doctor, patient_with_login):
    with pytest.raises(ValidationError) as excinfo:
        services.update_patient(user=doctor, patient=patient_with_login, phone="13700000000")

    assert _error_fields(excinfo) == {"phone"}
    assert Patient.objects.get(pk=patient_with_login.pk).phone == "13900000001"


def test_update_validates_the_resident_id_against_the_birth_date(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    other_id = make_resident_id("120104", dt.date(1990, 1, 1), 7, patient.sex)

    with pytest.raises(ValidationError) as excinfo:
        services.update_patient(user=doctor, patient=patient, resident_id=other_id)

    assert _error_fields(excinfo) == {"birth_date"}
    assert Patient.objects.get(pk=patient.pk).resident_id == patient.resident_id


# --- contracts -------------------------------------------------------------------------------


def test_sign_and_end_a_contract(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)

    contract = services.sign_contract(
        user=doctor, patient=patient, institution=home_institution, signed_on=JAN_1
    )
    services.end_contract(user=doctor, contract=contract, ended_on=dt.date(2025, 12, 31))

    stored = FamilyDoctorContract.objects.get(pk=contract.pk)
    assert (stored.signed_on, stored.ended_on) == (JAN_1, dt.date(2025, 12, 31))


def test_a_resident_holds_one_contract_at_a_time(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    FamilyDoctorContractFactory(patient=patient, institution=home_institution, signed_on=JAN_1)

    with pytest.raises(ValidationError) as excinfo:
        services.sign_contract(
            user=doctor,
            patient=patient,
            institution=home_institution,
            signed_on=dt.date(2025, 6, 1),
        )

    assert _error_fields(excinfo) == {"signed_on"}
    assert FamilyDoctorContract.objects.count() == 1


def test_a_new_contract_may_follow_an_ended_one(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    FamilyDoctorContractFactory(
        patient=patient,
        institution=home_institution,
        signed_on=JAN_1,
        ended_on=dt.date(2025, 5, 31),
    )

    services.sign_contract(
        user=doctor, patient=patient, institution=home_institution, signed_on=dt.date(2025, 6, 1)
    )

    assert FamilyDoctorContract.objects.filter(patient=patient).count() == 2


def test_contract_for_a_resident_out_of_scope_is_refused_like_a_missing_one(
    doctor, home_institution, other_institution
):
    stranger = PatientFactory(home_institution=other_institution)

    with pytest.raises(ValidationError) as excinfo:
        services.sign_contract(
            user=doctor, patient=stranger, institution=home_institution, signed_on=JAN_1
        )

    assert _error_fields(excinfo) == {"patient"}
    assert not FamilyDoctorContract.objects.exists()


def test_contract_ending_before_it_starts_is_refused(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)

    with pytest.raises(ValidationError):
        services.sign_contract(
            user=doctor,
            patient=patient,
            institution=home_institution,
            signed_on=JAN_1,
            ended_on=dt.date(2024, 12, 31),
        )
    assert not FamilyDoctorContract.objects.exists()


def test_ending_an_ended_contract_names_the_field(doctor, home_institution):
    contract = FamilyDoctorContractFactory(
        patient=PatientFactory(home_institution=home_institution), ended_on=dt.date(2025, 3, 1)
    )

    with pytest.raises(ValidationError) as excinfo:
        services.end_contract(user=doctor, contract=contract, ended_on=dt.date(2025, 4, 1))

    assert _error_fields(excinfo) == {"ended_on"}
    assert FamilyDoctorContract.objects.get(pk=contract.pk).ended_on == dt.date(2025, 3, 1)


def test_regulator_cannot_end_a_contract(district_regulator, home_institution):
    contract = FamilyDoctorContractFactory(
        patient=PatientFactory(home_institution=home_institution)
    )

    with pytest.raises(PermissionDenied):
        services.end_contract(user=district_regulator, contract=contract, ended_on=JAN_1)
    assert FamilyDoctorContract.objects.get(pk=contract.pk).ended_on is None


# --- enrolments ------------------------------------------------------------------------------


def test_enrol_with_a_responsible_doctor_and_health_manager(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    manager = StaffRoleFactory(
        role=StaffRole.Role.HEALTH_MANAGER, institution=home_institution
    ).user

    enrolment = services.enrol_patient(
        user=doctor,
        patient=patient,
        institution=home_institution,
        diabetes_type="T2",
        diagnosis_code=" e11.9 ",
        enrolled_on=JAN_1,
        responsible_doctor=doctor,
        health_manager=manager,
        baseline_fbg=Decimal("8.4"),
        baseline_hba1c=Decimal("7.9"),
    )

    stored = DiabetesEnrollment.objects.get(pk=enrolment.pk)
    assert stored.diagnosis_code == "E11.9"
    assert (stored.responsible_doctor, stored.health_manager) == (doctor, manager)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"diagnosis_code": "I10"}, "diagnosis_code"),
        ({"diagnosis_code": "E10.9"}, "diagnosis_code"),
        ({"diagnosis_code": "diabetes"}, "diagnosis_code"),
        ({"baseline_fbg": Decimal("80.0")}, "baseline_fbg"),
        ({"baseline_hba1c": Decimal("1.0")}, "baseline_hba1c"),
        ({"diabetes_type": "T9"}, "diabetes_type"),
    ],
)
def test_bad_enrolment_names_the_field_and_writes_nothing(
    doctor, home_institution, overrides, field
):
    data = {
        "patient": PatientFactory(home_institution=home_institution),
        "institution": home_institution,
        "diabetes_type": "T2",
        "diagnosis_code": "E11.9",
        "enrolled_on": JAN_1,
    }
    data.update(overrides)

    with pytest.raises(ValidationError) as excinfo:
        services.enrol_patient(user=doctor, **data)

    assert field in _error_fields(excinfo)
    assert not DiabetesEnrollment.objects.exists()


def test_responsible_doctor_must_be_a_doctor_of_the_institution(
    doctor, home_institution, other_institution
):
    outsider = StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=other_institution).user

    with pytest.raises(ValidationError) as excinfo:
        services.enrol_patient(
            user=doctor,
            patient=PatientFactory(home_institution=home_institution),
            institution=home_institution,
            diabetes_type="T2",
            diagnosis_code="E11.9",
            enrolled_on=JAN_1,
            responsible_doctor=outsider,
        )

    assert _error_fields(excinfo) == {"responsible_doctor"}


def test_one_enrolment_per_resident_per_day(doctor, home_institution):
    patient = PatientFactory(home_institution=home_institution)
    DiabetesEnrollmentFactory(patient=patient, enrolled_on=JAN_1, ended_on=dt.date(2025, 6, 30))

    with pytest.raises(ValidationError) as excinfo:
        services.enrol_patient(
            user=doctor,
            patient=patient,
            institution=home_institution,
            diabetes_type="T2",
            diagnosis_code="E11.9",
            enrolled_on=dt.date(2025, 6, 30),
        )

    assert _error_fields(excinfo) == {"enrolled_on"}
    assert DiabetesEnrollment.objects.count() == 1


def test_end_an_enrolment_with_a_reason(doctor, home_institution):
    enrolment = DiabetesEnrollmentFactory(patient=PatientFactory(home_institution=home_institution))

    services.end_enrolment(
        user=doctor, enrolment=enrolment, ended_on=dt.date(2025, 9, 30), reason="迁出本市"
    )

    stored = DiabetesEnrollment.objects.get(pk=enrolment.pk)
    assert (stored.ended_on, stored.end_reason) == (dt.date(2025, 9, 30), "迁出本市")


def test_ending_before_the_start_names_the_field(doctor, home_institution):
    enrolment = DiabetesEnrollmentFactory(patient=PatientFactory(home_institution=home_institution))

    with pytest.raises(ValidationError) as excinfo:
        services.end_enrolment(user=doctor, enrolment=enrolment, ended_on=dt.date(2024, 12, 1))

    assert _error_fields(excinfo) == {"ended_on"}
    assert DiabetesEnrollment.objects.get(pk=enrolment.pk).ended_on is None


@pytest.fixture
def two_site_doctor(home_institution, other_institution):
    """A doctor at both institutions (乡村一体化: one doctor serving two sites)."""
    user = StaffRoleFactory(role=StaffRole.Role.DOCTOR, institution=home_institution).user
    StaffRoleFactory(user=user, role=StaffRole.Role.DOCTOR, institution=other_institution)
    return user


def _active_enrolments_on(patient, day):
    return [e for e in DiabetesEnrollment.objects.filter(patient=patient) if e.is_active_on(day)]


def test_transfer_ends_the_day_before_and_keeps_one_enrolment_per_day(
    two_site_doctor, home_institution, other_institution
):
    patient = PatientFactory(home_institution=home_institution)
    old = DiabetesEnrollmentFactory(
        patient=patient, institution=home_institution, enrolled_on=JAN_1
    )

    new = services.transfer_enrolment(
        user=two_site_doctor,
        enrolment=old,
        to_institution=other_institution,
        transfer_on=dt.date(2025, 4, 1),
        responsible_doctor=two_site_doctor,
    )

    old.refresh_from_db()
    assert old.ended_on == dt.date(2025, 3, 31)
    assert other_institution.name in old.end_reason
    assert (new.institution, new.enrolled_on, new.ended_on) == (
        other_institution,
        dt.date(2025, 4, 1),
        None,
    )
    assert (new.diabetes_type, new.diagnosis_code) == (old.diabetes_type, old.diagnosis_code)
    day = dt.date(2025, 1, 1)
    while day <= dt.date(2025, 12, 31):
        assert len(_active_enrolments_on(patient, day)) == 1, day
        day += dt.timedelta(days=1)


def test_transfer_to_an_institution_without_rights_changes_nothing(
    doctor, home_institution, other_institution
):
    old = DiabetesEnrollmentFactory(patient=PatientFactory(home_institution=home_institution))
    before = registry_snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.transfer_enrolment(
            user=doctor,
            enrolment=old,
            to_institution=other_institution,
            transfer_on=dt.date(2025, 4, 1),
        )

    assert _error_fields(excinfo) == {"to_institution"}
    assert registry_snapshot() == before


@pytest.mark.parametrize("transfer_on", [JAN_1, dt.date(2024, 6, 1), dt.date(2025, 8, 1)])
def test_transfer_date_must_fall_inside_the_running_enrolment(
    two_site_doctor, home_institution, other_institution, transfer_on
):
    old = DiabetesEnrollmentFactory(
        patient=PatientFactory(home_institution=home_institution),
        institution=home_institution,
        enrolled_on=JAN_1,
        ended_on=dt.date(2025, 6, 30),
    )
    before = registry_snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.transfer_enrolment(
            user=two_site_doctor,
            enrolment=old,
            to_institution=other_institution,
            transfer_on=transfer_on,
        )

    assert _error_fields(excinfo) == {"transfer_on"}
    assert registry_snapshot() == before


def test_transfer_keeps_a_planned_end(two_site_doctor, home_institution, other_institution):
    old = DiabetesEnrollmentFactory(
        patient=PatientFactory(home_institution=home_institution),
        institution=home_institution,
        enrolled_on=JAN_1,
        ended_on=dt.date(2025, 12, 31),
    )

    new = services.transfer_enrolment(
        user=two_site_doctor,
        enrolment=old,
        to_institution=other_institution,
        transfer_on=dt.date(2025, 7, 1),
    )

    assert new.ended_on == dt.date(2025, 12, 31)


def test_transfer_with_a_bad_health_manager_rolls_back(
    two_site_doctor, home_institution, other_institution
):
    old = DiabetesEnrollmentFactory(
        patient=PatientFactory(home_institution=home_institution), institution=home_institution
    )
    before = registry_snapshot()

    with pytest.raises(ValidationError) as excinfo:
        services.transfer_enrolment(
            user=two_site_doctor,
            enrolment=old,
            to_institution=other_institution,
            transfer_on=dt.date(2025, 4, 1),
            health_manager=two_site_doctor,
        )

    assert _error_fields(excinfo) == {"health_manager"}
    assert registry_snapshot() == before


def test_regulator_cannot_transfer(district_regulator, home_institution, other_institution):
    old = DiabetesEnrollmentFactory(patient=PatientFactory(home_institution=home_institution))

    with pytest.raises(PermissionDenied):
        services.transfer_enrolment(
            user=district_regulator,
            enrolment=old,
            to_institution=other_institution,
            transfer_on=dt.date(2025, 4, 1),
        )
    assert DiabetesEnrollment.objects.get(pk=old.pk).ended_on is None


# --- patient logins --------------------------------------------------------------------------


def test_create_patient_account_names_the_login_after_the_phone(home_institution):
    patient = PatientFactory(home_institution=home_institution, phone="13512345678")

    account = services.create_patient_account(patient=patient, password="Tianjin-2025!")

    stored = Patient.objects.get(pk=patient.pk)
    assert stored.user == account
    assert account.get_username() == "13512345678"
    assert account.check_password("Tianjin-2025!")
    assert not account.is_staff


@pytest.mark.parametrize(
    ("setup", "field"),
    [
        ("no_phone", "phone"),
        ("phone_taken", "phone"),
        ("has_login", "user"),
        ("weak_password", "password"),
    ],
)
def test_create_patient_account_refusals_name_the_field(home_institution, setup, field):
    patient = PatientFactory(home_institution=home_institution, phone="13512345678")
    password = "Tianjin-2025!"
    if setup == "no_phone":
        Patient.objects.filter(pk=patient.pk).update(phone="")
        patient.refresh_from_db()
    elif setup == "phone_taken":
        UserFactory(username="13512345678")
    elif setup == "has_login":
        patient.user = UserFactory(username="someone")
        patient.save()
    else:
        password = "123"
    users_before = get_user_model().objects.count()

    with pytest.raises(ValidationError) as excinfo:
        services.create_patient_account(patient=patient, password=password)

    assert _error_fields(excinfo) == {field}
    assert get_user_model().objects.count() == users_before


def test_staff_creating_a_login_needs_rights_over_the_resident(doctor, other_institution):
    patient = PatientFactory(home_institution=other_institution)

    with pytest.raises(PermissionDenied):
        services.create_patient_account(patient=patient, password="Tianjin-2025!", user=doctor)
    assert Patient.objects.get(pk=patient.pk).user is None


def test_operator_may_do_everything(operator, home_institution, other_institution):
    patient = services.register_patient(user=operator, **_registration(other_institution))
    contract = services.sign_contract(
        user=operator, patient=patient, institution=home_institution, signed_on=JAN_1
    )
    enrolment = services.enrol_patient(
        user=operator,
        patient=patient,
        institution=home_institution,
        diabetes_type="T2",
        diagnosis_code="E11.9",
        enrolled_on=JAN_1,
    )
    moved = services.transfer_enrolment(
        user=operator,
        enrolment=enrolment,
        to_institution=other_institution,
        transfer_on=dt.date(2025, 2, 1),
    )
    services.end_contract(user=operator, contract=contract, ended_on=dt.date(2025, 2, 28))

    assert DiabetesEnrollment.objects.filter(patient=patient).count() == 2
    assert moved.institution == other_institution
