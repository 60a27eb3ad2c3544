"""The worklist page shows one page of a list at a time, with the full counts on the tabs."""

import datetime as dt

import pytest
from django.test import Client

from chronic_care import views
from cloud_management.models import StaffRole
from tests.factories.cloud_management import (
    DiabetesEnrollmentFactory,
    InstitutionFactory,
    PatientFactory,
    StaffRoleFactory,
    district,
)


@pytest.fixture
def five_without_hba1c(db):
    institution = InstitutionFactory(code="NK001", district=district("120104"))
    for name in ["甲", "乙", "丙", "丁", "戊"]:
        patient = PatientFactory(home_institution=institution, name=name)
        DiabetesEnrollmentFactory(
            patient=patient, institution=institution, enrolled_on=dt.date(2020, 1, 1)
        )
    manager = StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=institution).user
    client = Client()
    client.force_login(manager)
    return client


def test_a_long_list_is_paged_and_the_tabs_count_everyone(five_without_hba1c, monkeypatch):
    monkeypatch.setattr(views, "WORKLIST_PAGE_SIZE", 2)
    url = "/care/NK001/worklists/"

    pages = [five_without_hba1c.get(url, {"list": "no_hba1c", "page": n}) for n in (1, 2, 3)]

    assert [len(page.context["entries"]) for page in pages] == [2, 2, 1]
    seen = [entry.patient.name for page in pages for entry in page.context["entries"]]
    assert sorted(seen) == sorted(["甲", "乙", "丙", "丁", "戊"])
    assert all(page.context["counts"][views.Worklist.NO_HBA1C] == 5 for page in pages)
    first = pages[0].content.decode()
    assert "?list=no_hba1c&amp;page=2" in first
    assert "page=0" not in first
    # A page past the end shows the last one, as Paginator.get_page does.
    last = five_without_hba1c.get(url, {"list": "no_hba1c", "page": 9})
    assert [e.patient.name for e in last.context["entries"]] == seen[-1:]
