"""The deal room in real Chromium on a phone: the buyer opens the invitation, confirms their step by
typing their name and sees it confirmed; the rep then moves the deal through the gate it opened."""

import pytest
from playwright.sync_api import expect

from app.deals.service import update_deal
from app.extensions import db
from app.models import Deal
from app.rooms.service import invite, open_room
from tests import factories
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import blocking_violations


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def test_buyer_confirms_on_a_phone_and_the_rep_then_moves_the_deal(browser, live_server, new_page, csrf_on):
    org = factories.make_org(templates=["article"], buyer_confirms=True)
    pipe, rep = factories.pipeline(org), factories.user(org, "rep")
    deal = factories.make_deal(org, owner=rep, title="Northwind rollout")
    update_deal(deal, rep, version=deal.version,
                facts=factories.full_facts(pipe, factories.stage(pipe, "Qualified"), "exit"))
    room, _ = open_room(deal, rep)
    link = invite(room, rep, "dana@northwind.example", base_url=live_server).url

    buyer = browser.new_context(viewport=PHONE)  # no account, no cookie: only the link
    page = buyer.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Northwind rollout")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("Type your full name to confirm").first.fill("Dana Ortiz")
    page.get_by_role("button", name="Confirm “DM meeting scheduled”").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you, Dana Ortiz: “DM meeting scheduled” is confirmed.")
    expect(page.locator(".room-confirmed").first).to_contain_text("confirmed by Dana Ortiz")
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    screenshot(page, "deal-room-buyer-phone")
    buyer.close()

    seller = new_page(rep, viewport=PHONE)
    seller.goto(f"/deals/{deal.id}")
    expect(seller.get_by_text("Confirmed by dana@northwind.example")).to_be_visible()
    assert blocking_violations(seller) == []
    seller.locator(f"#move-{deal.id}-page").select_option(label="Discovery")
    seller.locator(".deal-move").get_by_role("button", name="Move").click()
    expect(seller.locator(".deal-summary .badge-stage")).to_have_text("Discovery")
    db.session.expire_all()
    moved = db.session.get(Deal, deal.id)
    assert moved.stage.name == "Discovery" and moved.facts_meta["dm_meeting_date"]["source"] == "buyer"
    screenshot(seller, "deal-room-rep-moved")
