"""A patient books a home blood draw on a phone (390×844) through the real pages, in headless
Chromium driven by Playwright against the live server; the screenshot of the booking's status
page is kept under tests/artifacts/ (git-ignored) for CI to publish."""

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from cloud_management.models import District
from cloud_services.models import Booking, ServiceItem
from tests.factories.cloud_management import InstitutionFactory, PatientFactory, UserFactory
from tests.factories.cloud_services import BLOOD_DRAW, ServiceSlotFactory

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "Lung-transplant-2019"


def _missing(reason: str) -> None:
    # CI installs Chromium and sets BROWSER_TESTS_REQUIRED=1: there a missing browser fails.
    if os.environ.get("BROWSER_TESTS_REQUIRED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def sync_playwright_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install playwright).")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _missing(f"No system Chromium at {CHROMIUM} (apt-get install -y chromium).")
    return sync_playwright


@pytest.fixture
def booking_world(transactional_db):
    """The rows the pages need. A transactional test's flush may have emptied the migrated
    tables before this test, so they are made sure of here."""
    nankai, _created = District.objects.get_or_create(code="120104", defaults={"name": "南开区"})
    ServiceItem.objects.get_or_create(
        code=BLOOD_DRAW,
        defaults={
            "name": "上门静脉采血（他克莫司血药浓度）",
            "category": ServiceItem.Category.SPECIMEN_COLLECTION,
            "fee": "60.00",
            "insurance_category": ServiceItem.InsuranceCategory.CLASS_B,
            "duration_minutes": 30,
            "eligibility": "病情稳定、需定期复查的居家患者。",
        },
    )
    institution = InstitutionFactory(
        code="NK-LIVE", name="南开区长江道社区卫生服务中心", district=nankai
    )
    user = UserFactory(username="13911112222", password=PASSWORD)
    patient = PatientFactory(
        home_institution=institution,
        district=nankai,
        user=user,
        name="刘建华",
        phone="13911112222",
        address="天津市南开区长江道88号2-301",
    )
    slot = ServiceSlotFactory(
        institution=institution,
        date=timezone.localdate() + dt.timedelta(days=1),
        start=dt.time(8, 0),
        end=dt.time(10, 0),
        items=[BLOOD_DRAW],
    )
    return patient, slot


def test_a_patient_books_a_home_blood_draw_on_a_phone(live_server, booking_world, monkeypatch):
    sync_playwright = sync_playwright_or_skip()
    patient, slot = booking_world
    # Playwright's sync API runs an event loop in this thread; the ORM is used only before
    # and after it, the live server answers from its own thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "home-blood-draw-booked.png"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page.goto(f"{live_server.url}/login/?next=/services/book/")
        page.fill("#id_username", patient.phone)
        page.fill("#id_password", PASSWORD)
        page.click("main form button[type=submit]")

        # Screen 1: the service; 2: the institution; 3: the time.
        page.click(f"a[href='/services/book/{BLOOD_DRAW}/']")
        page.click(f"a[href='/services/book/{BLOOD_DRAW}/at/NK-LIVE/']")
        page.click(f"a[href='/services/book/{BLOOD_DRAW}/slot/{slot.pk}/']")
        # Screen 4: address and phone are filled from the record; the first-visit rule is shown.
        assert page.input_value("#id_address") == "天津市南开区长江道88号2-301"
        assert page.locator("#assessment-heading").is_visible()
        page.fill("#id_notes", "肺移植术后，查他克莫司谷浓度，早上未服药。")
        page.click("main form button[type=submit]")

        page.wait_for_url("**/services/bookings/*/")
        status = page.locator("[data-status]").get_attribute("data-status")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()

    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE")
    booking = Booking.objects.get(patient=patient)
    assert status == "requested"
    assert booking.slot == slot
    assert booking.notes == "肺移植术后，查他克莫司谷浓度，早上未服药。"
    slot.refresh_from_db()
    assert slot.booked == 1
    assert screenshot.stat().st_size > 0
