"""Settings → Email sending in real Chromium: an admin sets up the relay and sends a test message, desktop and phone."""

import pytest

from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_sequences import assert_fits_phone
from tests.sequences import relay as relay_server
from tests.sequences.conftest import make_sequence
from tests.sequences.test_mail_settings import make_sends

relays = relay_server.relays


@pytest.fixture
def no_defaults(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    monkeypatch.setitem(app.config, "BASE_URL", "http://localhost:5000")


def test_admin_sets_up_the_relay_and_sees_the_relays_answer_to_a_test_message(new_page, org, relays, no_defaults):
    relay, port = relays()
    admin = factories.user(org, "admin")
    page = new_page(admin, viewport=DESKTOP)
    page.goto("/sequences/settings")
    status = page.locator(".sending-status")
    status.get_by_text("No relay is set up: messages are kept in the outbox file store").wait_for()
    status.get_by_text("Add the postal address for the footer").wait_for()
    page.get_by_label("Relay host").fill("127.0.0.1")
    page.get_by_label("Relay security").select_option("none")
    page.get_by_label("Relay port").fill(str(port))
    page.get_by_label("Public address").fill("http://crm.example.com")
    page.get_by_label("Postal address").fill("9 Harbour Rd, Leith EH6 6LX")
    page.get_by_role("button", name="Save email sending").click()
    page.get_by_text("The public address must start with https://").wait_for()
    assert page.get_by_label("Relay host").input_value() == "127.0.0.1"  # what was typed stays
    assert page.get_by_label("Postal address").input_value() == "9 Harbour Rd, Leith EH6 6LX"
    screenshot(page, "email-sending-error-desktop")
    page.get_by_label("Public address").fill("https://crm.example.com")
    page.get_by_role("button", name="Save email sending").click()
    page.locator("#flashes").get_by_text(f"Saved. Messages are delivered through 127.0.0.1:{port} (no encryption)").wait_for()
    assert page.locator(".sending-status.is-ready").is_visible()
    page.get_by_label("Send it to").fill("ops@example.com")
    page.get_by_role("button", name="Send a test message").click()
    page.locator("#test-result").get_by_text(
        "The relay accepted the test message for ops@example.com: 250 2.0.0 Ok: queued as 4BQ7X1").wait_for()
    assert page.url.endswith("/sequences/settings")  # answered in place, no reload
    screenshot(page, "email-sending-desktop")
    assert blocking_violations(page) == []
    assert [to for _, (to,), _ in relay.messages] == ["ops@example.com"]

    phone = new_page(admin, viewport=PHONE)
    phone.goto("/sequences/settings")
    assert phone.get_by_label("Send it to").input_value() == admin.email
    phone.get_by_role("button", name="Send a test message").click()
    phone.locator("#test-result").get_by_text(f"accepted the test message for {admin.email}: 250").wait_for()
    assert_fits_phone(phone)
    screenshot(phone, "email-sending-phone")
    assert blocking_violations(phone) == []
    make_sends(org, make_sequence(org), factories.user(org, "rep"), ["sent", "skipped", "sending", "unknown"])
    phone.goto("/sequences/outbox")
    phone.get_by_text("Relay: Refused: RCPT TO x: 550 5.1.1 No such user").wait_for()
    phone.get_by_role("heading", name="Outbox").wait_for()
    assert_fits_phone(phone)
    screenshot(phone, "outbox-phone")
    assert blocking_violations(phone) == []
