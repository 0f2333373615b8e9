"""Issue 18's small frictions in real Chromium, at desktop (1366x768) and phone (390x844) size:
dragging a card by its title, the move menus' "asks N facts", "Log it" first on a lead, the criteria
editor's Save in view, adding a sequence step without a reload, the lead form builder's preview,
Copy button and phone labels. Screenshots go to /tmp/shots/frictions/ for people to look at."""

import os
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Contact, Deal, StageRequirement
from app.models.leads import LeadForm
from tests import factories
from tests.browser.conftest import PHONE, no_sideways_scroll
from tests.browser.test_accessibility import blocking_violations
from tests.browser.test_board import setup_board

DESKTOP = {"width": 1366, "height": 768}
SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
SHOTS = "/tmp/shots/frictions"


def shot(page, name, viewport, full_page=True):
    os.makedirs(SHOTS, exist_ok=True)
    size = "phone" if viewport is PHONE else "desktop"
    page.screenshot(path=os.path.join(SHOTS, f"{name}-{size}.png"), full_page=full_page)


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def drag_by_title(page, card, target):
    """Press on the card's title link, then drag with real pointer moves in steps (SortableJS needs them)."""
    title = card.locator("h3 a").bounding_box()
    goal = target.bounding_box()
    page.mouse.move(title["x"] + min(20, title["width"] / 2), title["y"] + title["height"] / 2)
    page.mouse.down()
    page.mouse.move(title["x"] + 40, title["y"] + 20, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 40, steps=20)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 50, steps=5)
    page.mouse.up()


# --- a. the board: drag by the title ---------------------------------------------------------

def test_a_drag_that_starts_on_the_title_moves_the_card_and_the_gate_still_asks(new_page, org):
    pipe, rep, deal = setup_board(org)
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    page = new_page(rep, viewport=DESKTOP)
    page.goto(f"/deals/board/{pipe.id}")
    drag_by_title(page, page.locator(f"#card-{deal.id}"), page.locator(f"#cards-{discovery.id}"))
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()  # Qualified's exit and Discovery's entry are asked, as for any drag
    assert f"/deals/board/{pipe.id}" in page.url  # the title's link did not open the deal
    shot(page, "drag-by-title-asks", DESKTOP, full_page=False)
    dialog.get_by_label("Budget range captured (Qualified exit)").fill("15000")
    dialog.get_by_label("Decision maker identified (Qualified exit)").fill("pat@acme.example.com")
    dialog.get_by_label("DM meeting scheduled (Discovery entry)").fill("2031-03-04")
    dialog.get_by_role("button", name="Save and move").click()
    expect(page.locator("dialog#move-dialog")).to_have_count(0)
    expect(page.locator("#board-status")).to_contain_text("Moved Acme renewal to Discovery.")
    expect(page.locator(f"#cards-{discovery.id} #card-{deal.id}")).to_be_visible()
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage_id == discovery.id

    # A deal with what the move needs lands at once when dragged by its title.
    ready = factories.make_deal(org, title="Dover expansion", owner=rep,
                                facts={**factories.full_facts(pipe, qualified, "exit"),
                                       **factories.full_facts(pipe, discovery, "entry")})
    page.reload()
    drag_by_title(page, page.locator(f"#card-{ready.id}"), page.locator(f"#cards-{discovery.id}"))
    expect(page.locator("#board-status")).to_contain_text("Moved Dover expansion to Discovery.")
    expect(page.locator(f"#cards-{discovery.id} #card-{ready.id}")).to_be_visible()
    assert "/deals/board/" in page.url

    # A click without movement still opens the deal.
    page.locator(f"#card-{ready.id} h3 a").click()
    page.wait_for_url(f"**/deals/{ready.id}")


# --- b. the move menus say which stages ask for facts ------------------------------------------

@SIZES
def test_the_move_menu_marks_the_stages_that_would_ask_for_facts(new_page, org, viewport):
    pipe, rep, deal = setup_board(org)
    page = new_page(rep, viewport=viewport)
    page.goto(f"/deals/board/{pipe.id}")
    page.locator(f"#card-{deal.id} .move").click()
    picker = page.locator("dialog#move-picker")
    expect(picker).to_be_visible()
    discovery = picker.get_by_role("button", name=re.compile("^Discovery"))
    expect(discovery).to_contain_text("Discovery · asks 3 facts")
    expect(picker.get_by_role("button", name=re.compile("^Closed Lost"))).not_to_contain_text("asks")
    expect(discovery).to_be_focused()  # the marks arrive without taking the focus away
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    shot(page, "move-menu-marks", viewport, full_page=False)
    # Another card in another stage: its own marks, none left over from the first.
    picker.get_by_role("button", name="Cancel").click()
    birch = page.locator(".card", has_text="Birch rollout")
    if viewport is PHONE:
        page.get_by_role("tab", name=re.compile("^Discovery")).click()
    birch.locator(".move").click()
    expect(picker.get_by_role("button", name=re.compile("^Proposal"))).to_contain_text("asks 3 facts")
    expect(picker.get_by_role("button", name=re.compile("^Qualified"))).not_to_contain_text("asks")  # back
    # A pick still moves through the gate: the dialog asks for the facts the menu promised.
    picker.get_by_role("button", name=re.compile("^Proposal")).click()
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    assert dialog.locator(".gate-form input:not([type=hidden]), .gate-form textarea").count() >= 3


@SIZES
def test_the_deal_page_move_menu_marks_them_too(new_page, org, viewport):
    pipe, rep, deal = setup_board(org)
    page = new_page(rep, viewport=viewport)
    page.goto(f"/deals/{deal.id}")
    menu = page.get_by_label("Move to stage")
    options = menu.locator("option").all_inner_texts()
    assert "Discovery · asks 3 facts" in options and "Closed Lost" in options
    menu.select_option(label="Discovery · asks 3 facts")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("dialog#move-dialog")).to_be_visible()  # the three facts the menu promised
    expect(page.locator("dialog#move-dialog")).to_contain_text("DM meeting scheduled (Discovery entry)")
    page.locator("dialog#move-dialog").get_by_role("button", name="Cancel").click()
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    shot(page, "deal-page", viewport)


# --- c. a lead's page: Log it first, its button under the text box -----------------------------

@SIZES
def test_a_leads_page_puts_log_it_first_with_its_button_below_the_text_box(new_page, org, viewport):
    rep = factories.user(org, "rep")
    factories.make_deal(org, owner=rep, facts={"decision_maker": "pat.buyer@example.com"})
    lead = Contact.query.filter_by(org_id=org.id, email="pat.buyer@example.com").one()
    lead.lead_status, lead.lead_score, lead.phone = "mql", 55, "+1 555 0100"
    db.session.commit()
    page = new_page(rep, viewport=viewport)
    page.goto(f"/contacts/{lead.id}")
    body = page.get_by_label("Details")
    button = page.get_by_role("button", name="Log it")
    deals = page.get_by_role("heading", name="Deals")
    tasks = page.get_by_role("heading", name="Tasks")
    sequences = page.get_by_role("heading", name="Sequences")
    log_bottom = page.locator(".log-box").bounding_box()["y"] + page.locator(".log-box").bounding_box()["height"]
    assert all(log_bottom <= h.bounding_box()["y"] for h in (deals, tasks, sequences))
    if viewport is PHONE:  # one column: then the deals, the tasks and the sequences, in that order
        assert deals.bounding_box()["y"] < tasks.bounding_box()["y"] < sequences.bounding_box()["y"]
    assert button.bounding_box()["y"] >= body.bounding_box()["y"] + body.bounding_box()["height"]
    if viewport is PHONE:
        assert in_view(page, button)  # on a phone the form is on screen as the page opens
        assert button.bounding_box()["height"] >= 44
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    shot(page, "lead-log-first", viewport)
    page.evaluate("window.notReloaded = true")
    page.get_by_label("What happened").select_option("call")
    body.fill("Called Pat: budget signed off")
    button.click()
    expect(page.locator(".log-box [role=status]")).to_contain_text("Logged.")
    expect(page.locator("#timeline-entries")).to_contain_text("Called Pat: budget signed off")
    expect(body).to_have_value("")
    assert page.evaluate("window.notReloaded") is True
    shot(page, "lead-logged", viewport)


# --- d. the criteria editor: Save in view, and who now lacks a new fact --------------------------

@SIZES
def test_the_criteria_save_stays_in_view_and_says_how_many_deals_lack_the_new_fact(new_page, org, viewport):
    pipe = factories.pipeline(org)
    discovery = factories.stage(pipe, "Discovery")
    factories.make_deal(org, "Discovery", title="No proposal yet")
    factories.make_deal(org, "Discovery", title="Drafted", facts={"proposal_drafted": True})
    page = new_page(factories.user(org, "admin"), viewport=viewport)
    page.goto(f"/admin/pipelines/{pipe.id}/criteria#criteria-stage-{discovery.id}")
    card = page.locator(f"#criteria-stage-{discovery.id}")
    save = card.get_by_role("button", name="Save Discovery")
    rows = card.locator(".crit-row:not(.crit-colhead)")
    assert rows.count() > 10  # taller than the window: without the sticky bar Save would be off screen
    rows.first.scroll_into_view_if_needed()
    page.evaluate(f"window.scrollTo(0, document.getElementById('criteria-stage-{discovery.id}')"
                  ".getBoundingClientRect().top + window.scrollY)")
    assert in_view(page, save)
    rows.nth(5).scroll_into_view_if_needed()
    page.mouse.wheel(0, 200)
    page.wait_for_timeout(100)
    assert in_view(page, save)
    card.get_by_label("Custom proposal drafted: required to leave Discovery").check()
    save.click()
    status = card.locator(".crit-status")
    expect(status).to_contain_text("✓ Saved. 1 open deal in Discovery lacks a fact newly required to leave it.")
    expect(status).to_be_focused()
    link = status.get_by_role("link", name="See the deals missing facts in Discovery")
    expect(link).to_be_visible()
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    shot(page, "criteria-saved", viewport, full_page=False)
    assert StageRequirement.query.filter_by(stage_id=discovery.id, when="exit").count() == 3
    link.click()
    page.wait_for_url(re.compile(r"/deals/list\?"))
    expect(page.get_by_role("link", name="No proposal yet")).to_be_visible()


# --- e. the sequence builder: a step added without a reload --------------------------------------

@SIZES
def test_adding_a_step_keeps_preview_as_and_does_not_reload(new_page, org, viewport):
    factories.make_contact(org, email="ana@acme.example", name="Ana Able", company="Acme")
    zed = factories.make_contact(org, email="zed@zeta.example", name="Zed Zane", company="Zeta Corp")
    page = new_page(factories.user(org, "manager"), viewport=viewport)
    page.goto("/sequences/new")
    page.get_by_label("Name").fill("Spring outreach")
    page.get_by_label("Preview as").select_option(str(zed.id))
    page.locator("#subject-0").fill("Hello {{first_name}} at {{company}}")
    page.locator("#preview-0").get_by_text("Hello Zed at Zeta Corp").wait_for()
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="+ Add a step").click()
    expect(page.locator(".seq-step")).to_have_count(2)
    expect(page.get_by_role("heading", name="Step 2")).to_be_visible()
    expect(page.locator("#type-1")).to_be_focused()
    expect(page.locator("#seq-steps [role=status]")).to_have_text("Step 2 added.")
    assert page.evaluate("window.notReloaded") is True
    assert page.get_by_label("Name").input_value() == "Spring outreach"
    assert page.get_by_label("Preview as").evaluate("s => s.selectedOptions[0].text").startswith("Zed Zane")
    assert page.locator("#subject-0").input_value() == "Hello {{first_name}} at {{company}}"
    page.locator("#preview-0").get_by_text("Hello Zed at Zeta Corp").wait_for()  # step 1's preview, as Zed
    page.locator("#subject-1").fill("Following up, {{first_name}}")
    page.locator("#preview-1").get_by_text("Following up, Zed").wait_for()
    page.locator("#body-1").fill("Hi {{first_name}}, any thoughts?")
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    shot(page, "sequence-step-added", viewport)
    page.get_by_role("button", name="Save sequence").click()
    page.get_by_text("Saved “Spring outreach” with 2 steps.").wait_for()


# --- f. the lead form builder: preview, Copy, labels on a phone -----------------------------------

@SIZES
def test_the_form_builder_previews_a_new_field_copies_the_embed_and_labels_the_order_boxes(
        new_page, org, viewport):
    page = new_page(factories.user(org, "admin"), viewport=viewport)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/leads/forms/new")
    page.get_by_label("Name (for you)").fill("Demo request")
    page.get_by_role("button", name="Save form").click()
    page.get_by_text("Created the form “Demo request”").wait_for()
    form = LeadForm.query.one()
    preview = page.locator("#form-preview")
    expect(preview.get_by_label("Work email")).to_be_visible()
    expect(preview.get_by_label("Phone")).to_have_count(0)
    page.get_by_role("checkbox", name="Phone").check()
    expect(preview.get_by_label("Phone")).to_be_visible()  # the new field shows before any save
    page.get_by_label("Label for Phone").fill("Best number to call")
    expect(preview.get_by_label("Best number to call")).to_be_visible()
    page.get_by_label("Heading on the page").fill("Book a demo")
    expect(preview).to_contain_text("Book a demo")

    order = page.get_by_role("spinbutton", name="Order of Work email")
    expect(order).to_be_visible()
    if viewport is PHONE:  # the table's header is hidden on a phone: each box shows its own label
        label = page.locator("label[for=order-email]")
        expect(label).to_be_visible()
        expect(label).to_have_text("Order")
        text, box = label.bounding_box(), order.bounding_box()
        assert text["x"] + text["width"] <= box["x"]  # beside the box, on its line
        assert box["y"] <= text["y"] + text["height"] / 2 <= box["y"] + box["height"]
        expect(page.locator("label[for=label-email]")).to_have_text("Label")
    no_sideways_scroll(page)
    assert blocking_violations(page) == []
    shot(page, "form-builder-preview", viewport)
    size = "phone" if viewport is PHONE else "desktop"
    page.locator(".form-fields-table").screenshot(path=os.path.join(SHOTS, f"form-builder-fields-{size}.png"))

    page.get_by_role("button", name="Copy the embed code").click()
    expect(page.locator("#embed-copied")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("<iframe src=") and f"/f/{form.key}?embed=1" in copied
    shot(page, "form-builder-copied", viewport, full_page=False)
    # Without the clipboard API (an older browser, a page not served securely) the text is selected
    # and copied the old way, and the page still says what happened.
    page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page.evaluate("document.getElementById('embed-copied').textContent = ''")
    page.get_by_role("button", name="Copy the embed code").click()
    expect(page.locator("#embed-copied")).to_have_text(re.compile(r"^(Copied|Selected: press Ctrl\+C)"))
    assert page.evaluate("(() => { const t = document.getElementById('embed-code');"
                         " return document.activeElement === t && t.selectionStart === 0"
                         " && t.selectionEnd === t.value.length; })()")
