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


def test_buyer_writes_proposes_a_date_and_asks_for_a_colleague_then_the_rep_answers_on_a_phone(
        browser, live_server, new_page, csrf_on):
    """Plain forms on the buyer's phone (no account); the rep's deal page lists what waits on them."""
    from datetime import date, timedelta

    org = factories.make_org(templates=["article"], buyer_confirms=True)
    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, owner=rep, title="Northwind rollout")
    room, _ = open_room(deal, rep)
    link = invite(room, rep, "dana@northwind.example", base_url=live_server).url
    wanted = date.today() + timedelta(days=12)

    buyer = browser.new_context(viewport=PHONE)
    page = buyer.new_page()
    page.goto(link)
    page.get_by_label("Your message").fill("Our CFO signs off on Thursdays.\nCan we plan around that?")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("status")).to_contain_text("Your message is posted; the seller is told.")
    expect(page.locator(".room-thread")).to_contain_text("Our CFO signs off on Thursdays.")
    step = page.locator(".room-step", has_text="Proposal sent and acknowledged")
    step.get_by_text("Propose a date").click()  # the step has no date yet
    step.get_by_label("The date that suits you").fill(wanted.isoformat())
    step.get_by_label("Why (optional)").fill("CFO travelling")
    step.get_by_role("button", name="Propose this date").click()
    expect(page.get_by_role("status")).to_contain_text(f"You proposed {wanted:%-d %b %Y}")
    page.get_by_text("Someone else on your side should see this plan").click()
    page.get_by_label("Their work email").fill("sam@elsewhere.example")
    page.get_by_role("button", name="Ask to add them").click()
    expect(page.get_by_role("status")).to_contain_text("must be at northwind.example")
    expect(page.get_by_label("Their work email")).to_have_value("sam@elsewhere.example")  # nothing typed is lost
    page.get_by_label("Their work email").fill("sam@northwind.example")
    page.get_by_role("button", name="Ask to add them").click()
    expect(page.get_by_role("status")).to_contain_text("Once the seller approves")
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    screenshot(page, "deal-room-buyer-thread-phone")
    buyer.close()

    seller = new_page(rep, viewport=PHONE)
    seller.goto(f"/deals/{deal.id}")
    waiting = seller.locator(".room-waiting")
    expect(waiting).to_contain_text("CFO travelling")
    expect(waiting).to_contain_text("sam@northwind.example")
    waiting.get_by_role("button", name="Accept").click()
    expect(seller.locator("#room")).to_contain_text(f"is now due {wanted:%-d %b}")
    seller.locator(".room-waiting").get_by_role("button", name="Approve and email a link").click()
    expect(seller.locator("#room")).to_contain_text("Approved: sam@northwind.example is invited")
    expect(seller.get_by_role("button", name="Copy link")).to_be_visible()
    seller.get_by_label("Write to the buyer (everyone invited reads it)").fill("Thursday works for us.")
    seller.locator("#room").get_by_role("button", name="Post").click()
    expect(seller.locator("#room")).to_contain_text("Posted to the room's thread.")
    expect(seller.locator("#room .room-thread")).to_contain_text("Thursday works for us.")
    no_sideways_scroll(seller)
    assert blocking_violations(seller) == []
    screenshot(seller, "deal-room-rep-answers-phone")
