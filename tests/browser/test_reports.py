"""The reports page in real Chromium: charts beside tables, readable on a phone, one-click fixes."""

from datetime import datetime, timedelta

from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.reports.history import random_histories, second_rep


def _book(org):
    owners = [factories.user(org, "rep"), second_rep(org), factories.user(org, "manager")]
    random_histories(org, owners, datetime.utcnow() - timedelta(days=45), 30)


def test_admin_reads_the_report_on_a_phone_and_adopts_a_measured_probability(new_page, org):
    _book(org)
    admin = factories.user(org, "admin")
    page = new_page(admin, viewport=PHONE)
    page.goto("/reports/")
    page.get_by_role("heading", name="Stage conversion").wait_for()
    assert page.locator("svg[role=img]").count() >= 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "reports-phone")
    button = page.locator("form[action*='/probability'] button").first
    label = button.inner_text()  # "Adopt 38 %"
    button.click()
    flash = page.locator(".flash-success")
    flash.wait_for()
    assert "now forecasts at" in flash.inner_text() and label.split()[1] in flash.inner_text()


def test_manager_sees_every_rep_on_the_desktop_report(new_page, org):
    _book(org)
    page = new_page(factories.user(org, "manager"), viewport=DESKTOP)
    page.goto("/reports/?preset=this_quarter")
    page.get_by_role("heading", name="Time in stage by rep").wait_for()
    assert page.get_by_role("link", name="This quarter").get_attribute("aria-current") == "true"
    assert page.locator("form[action*='/probability']").count() == 0  # adopting is an admin's click
    page.goto("/reports/")
    screenshot(page, "reports-desktop")
    page.emulate_media(media="print")
    assert page.locator(".report-controls").is_hidden()
    screenshot(page, "reports-print")
