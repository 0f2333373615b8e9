"""Playbooks in real Chromium: the discovery call sheet on a phone, the objection guide beside the gate."""

import re

import pytest
from markupsafe import escape
from playwright.sync_api import expect

from app.extensions import db
from app.models import Deal, Objection
from tests import factories
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_board import pick
from tests.playbooks.helpers import by_key, prompts, unmapped

pytestmark = pytest.mark.browser


def test_a_rep_fills_the_discovery_call_sheet_on_a_phone_and_the_fact_lands_on_the_deal(new_page, org):
    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, "Qualified", owner=rep, title="Hooli expansion")
    deal_id = deal.id
    _, lines = prompts(deal)
    budget, dm, summary = by_key(lines, "budget_range"), by_key(lines, "decision_maker"), unmapped(lines)
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/deals/{deal_id}")
    page.get_by_role("link", name="Discovery call sheet").click()
    page.wait_for_url(f"**/playbooks/deals/{deal_id}/discovery")
    page.evaluate("window.notReloaded = true")
    page.get_by_label(budget.text).fill("$40,000")
    page.get_by_label(dm.text).fill("Gavin Belson <gavin@hooli.example>, CEO")
    page.get_by_label(summary.text).fill("So the real problem is onboarding new reps takes six weeks.")
    no_sideways_scroll(page)
    screenshot(page, "discovery-sheet-phone")
    page.get_by_role("button", name="Save answers").click()
    status = page.get_by_role("status").filter(has_text="Saved as facts")
    expect(status).to_contain_text("Budget range captured, Decision maker identified")
    expect(status).to_contain_text("1 answer added to the timeline as a note")
    assert page.evaluate("window.notReloaded") is True  # the sheet swapped itself, no reload
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "discovery-sheet-phone-saved")
    page.get_by_role("link", name="Back to the deal").click()
    page.wait_for_url(f"**/deals/{deal_id}")
    facts = page.locator("#facts")
    expect(facts.get_by_label(re.compile("^Budget range captured"))).to_have_value(re.compile(r"40,?000"))
    expect(page.locator("body")).to_contain_text("onboarding new reps takes six weeks")
    db.session.expire_all()
    stored = db.session.get(Deal, deal_id)
    assert float(stored.facts["budget_range"]) == 40000 and stored.facts_meta["budget_range"]["source"] == "rep"


def test_the_objection_guide_opens_beside_the_gate_dialog_when_a_move_asks_for_objections(new_page):
    org = factories.make_org(templates=["b2b"])
    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, "Objection handling", owner=rep, pipeline_name="B2B sales", title="Initech")
    first = Objection.query.filter_by(pipeline_id=deal.pipeline_id).order_by(Objection.position).first()
    page = new_page(rep, viewport=PHONE)
    page.goto(f"/deals/board/{deal.pipeline_id}")
    page.get_by_role("tab", name="Objection handling").click() if page.get_by_role(
        "tab", name="Objection handling").count() else None
    pick(page, page.locator(f"#card-{deal.id}"), "Closing")
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Objections raised and answered")).to_be_visible()
    guide = dialog.locator(".pb-gate-guide")
    expect(guide).to_contain_text("Objection guide")
    guide.get_by_text(str(escape(first.text)).replace("&#39;", "'")).click()
    expect(guide.get_by_text(first.responses[0])).to_be_visible()
    expect(guide.get_by_role("link", name="Record which came up and what you used")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "objection-guide-beside-gate-phone")
    # From the guide to the deal's picker: tick what came up and the response used; the fact is written.
    guide.get_by_role("link", name="Record which came up and what you used").click()
    page.wait_for_url(f"**/playbooks/deals/{deal.id}/objections")
    page.get_by_label(re.compile("came up$")).first.check()
    page.get_by_label(first.responses[1]).check()
    no_sideways_scroll(page)
    page.get_by_role("button", name="Save objections").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as the fact Objections raised and answered")
    screenshot(page, "objection-picker-phone")
    db.session.expire_all()
    assert first.responses[1] in db.session.get(Deal, deal.id).facts["objections"]


def test_an_admin_edits_a_call_sheet_on_a_phone(new_page, org):
    admin = factories.user(org, "admin")
    pipeline = factories.pipeline(org)
    proposal = factories.stage(pipeline, "Proposal")
    page = new_page(admin, viewport=PHONE)
    page.goto(f"/admin/pipelines/{pipeline.id}")
    page.get_by_role("link", name="Playbook").click()
    page.wait_for_url(f"**/playbooks/pipelines/{pipeline.id}")
    card = page.locator(f"#sheet-{proposal.id}")
    card.locator("summary").click()
    card.get_by_label("Line 1 text").fill("Who will read the proposal, and when?")
    card.get_by_label("Save the answer as").first.select_option(label="the fact “Next steps agreed”")
    card.get_by_role("button", name="Save Proposal call sheet").click()
    expect(page.get_by_role("status").filter(has_text="Proposal call sheet saved: 1 line.")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "playbook-editor-phone")


def test_the_playbook_pages_have_no_serious_or_critical_axe_violation_on_a_phone(new_page, org):
    from tests.browser.test_accessibility import blocking_violations

    admin = factories.user(org, "admin")
    deal = factories.make_deal(org, "Qualified", owner=admin, title="Baker St Dental")
    won = factories.make_deal(org, "Closed Won", owner=admin, title="Won deal")
    urls = {"call sheet": f"/playbooks/deals/{deal.id}/discovery", "objections": f"/playbooks/deals/{deal.id}/objections",
            "demo prep": f"/playbooks/deals/{deal.id}/demo-prep", "hand-off": f"/playbooks/deals/{won.id}/handoff",
            "editor": f"/playbooks/pipelines/{deal.pipeline_id}"}
    page = new_page(admin, viewport=PHONE)
    found = {}
    for name, url in urls.items():
        response = page.goto(url)
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("networkidle")
        no_sideways_scroll(page)
        screenshot(page, f"playbook-{name.replace(' ', '-')}-phone")
        if problems := blocking_violations(page):
            found[name] = problems
    assert found == {}
