import re

from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, screenshot

NEW_PASSWORD = "a-brand-new-password"
NEW_LABEL = re.compile(r"^New password\W*$")  # not "New password again"


def test_change_password_from_the_account_menu_on_a_phone_says_other_devices_are_signed_out(new_page, org):
    rep = factories.user(org, "rep")
    laptop = new_page(rep, viewport=DESKTOP)
    laptop.goto("/auth/password")
    screenshot(laptop, "change-password-desktop")
    page = new_page(rep, viewport=PHONE)
    page.locator("details.usermenu > summary", has_text=f"account menu for {rep.name}").click()
    screenshot(page, "account-menu-phone")
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill(factories.PASSWORD)
    page.get_by_label(NEW_LABEL).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill("a-typo-password")
    page.get_by_role("button", name="Change password").click()
    assert page.get_by_text("Type the same new password twice.").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "change-password-error-phone")
    page.get_by_label("Current password").fill(factories.PASSWORD)
    page.get_by_label(NEW_LABEL).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    status = page.get_by_role("status")
    assert status.filter(has_text="Password changed. You were signed out on your other devices.").is_visible()
    screenshot(page, "change-password-done-phone")

    laptop.reload()  # the other device is signed out
    assert "/auth/login" in laptop.url
    assert laptop.get_by_text("Please sign in to continue.").is_visible()
