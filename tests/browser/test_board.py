"""The board in real Chromium: drag through the gate, cancel, the phone path, two writers."""

import re

from playwright.sync_api import expect

from app.extensions import db
from app.models import Company
from tests import factories
from tests.browser.conftest import PHONE, screenshot


def drag(page, source, target):
    """Drag with real pointer moves in steps (SortableJS needs them)."""
    box = source.bounding_box()
    goal = target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 6)  # the card's top edge, not its menu
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 10, box["y"] + 16, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 40, steps=20)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 50, steps=5)
    page.mouse.up()


def pick(page, card, stage_name):
    """Move a card through the board's one "Move to…" menu."""
    card.locator(".move").click()
    picker = page.locator("dialog#move-picker")
    expect(picker).to_be_visible()
    picker.get_by_role("button", name=re.compile(f"^{stage_name}")).click()


def setup_board(org):
    pipe = factories.pipeline(org)
    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, title="Acme renewal", amount="12500", owner=rep)
    deal.company = Company(org_id=org.id, name="Acme Logistics")
    deal.next_step = "Call the CFO about budget"
    factories.make_deal(org, "Discovery", title="Birch rollout", amount="4000", owner=rep)
    factories.make_deal(org, "Proposal", title="Cedar pilot", amount="30000", owner=rep)
    db.session.commit()
    return pipe, rep, deal


def test_drag_without_exit_facts_asks_for_them_then_lands_and_history_shows_criteria(new_page, org):
    pipe, rep, deal = setup_board(org)
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    page = new_page(rep)
    page.goto(f"/deals/board/{pipe.id}")
    card = page.locator(f"#card-{deal.id}")
    expect(card).to_contain_text("2 facts to exit")
    screenshot(page, "board-desktop")
    drag(page, card, page.locator(f"#cards-{discovery.id}"))
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Budget range captured (Qualified exit)")).to_be_visible()
    expect(dialog.get_by_label("Decision maker identified (Qualified exit)")).to_be_visible()
    expect(dialog.get_by_label("DM meeting scheduled (Discovery entry)")).to_be_visible()
    expect(dialog).to_contain_text("Decision maker has agreed to meet")  # the guidance beside the form
    screenshot(page, "move-dialog-desktop")
    dialog.get_by_label("Budget range captured (Qualified exit)").fill("-3")
    dialog.get_by_label("Decision maker identified (Qualified exit)").fill("pat@acme.example.com")
    dialog.get_by_label("DM meeting scheduled (Discovery entry)").fill("2031-03-04")
    dialog.get_by_role("button", name="Save and move").click()
    expect(dialog).to_contain_text("Must be zero or more.")
    expect(dialog.get_by_label("Decision maker identified (Qualified exit)")).to_have_value("pat@acme.example.com")
    dialog.get_by_label("Budget range captured (Qualified exit)").fill("15000")
    dialog.get_by_role("button", name="Save and move").click()
    expect(page.locator("dialog#move-dialog")).to_have_count(0)
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#col-head-{discovery.id}")).to_contain_text("2 deals")
    expect(page.locator(f"#col-head-{qualified.id}")).to_contain_text("0 deals")
    page.locator(f"#card-{deal.id} h3 a").click()
    history = page.locator("#history")
    expect(history).to_contain_text("Qualified → Discovery")
    latest = history.locator(".transition").first
    expect(latest.locator(".criteria li.met")).to_have_count(3)
    expect(latest.locator(".criteria li.unmet")).to_have_count(0)
    expect(history).to_contain_text("Budget range captured")
    screenshot(page, "deal-page")


def test_cancelling_the_dialog_puts_the_card_back(new_page, org):
    pipe, rep, deal = setup_board(org)
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    page = new_page(rep)
    page.goto(f"/deals/board/{pipe.id}")
    drag(page, page.locator(f"#card-{deal.id}"), page.locator(f"#cards-{discovery.id}"))
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_have_count(1)  # shown where dropped
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(f"#cards-{qualified.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_have_count(0)
    db.session.expire_all()
    assert db.session.get(type(deal), deal.id).stage_id == qualified.id


def test_phone_shows_one_stage_with_tabs_and_moves_through_the_menu(new_page, org):
    pipe, rep, deal = setup_board(org)
    discovery = factories.stage(pipe, "Discovery")
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/deals/board/{pipe.id}")
    tabs = page.get_by_role("tab")
    expect(tabs.first).to_be_visible()
    expect(page.locator(f"#col-{discovery.id}")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "board-phone")
    card = page.locator(f"#card-{deal.id}")
    pick(page, card, "Discovery")
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Budget range captured (Qualified exit)").fill("9000")
    dialog.get_by_label("Decision maker identified (Qualified exit)").fill("dm@acme.example.com")
    dialog.get_by_label("DM meeting scheduled (Discovery entry)").fill("2031-05-06")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "move-dialog-phone")
    dialog.get_by_role("button", name="Save and move").click()
    expect(dialog).to_have_count(0)
    page.get_by_role("tab", name="Discovery").click()
    expect(page.locator(f"#col-{discovery.id}")).to_be_visible()
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_be_visible()
    expect(page.get_by_role("tab", name="Discovery")).to_contain_text("2")
    small = page.evaluate("""() => [...document.querySelectorAll('#board button, #board select, #board a')]
        .filter(e => e.offsetParent && e.getBoundingClientRect().height < 44 && !e.closest('.card h3'))
        .map(e => e.outerHTML.slice(0, 80))""")
    assert small == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(f"#card-{deal.id} h3 a").click()
    expect(page.locator("#history")).to_contain_text("Qualified → Discovery")
    page.wait_for_load_state("load")  # measured once its stylesheets have loaded, as a person sees it
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "deal-page-phone")


def test_second_writer_with_a_stale_deal_gets_the_conflict_message(new_page, org):
    pipe, rep, deal = setup_board(org)
    manager = factories.user(org, "manager")
    mine = new_page(rep)
    theirs = new_page(manager)
    mine.goto(f"/deals/{deal.id}")
    theirs.goto(f"/deals/{deal.id}")
    theirs.get_by_label("Next step", exact=True).fill("Manager's next step")
    theirs.get_by_role("button", name="Save").click()
    expect(theirs.locator("#facts")).to_contain_text("Saved.")
    mine.get_by_label("Next step", exact=True).fill("Rep's next step")
    mine.get_by_role("button", name="Save").click()
    expect(mine.locator("#facts")).to_contain_text("changed by someone else")
    expect(mine.get_by_label("Next step", exact=True)).to_have_value("Manager's next step")

    board = new_page(rep)
    board.goto(f"/deals/board/{pipe.id}")
    theirs.goto(f"/deals/{deal.id}")
    theirs.get_by_label("Title").fill("Acme renewal (2027)")
    theirs.get_by_role("button", name="Save").click()
    expect(theirs.locator("#facts")).to_contain_text("Saved.")
    card = board.locator(f"#card-{deal.id}")
    pick(board, card, "Discovery")
    dialog = board.locator("dialog#move-dialog")
    expect(dialog).to_contain_text("changed by someone else")
    expect(dialog).to_contain_text("Acme renewal (2027)")
    screenshot(board, "move-conflict")
    dialog.get_by_role("button", name="OK").click()
    expect(board.locator(f"#card-{deal.id}")).to_contain_text("Acme renewal (2027)")


def test_search_filters_the_board_in_place_and_the_url_keeps_it(new_page, org):
    pipe, rep, deal = setup_board(org)
    page = new_page(rep)
    page.goto(f"/deals/board/{pipe.id}")
    page.get_by_label("Search deals").fill("acme log")
    expect(page.locator(".card")).to_have_count(1)
    expect(page.locator(f"#card-{deal.id}")).to_be_visible()
    assert "q=acme%20log" in page.url
    page.get_by_label("Owner").select_option(label="Everyone's deals")
    expect(page).to_have_url(re.compile(r"owner=all"))
    page.go_back()
    page.go_back()
    expect(page.locator(".card")).to_have_count(3)
