"""Factories for the registry. Resident IDs are valid GB 11643 numbers that agree with the
patient's birth date and sex."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from cloud_management.identifiers import make_resident_id
from cloud_management.models import (
    DiabetesEnrollment,
    District,
    FamilyDoctorContract,
    Institution,
    Patient,
    StaffRole,
)


def district(code: str = "120104") -> District:
    """The migrated district with this code (the 16 Tianjin districts are data)."""
    return District.objects.get(code=code)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("demo-pass-123")
    is_staff = False


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"INST{n:04d}")
    name = factory.Sequence(lambda n: f"第{n}社区卫生服务中心")
    district = factory.LazyFunction(lambda: district("120104"))
    kind = Institution.Kind.COMMUNITY_CENTRE
    is_chronic_care_centre = True


class StaffRoleFactory(factory.django.DjangoModelFactory):
    """A staff member (doctor by default) at an institution; the user is admin-enabled."""

    class Meta:
        model = StaffRole

    user = factory.SubFactory(UserFactory, is_staff=True)
    role = StaffRole.Role.DOCTOR
    institution = factory.SubFactory(InstitutionFactory)


class RegulatorRoleFactory(factory.django.DjangoModelFactory):
    """A regulator for one district (``district=None`` for the whole city)."""

    class Meta:
        model = StaffRole

    user = factory.SubFactory(UserFactory, is_staff=True)
    role = StaffRole.Role.REGULATOR
    institution = None
    district = factory.LazyFunction(lambda: district("120104"))
    agency = StaffRole.Agency.INSURANCE_BUREAU


# 37 and this span share no factor, so (37 n) mod span visits every day of it once.
_BIRTH_DATE_DAYS = 23_741


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    name = factory.Sequence(lambda n: f"患者{n}")
    sex = factory.Iterator([Patient.Sex.MALE, Patient.Sex.FEMALE])
    # Adults born 1940-2004, all distinct for the first 23,741: the sequence runs on for the
    # whole test process, and an ever-later birth date made residents children (or unborn)
    # after enough tests, which some rules (minimum ages for drugs) rightly refuse.
    birth_date = factory.Sequence(
        lambda n: dt.date(1940, 1, 1) + dt.timedelta(days=(37 * n) % _BIRTH_DATE_DAYS)
    )
    home_institution = factory.SubFactory(InstitutionFactory)
    district = factory.LazyAttribute(lambda o: o.home_institution.district)
    resident_id = factory.LazyAttributeSequence(
        lambda o, n: make_resident_id(o.district.code, o.birth_date, n % 100, o.sex)
    )
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    address = "天津市南开区长江道1号"
    insurance_type = Patient.InsuranceType.EMPLOYEE
    insurance_number = factory.Sequence(lambda n: f"TJ{n:010d}")


class FamilyDoctorContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FamilyDoctorContract

    patient = factory.SubFactory(PatientFactory)
    institution = factory.LazyAttribute(lambda o: o.patient.home_institution)
    signed_on = dt.date(2025, 1, 1)
    ended_on = None


class DiabetesEnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DiabetesEnrollment

    patient = factory.SubFactory(PatientFactory)
    institution = factory.LazyAttribute(lambda o: o.patient.home_institution)
    diabetes_type = DiabetesEnrollment.DiabetesType.TYPE_2
    diagnosis_code = "E11.9"
    enrolled_on = dt.date(2025, 1, 1)
    ended_on = None
