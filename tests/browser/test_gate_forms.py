"""The gate's forms in real Chromium: a loss in the rep's own words, a new deal in a later stage."""

from playwright.sync_api import expect

from app.extensions import db
from app.models import Deal
from tests import factories
from tests.browser.conftest import PHONE, screenshot
from tests.browser.test_board import pick


def test_closing_as_lost_with_other_shows_a_text_input_and_stores_the_words(new_page, org):
    pipe = factories.pipeline(org)
    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, title="Acme renewal", owner=rep)
    deal_id = deal.id
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/deals/board/{pipe.id}")
    pick(page, page.locator(f"#card-{deal_id}"), "Closed Lost")
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    words = dialog.get_by_label("The reason, in your words")
    expect(words).to_be_hidden()  # only the list until "Other…" is chosen
    dialog.get_by_label("Loss reason").select_option(label="Other…")
    expect(words).to_be_visible()
    words.fill("Their parent company mandates another broker")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "lost-other-phone")
    dialog.get_by_role("button", name="Close as lost").click()
    expect(dialog).to_have_count(0)
    db.session.expire_all()
    stored = db.session.get(Deal, deal_id)
    assert stored.status == "lost" and stored.loss_reason_other == "Their parent company mandates another broker"


def test_new_deal_in_a_later_stage_asks_for_every_earlier_stages_facts(new_page, org):
    pipe = factories.pipeline(org)
    rep = factories.user(org, "rep")
    page = new_page(rep)
    page.goto(f"/deals/new?pipeline_id={pipe.id}")
    page.get_by_label("Title", exact=True).fill("Referral from Lee")
    expect(page.get_by_label("Pain identified (Qualified entry)")).to_be_visible()
    expect(page.get_by_label("Budget range captured (Qualified exit)")).to_have_count(0)
    page.get_by_label("Stage", exact=True).select_option(label="Discovery")
    budget = page.get_by_label("Budget range captured (Qualified exit)")
    expect(budget).to_be_visible()  # the form swapped in everything the way to Discovery asks
    expect(page.get_by_label("Title", exact=True)).to_have_value("Referral from Lee")
    screenshot(page, "new-deal-later-stage-desktop")
    page.get_by_role("button", name="Create deal").click()
    expect(page.get_by_role("alert")).to_contain_text("record what the buyer has shown at each stage up to it")
    page.get_by_label("ICP confirmed (Qualified entry)").check()
    page.get_by_label("Pain identified (Qualified entry)").fill("Quotes take two days")
    page.get_by_label("Budget range captured (Qualified exit)").fill("25000")
    page.get_by_label("Decision maker identified (Qualified exit)").fill("lee@acme.example.com")
    page.get_by_label("DM meeting scheduled (Discovery entry)").fill("2031-05-06")
    page.get_by_role("button", name="Create deal").click()
    page.wait_for_url(lambda url: "/deals/new" not in url)
    db.session.expire_all()
    assert Deal.query.filter_by(title="Referral from Lee").one().stage.name == "Discovery"


def test_the_stage_editor_says_how_many_deals_are_there_on_a_phone(new_page, org):
    factories.make_deal(org, "Negotiation")
    stage = factories.stage(factories.pipeline(org), "Negotiation")
    page = new_page(factories.user(org, "admin"), viewport=PHONE)
    page.goto(f"/admin/stages/{stage.id}")
    expect(page.get_by_role("link", name="1 deal in Negotiation")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "stage-editor-phone")


def test_a_stuck_import_offers_resume_on_a_phone_and_says_it_will_carry_on(new_page, org):
    from app.imports.service import confirm_mapping, start_import
    from app.queue import get_queue

    manager = factories.user(org, "manager")
    job = start_import(manager, "contacts", "people.csv", "Name,Email\nAda,ada@example.com\n", "", None)
    confirm_mapping(job, job.mapping)
    get_queue().empty()  # its wake-up was lost
    page = new_page(manager, viewport=PHONE)
    page.goto(f"/imports/{job.id}")
    resume = page.get_by_role("button", name="Resume the import")
    expect(resume).to_be_visible()
    assert resume.bounding_box()["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "import-resume-phone")
    resume.click()
    expect(page.locator("#flashes")).to_contain_text("carry on from the first row not yet imported")
    get_queue().empty()
