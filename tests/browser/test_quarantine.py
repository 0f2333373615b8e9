"""Quarantined mail in real Chromium: an admin finds it from Sending settings, drops one after confirming."""

import pytest

from app.extensions import db
from app.models import QuarantinedEmail, utcnow
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_sequences import assert_fits_phone


def _held(org, n: int) -> None:
    for i in range(n):
        db.session.add(QuarantinedEmail(
            org_id=org.id, source="webhook" if i else "imap", message_key=f"k{i}", raw=b"Subject: x\r\n\r\n",
            reason=f"The delivery report's failed recipient is {300 + i} characters long (at most 254).",
            sender="MAILER-DAEMON@mx.example", subject=f"Undelivered Mail Returned to Sender #{i}",
            received_at=utcnow()))
    db.session.commit()


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_admin_reviews_quarantined_mail_and_drops_one(new_page, org, viewport, name):
    _held(org, 2)
    page = new_page(factories.user(org, "admin"), viewport=viewport)
    page.goto("/sequences/settings")
    screenshot(page, f"sending-settings-quarantine-{name}")
    page.get_by_role("link", name="2 quarantined messages").click()
    page.get_by_role("heading", name="Quarantined mail").wait_for()
    page.get_by_text("failed recipient is 301 characters long").wait_for()
    screenshot(page, f"quarantine-{name}")
    assert blocking_violations(page) == []
    if viewport == PHONE:
        assert_fits_phone(page)
        assert page.get_by_role("button", name="Retry").first.bounding_box()["height"] >= 44
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Drop").first.click()
    page.get_by_text("Dropped the message from MAILER-DAEMON@mx.example; it was not handled.").wait_for()
    assert page.locator(".quarantine-list .record").count() == 1
