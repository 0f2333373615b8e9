"""The board says what happened after every move, fits a laptop, and answers the gate in people's words."""

import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Contact, Deal, StageTransition
from tests import factories
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.browser.test_board import drag, pick


def full_board(org):
    """Deals in every stage, won and lost included, as a working agency's board looks."""
    pipe = factories.pipeline(org)
    rep = factories.user(org, "rep")
    names = ["Baker St Dental", "Harbor Fitness", "Maple Vet Clinic", "Northside Bakery", "Oak & Ivy Law",
             "Pine Ridge HOA", "Quarry Motors", "River Cafe"]
    deals = {}
    for i, stage in enumerate(pipe.open_stages + [pipe.stage_by_kind("won")]):
        for j in range(2):
            title = names[(i * 2 + j) % len(names)] + ("" if i < 4 else f" {i}")
            deals[(stage.name, j)] = factories.make_deal(org, stage.name, title=title, owner=rep,
                                                         amount=str(2500 * (i + 1) + j))
    lost = factories.make_deal(org, title="Sunset Realty", owner=rep)
    from app.deals.service import move_deal
    from app.models import LossReason

    reason = LossReason.query.filter_by(org_id=org.id).first()
    move_deal(lost, pipe.stage_by_kind("lost"), factories.user(org, "admin"), loss_reason_id=reason.id)
    db.session.commit()
    return pipe, rep, deals


def status(page):
    return page.locator("#board-status")


def test_a_move_says_what_happened_focuses_and_highlights_the_card_and_undo_moves_it_back(new_page, org):
    pipe, rep, deals = full_board(org)
    deal = deals[("Discovery", 0)]
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    page = new_page(rep)
    page.goto(f"/deals/board/{pipe.id}")
    card = page.locator(f"#card-{deal.id}")
    card.locator(".move").click()
    picker = page.locator("dialog#move-picker")
    expect(picker).to_contain_text(f"Move “{deal.title}” to…")
    expect(picker.get_by_role("button", name="Discovery")).to_be_hidden()  # not to its own stage
    expect(picker.get_by_role("button", name=re.compile("^Qualified"))).to_contain_text("back")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.startswith("Proposal"), focused  # the next stage forward, never a step back
    screenshot(page, "move-picker-desktop")
    picker.get_by_role("button", name=re.compile("^Qualified")).click()
    expect(status(page)).to_contain_text(f"Moved {deal.title} back to Qualified.")
    expect(page.locator(f"#cards-{qualified.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#card-{deal.id}")).to_have_class(re.compile("is-moved"))
    expect(page.locator(f"#card-{deal.id}")).to_be_focused()
    screenshot(page, "move-confirmation-desktop")
    status(page).get_by_role("button", name="Undo").click()
    expect(status(page)).to_contain_text(f"Moved {deal.title} to Discovery.")
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#card-{deal.id}")).to_be_focused()
    db.session.expire_all()
    moves = StageTransition.query.filter_by(deal_id=deal.id).order_by(StageTransition.id).all()
    assert [(t.kind, t.to_stage_id) for t in moves[-2:]] == [("backward", qualified.id), ("forward", discovery.id)]
    assert moves[-1].reason == "Undo of the previous move"
    status(page).get_by_role("button", name="Dismiss").click()
    expect(status(page)).to_be_empty()


def test_on_a_phone_the_confirmation_takes_focus_and_opens_the_stage_the_card_went_to(new_page, org):
    pipe, rep, deals = full_board(org)
    deal = deals[("Discovery", 0)]
    qualified = factories.stage(pipe, "Qualified")
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/deals/board/{pipe.id}")
    page.get_by_role("tab", name=re.compile("^Discovery")).click()
    pick(page, page.locator(f"#card-{deal.id}"), "Qualified")
    expect(status(page)).to_contain_text(f"Moved {deal.title} back to Qualified.")
    expect(page.locator("#board-status .move-status")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "move-confirmation-phone")
    status(page).get_by_role("link", name="Open Qualified").click()
    expect(page.get_by_role("tab", name=re.compile("^Qualified"))).to_have_attribute("aria-selected", "true")
    expect(page.locator(f"#cards-{qualified.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#card-{deal.id}")).to_be_focused()


def test_on_a_phone_a_long_press_does_not_lift_a_card_that_has_nowhere_to_go(new_page, org):
    pipe, rep, deals = full_board(org)
    deal = deals[("Qualified", 0)]
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/deals/board/{pipe.id}")
    card = page.locator(f"#card-{deal.id}")
    box = card.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 8)
    page.mouse.down()
    page.wait_for_timeout(400)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 120, steps=10)
    expect(page.locator(".card-chosen, .sortable-fallback")).to_have_count(0)
    page.mouse.up()
    expect(card).to_be_visible()
    expect(card.locator(".move")).to_be_visible()  # "Move to…" stays the way to move


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_lost_dialog_opens_clean_and_closed_cards_do_not_ask_for_exit_facts(new_page, org, viewport):
    pipe, rep, deals = full_board(org)
    deal = deals[("Qualified", 0)]
    page = new_page(rep, viewport=viewport)
    page.goto(f"/deals/board/{pipe.id}")
    for kind in ("won", "lost"):
        expect(page.locator(f"#cards-{pipe.stage_by_kind(kind).id} .missing")).to_have_count(0)
    pick(page, page.locator(f"#card-{deal.id}"), "Closed Lost" if any(
        s.name == "Closed Lost" for s in pipe.stages) else pipe.stage_by_kind("lost").name)
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".field-error, [aria-invalid='true'], [role=alert]")).to_have_count(0)
    expect(dialog.get_by_label("Loss reason")).to_be_focused()
    dialog.get_by_role("button", name="Close as lost").click()
    expect(dialog.locator(".field-error")).to_contain_text("Loss reason")  # only after trying


def test_at_1366_every_stage_is_on_screen_and_no_card_control_is_clipped(new_page, org):
    pipe, rep, _ = full_board(org)
    page = new_page(rep, viewport=DESKTOP)
    page.goto(f"/deals/board/{pipe.id}")
    expect(page.locator(".card").first).to_be_visible()
    screenshot(page, "board-full-desktop")
    columns = page.evaluate("""() => [...document.querySelectorAll('.column')].map(c => {
        const r = c.getBoundingClientRect(); return {id: c.id, left: r.left, right: r.right}; })""")
    assert all(c["left"] >= 0 and c["right"] <= 1366 for c in columns), columns
    clipped = page.evaluate("""() => [...document.querySelectorAll('.card .move, .card h3 a')]
        .filter(e => e.offsetParent).filter(e => {
          const r = e.getBoundingClientRect(), c = e.closest('.card').getBoundingClientRect();
          return r.right > c.right + 1 || r.left < c.left - 1 || r.width < 40; }).length""")
    assert clipped == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    won = pipe.stage_by_kind("won")
    toggle = page.locator(f"#col-{won.id} .column-toggle")
    expect(page.locator(f"#cards-{won.id} .card").first).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator(f"#cards-{won.id} .card").first).to_be_visible()


def test_a_narrow_window_shows_a_shadow_where_more_of_the_board_is(new_page, org):
    pipe, rep, _ = full_board(org)
    page = new_page(rep, viewport={"width": 900, "height": 800})
    page.goto(f"/deals/board/{pipe.id}")
    frame = page.locator(".columns-frame")
    expect(frame).to_have_class(re.compile("more-right"))
    page.locator(".columns").evaluate("el => el.scrollBy(4000, 0)")
    expect(frame).to_have_class(re.compile("more-left"))
    expect(frame).not_to_have_class(re.compile("more-right"))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_gate_takes_a_person_by_name_and_money_as_people_write_it(new_page, org, viewport):
    pipe, rep, deals = full_board(org)
    deal = deals[("Qualified", 0)]
    discovery = factories.stage(pipe, "Discovery")
    page = new_page(rep, viewport=viewport)
    page.goto(f"/deals/board/{pipe.id}")
    pick(page, page.locator(f"#card-{deal.id}"), "Discovery")
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".field-error")).to_have_count(0)
    expect(dialog.locator("label .req")).to_have_count(3)  # every asked fact is marked required
    dialog.get_by_label("Budget range captured (Qualified exit)").fill("$25,000")
    dialog.get_by_label("Decision maker identified (Qualified exit)").fill("Dana Ortiz, CFO")
    dialog.get_by_role("button", name="Save and move").click()
    expect(dialog.locator(".field-error")).to_have_text("Needed to move to Discovery.")
    dialog.get_by_label("DM meeting scheduled (Discovery entry)").fill("2031-03-04")
    dialog.get_by_role("button", name="Save and move").click()
    expect(dialog).to_have_count(0)
    expect(status(page)).to_contain_text(f"Moved {deal.title} to Discovery.")
    db.session.expire_all()
    moved = db.session.get(Deal, deal.id)
    assert moved.stage_id == discovery.id and moved.facts["budget_range"] == "25000.00"
    dana = Contact.query.filter_by(org_id=org.id, name="Dana Ortiz").one()
    assert dana.title == "CFO" and dana.email is None
    page.goto("/contacts/")
    expect(page.locator("body")).to_contain_text("Dana Ortiz")


def test_the_empty_board_reads_as_sentences_and_imports_deals(new_page, org):
    pipe = factories.pipeline(org)
    page = new_page(factories.user(org, "manager"))
    page.goto(f"/deals/board/{pipe.id}")
    text = page.locator(".board-empty").inner_text()
    assert "Moving from another CRM? Import a CSV — Pipedrive" in text, text
    page.get_by_role("link", name="Import a CSV").click()
    expect(page.get_by_label("The file holds")).to_have_value("deals")


def test_drop_then_move_menu_then_drag_all_land_with_confirmation(new_page, org):
    pipe, rep, deals = full_board(org)
    deal = deals[("Proposal", 0)]
    page = new_page(rep)
    page.goto(f"/deals/board/{pipe.id}")
    target = factories.stage(pipe, "Discovery")
    drag(page, page.locator(f"#card-{deal.id}"), page.locator(f"#cards-{target.id}"))
    expect(status(page)).to_contain_text(f"Moved {deal.title} back to Discovery.")
    expect(page.locator(f"#cards-{target.id} #card-{deal.id}")).to_be_visible()
    expect(page.locator(f"#card-{deal.id}")).to_be_focused()
