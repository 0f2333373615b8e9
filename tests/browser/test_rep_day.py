"""A rep's morning in Chromium, phone and desktop: the hot lead is on top of Today and counted in the
top bar; logging the call on the lead closes its task and the page says so without a reload."""

import pytest

from app.extensions import db
from app.models import Task
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, no_sideways_scroll, screenshot
from tests.leads.test_rep_day import hot_lead


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_hot_lead_comes_first_and_logging_the_call_answers_it(new_page, org, viewport):
    rep = factories.user(org, "rep")
    lead = hot_lead(org)
    page = new_page(rep, viewport=viewport)
    page.goto("/tasks/")
    hot = page.locator("#hot-waiting a")
    assert hot.is_visible() and hot.get_attribute("aria-label") == "1 hot lead waiting for an answer"
    first_group = page.locator(".task-group").first
    assert first_group.locator("h2").inner_text().startswith("Hot leads: answer now")
    assert "Hot lead: call Dana Ortiz now" in first_group.inner_text()
    no_sideways_scroll(page)
    screenshot(page, f"rep-day-today-{'phone' if viewport is PHONE else 'desktop'}")

    first_group.get_by_role("link", name="Dana Ortiz").click()
    page.wait_for_url(f"**/contacts/{lead.id}")
    page.evaluate("window.notReloaded = true")
    assert "not touched yet" in page.locator("#score-panel").inner_text()
    page.get_by_label("What happened").select_option("call")
    page.get_by_label("Details").fill("Called Dana: budget confirmed, demo on Friday")
    page.get_by_role("button", name="Log it").click()
    page.get_by_role("status").filter(has_text="speed-to-lead tasks marked done").wait_for()
    assert "first touched" in page.locator("#score-panel").inner_text()
    assert "No open tasks" in page.locator("[id^=task-panel-contact]").inner_text()
    assert page.locator("#hot-waiting").is_hidden()
    assert page.evaluate("window.notReloaded") is True
    no_sideways_scroll(page)
    screenshot(page, f"rep-day-logged-{'phone' if viewport is PHONE else 'desktop'}")
    db.session.expire_all()
    assert Task.query.filter_by(contact_id=lead.id, kind="hot_lead").one().done_at is not None
