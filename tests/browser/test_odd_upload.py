"""A damaged UTF-16 CSV, uploaded from a phone with CSRF on, gets a clear message beside the
file input (not a 500), and the page stays within the screen."""

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, no_sideways_scroll, screenshot


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_damaged_utf16_upload_says_what_is_wrong(new_page, org, csrf_on, tmp_path, viewport):
    damaged = tmp_path / "hubspot-export.csv"
    damaged.write_bytes("Name,Email\nRenée,renee@x.example\n".encode("utf-16") + b"\x00")
    page = new_page(factories.user(org, "manager"), viewport=viewport)
    page.goto("/imports/")
    page.locator("input#file").set_input_files(str(damaged))
    page.get_by_role("button", name="Upload and map columns").click()
    error = page.locator("#upload-error")
    expect(error).to_contain_text("“hubspot-export.csv” starts like UTF-16 text but is damaged")
    expect(error).to_contain_text("Save it again as “CSV UTF-8”")
    expect(page.locator("input#file")).to_have_attribute("aria-invalid", "true")
    no_sideways_scroll(page)  # measured once its stylesheets have loaded (a loaded machine is slow)
    screenshot(page, f"import-damaged-utf16-{'phone' if viewport is PHONE else 'desktop'}")
