"""The start page and operations monitoring lead to every dashboard and work page a user may
open (cloud_management.work_pages), and to none they may not."""

import pytest
from django.urls import reverse

SETTLEMENTS = reverse("settlements:index")
QUALITY = reverse("chronic_care_quality:index")
WORKLISTS = reverse("chronic_care:index")


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["city_regulator", "district_regulator"])
def test_regulators_find_the_settlement_and_quality_dashboards_but_no_worklists(
    client, request, who
):
    user = request.getfixturevalue(who)

    for url in ("/", reverse("dashboards:index")):
        content = _page(client, user, url)
        assert f'href="{SETTLEMENTS}"' in content
        assert f'href="{QUALITY}"' in content
        assert f'href="{WORKLISTS}"' not in content


@pytest.mark.django_db
def test_staff_find_their_worklists_and_dashboards_and_every_link_opens(client, health_manager):
    content = _page(client, health_manager, "/")

    for url in (SETTLEMENTS, QUALITY, WORKLISTS):
        assert f'href="{url}"' in content
        # The worklists index sends a one-institution user straight to their lists.
        assert client.get(url, follow=True).status_code == 200


@pytest.fixture
def health_manager(home_institution):
    from cloud_management.models import StaffRole
    from tests.factories.cloud_management import StaffRoleFactory

    return StaffRoleFactory(role=StaffRole.Role.HEALTH_MANAGER, institution=home_institution).user


@pytest.mark.django_db
def test_visitors_find_the_sign_up_page_from_the_welcome_and_login_pages(client):
    signup = reverse("cloud_services:register")

    for url in ("/", reverse("cloud_management:login")):
        assert f'href="{signup}"' in client.get(url).content.decode()
    assert client.get(signup).status_code == 200


@pytest.mark.django_db
def test_without_self_registration_there_is_no_sign_up_page_nor_link(client, settings):
    settings.PATIENT_SELF_REGISTRATION = False
    signup = reverse("cloud_services:register")

    for url in ("/", reverse("cloud_management:login")):
        assert signup not in client.get(url).content.decode()
    assert client.get(signup).status_code == 404
    assert client.post(signup, {"resident_id": "x"}).status_code == 404
