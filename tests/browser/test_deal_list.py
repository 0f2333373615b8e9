"""The deals list in real Chromium, at desktop and phone size: filter, sort, pick rows, move them
through the gate, and read what stayed and why, without a page reload and without sideways scroll."""

import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Company, Deal
from tests import factories
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import blocking_violations

READY = {"needs": "Documented", "next_steps": "Agreed", "proposal_drafted": True}
DESKTOP = {"width": 1366, "height": 768}


def setup_deals(org):
    rep = factories.user(org, "rep")
    ready = [factories.make_deal(org, "Discovery", title=f"Ready {n}", amount=str(1000 * (n + 1)), owner=rep,
                                 facts=READY) for n in range(2)]
    lacking = factories.make_deal(org, "Discovery", title="Lacking one", amount="500", owner=rep)
    other = factories.make_deal(org, title="Qualified only", amount="9000", owner=rep)
    other.company = Company(org_id=org.id, name="Umbrella Corp with a long company name that wraps")
    db.session.commit()
    return ready, lacking, other


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_filter_sort_pick_and_move_through_the_gate(new_page, org, viewport):
    ready, lacking, other = setup_deals(org)
    pipe = factories.pipeline(org)
    name = "desktop" if viewport == DESKTOP else "phone"
    page = new_page(factories.user(org, "manager"), viewport=viewport)
    page.goto(f"/deals/board/{pipe.id}")
    page.get_by_role("link", name="Table view").click()
    page.wait_for_url(re.compile(r"/deals/list\?"))
    expect(page.locator("#deal-list tbody tr")).to_have_count(4)
    page.evaluate("window.notReloaded = true")
    no_sideways_scroll(page)

    page.get_by_label("Stage", exact=True).select_option(label="Discovery")
    expect(page.locator("#deal-list tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"stage=\d+"))
    page.locator("th.col-amount a").click()
    expect(page.locator("th.col-amount")).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=amount"))
    expect(page.locator("td.col-title a")).to_have_text(["Lacking one", "Ready 0", "Ready 1"])
    page.locator("th.col-amount a").click()
    expect(page.locator("th.col-amount")).to_have_attribute("aria-sort", "descending")
    expect(page.locator("td.col-title a")).to_have_text(["Ready 1", "Ready 0", "Lacking one"])
    page.get_by_label("Search").fill("ready")  # a filter after a sort keeps the sort
    expect(page.locator("td.col-title a")).to_have_text(["Ready 1", "Ready 0"])
    page.get_by_label("Search").fill("")
    expect(page.locator("#deal-list tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"sort=amount&dir=desc"))

    page.get_by_label("Select all deals on this page").check()
    expect(page.locator("#selected-count")).to_have_text("(3 selected)")
    page.get_by_label("Select Ready 1").uncheck()
    expect(page.locator("#selected-count")).to_have_text("(2 selected)")
    page.get_by_label("Select Ready 1").check()
    page.get_by_label("Move to").select_option(label="Proposal")
    screenshot(page, f"deal-list-{name}")
    page.get_by_role("button", name="Move through the gate").click()
    said = page.locator("#list-message")
    expect(said).to_contain_text("Moved 2 deals to Proposal. 1 stayed:")
    expect(said).to_contain_text("Lacking one: lacks Needs documented, Next steps agreed, Custom proposal drafted")
    expect(page.locator("#deal-list tbody tr")).to_have_count(1)  # the moved ones left the Discovery view
    assert page.evaluate("window.notReloaded") is True
    no_sideways_scroll(page)
    screenshot(page, f"deal-list-moved-{name}")
    assert blocking_violations(page) == []
    db.session.expire_all()
    assert {d.title: d.stage.name for d in Deal.query.filter(Deal.org_id == org.id)} == {
        "Ready 0": "Proposal", "Ready 1": "Proposal", "Lacking one": "Discovery", "Qualified only": "Qualified"}


def test_the_list_works_without_javascript(browser, live_server, org):
    ready, lacking, _ = setup_deals(org)
    context = browser.new_context(viewport=PHONE, base_url=live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/auth/login")
        page.get_by_label("Email").fill(factories.user(org, "manager").email)
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/deals/list")
        page.get_by_label("Status").select_option("open")
        page.get_by_label("Search").fill("ready")
        page.get_by_role("button", name="Show deals").click()
        expect(page.locator("#deal-list tbody tr")).to_have_count(2)
        assert "q=ready" in page.url
        page.get_by_label("Select all deals on this page").check()
        page.get_by_label("Move to").select_option(label="Proposal")
        page.get_by_role("button", name="Move through the gate").click()
        expect(page.locator(".flash-success")).to_contain_text("Moved 2 deals to Proposal.")
        assert "q=ready" in page.url
        no_sideways_scroll(page)
    finally:
        context.close()
