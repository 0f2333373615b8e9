"""Lead forms in real Chromium: a person on a phone fills the hosted form; another site's embed posts to it;
the leads list, the score panel and the settings pages fit a phone."""

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app.leads import lead_forms, scoring
from app.leads.service import create_or_update_lead
from app.models import Contact, Task
from app.models.leads import LeadFormView, LeadSubmission
from tests import factories
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import blocking_violations
from tests.conftest import drain_queue

ROWS = [{"maps_to": "email", "label": "Work email", "required": True},
        {"maps_to": "name", "label": "Your name", "required": True},
        {"maps_to": "company", "label": "Company", "required": False},
        {"maps_to": "message", "label": "What should we prepare?", "required": False}]


@pytest.fixture
def demo_form(org):
    admin = factories.user(org, "admin")
    return lead_forms.save_form(admin, {"name": "Book a demo", "title": "Book a 20-minute demo", "high_intent": "1",
                                        "consent_text": "I agree to be contacted.", "follow_up_minutes": "15"}, ROWS)


def test_a_person_on_a_phone_fills_the_hosted_form_and_becomes_a_hot_lead(app, new_page, org, demo_form):
    app.config["LEAD_FORM_MIN_SECONDS"] = 1
    try:
        page = new_page(viewport=PHONE)
        page.goto(f"/f/{demo_form.key}?utm_source=linkedin&utm_campaign=demo")
        expect(page.get_by_role("heading", name="Book a 20-minute demo")).to_be_visible()
        no_sideways_scroll(page)
        page.get_by_label("Work email").fill("ana@limadental.example")
        page.get_by_label("Your name").fill("Ana Lima")
        page.get_by_label("Company").fill("Lima Dental")
        page.get_by_label("What should we prepare?").fill("Pricing for 3 clinics")
        page.get_by_label("I agree to be contacted.").check()
        page.wait_for_timeout(1100)  # a person takes longer than the minimum time
        box = page.get_by_role("button", name="Send").bounding_box()
        assert box["height"] >= 44
        screenshot(page, "lead-form-phone")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
        screenshot(page, "lead-form-thanks-phone")
    finally:
        app.config["LEAD_FORM_MIN_SECONDS"] = 0
    drain_queue()  # the worker makes the lead from the stored submission
    contact = Contact.query.filter_by(org_id=org.id, email="ana@limadental.example").one()
    assert contact.utm == {"source": "linkedin", "campaign": "demo"}
    assert contact.company.name == "Lima Dental"
    assert [t.kind for t in Task.query.filter_by(contact_id=contact.id)] == ["hot_lead"]


def test_a_missing_required_field_is_named_beside_it_and_kept(new_page, org, demo_form):
    page = new_page(viewport=PHONE)
    page.goto(f"/f/{demo_form.key}")
    page.get_by_label("Work email").fill("not-an-email")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Work email must be an email address")).to_be_visible()
    expect(page.get_by_text("Your name is required")).to_be_visible()
    expect(page.get_by_label("Work email")).to_have_value("not-an-email")
    assert Contact.query.count() == 0


@pytest.fixture
def other_site():
    """A second origin: a plain page that carries the embed snippet."""
    state = {"html": ""}

    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [f"<!doctype html><html><body><h1>Agency site</h1>{state['html']}</body></html>".encode()]

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()


def test_the_embed_frame_takes_a_lead_on_another_site_with_every_proof(new_page, org, live_server, other_site):
    admin = factories.user(org, "admin")
    form = lead_forms.save_form(admin, {"name": "Newsletter", "allowed_origins": other_site["url"],
                                        "consent_text": "I agree to be contacted."}, ROWS)
    other_site["html"] = lead_forms.embed_snippet(form, live_server)
    page = new_page(viewport=PHONE)
    page.goto(other_site["url"] + "/")
    frame = page.frame_locator("iframe")
    frame.get_by_label("Work email").fill("emb@partner.example")
    frame.get_by_label("Your name").fill("Em Bed")
    frame.get_by_label("I agree to be contacted.").check()
    no_sideways_scroll(page)
    screenshot(page, "lead-form-embedded-phone")
    frame.get_by_role("button", name="Send").click()
    expect(frame.get_by_role("heading", name="Thank you")).to_be_visible()
    assert page.url.startswith(other_site["url"])  # the visitor stayed on the site
    drain_queue()
    contact = Contact.query.filter_by(email="emb@partner.example").one()
    assert contact.referrer.rstrip("/") == other_site["url"] and contact.lead_score == 20
    assert LeadSubmission.query.one().status == "received"  # it carried the page token: not held
    assert LeadFormView.query.filter_by(form_id=form.id).count() == 1  # the frame's page view


def test_a_site_not_allowed_cannot_show_the_frame(new_page, org, live_server, other_site):
    admin = factories.user(org, "admin")
    form = lead_forms.save_form(admin, {"name": "Newsletter", "allowed_origins": "https://only.example"}, ROWS)
    other_site["html"] = lead_forms.embed_snippet(form, live_server)
    page = new_page()
    page.goto(other_site["url"] + "/")
    page.wait_for_load_state("load")
    framed = next(f for f in page.frames if f != page.main_frame)
    assert framed.locator("form").count() == 0  # the browser refused to show it (CSP frame-ancestors)
    assert Contact.query.count() == 0


def test_after_an_error_the_fix_sent_at_once_is_accepted(app, new_page, org, demo_form):
    """A person waits past the minimum, forgets consent, fixes it, then mistypes the email (consent stays
    ticked), fixes that and sends at once: no "That was quick!", the lead is taken."""
    app.config["LEAD_FORM_MIN_SECONDS"] = 2
    try:
        page = new_page(viewport=PHONE)
        page.goto(f"/f/{demo_form.key}")
        page.get_by_label("Work email").fill("ana@limadental.example")
        page.get_by_label("Your name").fill("Ana Lima")
        page.get_by_label("What should we prepare?").fill("Pricing")
        page.wait_for_timeout(2200)  # past the minimum time
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_text("Your agreement is needed before we can contact you")).to_be_visible()
        expect(page.get_by_label("Work email")).to_have_value("ana@limadental.example")
        expect(page.get_by_label("What should we prepare?")).to_have_value("Pricing")
        expect(page.get_by_label("I agree to be contacted.")).not_to_be_checked()
        page.get_by_label("I agree to be contacted.").check()
        page.get_by_label("Work email").fill("ana@")
        page.get_by_role("button", name="Send").click()  # at once
        expect(page.get_by_text("Work email must be an email address")).to_be_visible()
        expect(page.get_by_label("I agree to be contacted.")).to_be_checked()
        expect(page.get_by_text("That was quick!")).to_have_count(0)
        page.get_by_label("Work email").fill("ana@limadental.example")
        page.get_by_role("button", name="Send").click()  # at once
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    finally:
        app.config["LEAD_FORM_MIN_SECONDS"] = 0
    drain_queue()
    contact = Contact.query.filter_by(org_id=org.id, email="ana@limadental.example").one()
    assert contact.name == "Ana Lima" and [t.kind for t in Task.query.filter_by(contact_id=contact.id)] == ["hot_lead"]


def _old_snippet(form, base_url) -> str:
    """What the builder gave sites before frames: a copy of the form posting straight to us, no token."""
    return (f'<form action="{base_url}/f/{form.key}" method="post"><label>Work email<input type="email" '
            'name="f_email"></label><label>Your name<input name="f_name"></label>'
            '<button type="submit">Send</button></form>')


@pytest.mark.parametrize("viewport", [PHONE, None], ids=["phone", "desktop"])
def test_a_post_from_an_old_snippet_is_held_and_a_manager_accepts_or_discards_it(new_page, org, live_server,
                                                                                 other_site, viewport):
    admin = factories.user(org, "admin")
    form = lead_forms.save_form(admin, {"name": "Newsletter", "allowed_origins": other_site["url"]}, ROWS)
    other_site["html"] = _old_snippet(form, live_server)
    visitor = new_page()
    visitor.goto(other_site["url"] + "/")
    visitor.get_by_label("Work email").fill("real@buyer.example")
    visitor.get_by_label("Your name").fill("Real Buyer")
    visitor.get_by_role("button", name="Send").click()
    expect(visitor.get_by_role("heading", name="Thank you")).to_be_visible()  # never turned away
    lead_forms.submit(form, {"f_email": "bot@spam.example", "f_name": "Bot"}, nonce="", utm={},
                      held="The hidden anti-spam field was filled in.")
    drain_queue()
    assert Contact.query.count() == 0

    manager = factories.user(org, "manager")
    page = new_page(manager, viewport=viewport or {"width": 1366, "height": 900})
    page.goto("/leads/")
    page.get_by_role("link", name="2 form submissions held for review").click()
    real = page.locator(".held-item", has_text="real@buyer.example")
    expect(real).to_contain_text("Real Buyer")
    expect(real).to_contain_text("without the form's page token")
    no_sideways_scroll(page)
    assert real.get_by_role("button", name="Accept").bounding_box()["height"] >= 44
    screenshot(page, f"leads-held-{'phone' if viewport else 'desktop'}")
    assert blocking_violations(page) == []
    real.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Accepted the submission from real@buyer.example")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".held-item", has_text="bot@spam.example").get_by_role("button", name="Discard").click()
    expect(page.get_by_text("Discarded the submission from bot@spam.example.")).to_be_visible()
    expect(page.get_by_text("Nothing is held.")).to_be_visible()
    drain_queue()
    contact = Contact.query.filter_by(org_id=org.id, email="real@buyer.example").one()
    assert [t.kind for t in Task.query.filter_by(contact_id=contact.id)] == ["lead_follow_up"]
    assert LeadSubmission.query.count() == 1


def _leads(org):
    admin = factories.user(org, "admin")
    for email, name, events in [("jo@harbor.example", "Jo Harper", ["meeting_booked", "meeting_booked"]),
                                ("kim@ledger.example", "Kim Ortiz", ["meeting_booked"]),
                                ("lou@park.example", "Lou Park", ["form_fill"])]:
        contact, _, _ = create_or_update_lead(admin, {"email": email, "name": name, "company": name.split()[1] + " Co"})
        for kind in events:
            scoring.record_event(contact, kind)


@pytest.mark.parametrize("viewport", [PHONE, None], ids=["phone", "desktop"])
def test_leads_list_puts_hot_first_and_the_contact_page_explains_the_score(new_page, org, viewport):
    _leads(org)
    rep = factories.user(org, "rep")
    page = new_page(rep, viewport=viewport or {"width": 1366, "height": 900})
    page.goto("/leads/")
    names = page.locator(".lead-name").all_inner_texts()
    assert names == ["Jo Harper", "Kim Ortiz", "Lou Park"]
    expect(page.get_by_text("Not touched yet").first).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, f"leads-list-{'phone' if viewport else 'desktop'}")
    page.get_by_label("Status").select_option("mql")
    expect(page.locator(".lead-name")).to_have_count(1)
    expect(page.locator(".lead-name")).to_have_text("Kim Ortiz")
    assert "status=mql" in page.url
    page.locator(".lead-name").first.click()
    expect(page.get_by_text("+40 meeting booked")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, f"lead-contact-{'phone' if viewport else 'desktop'}")


@pytest.mark.parametrize("viewport", [PHONE, None], ids=["phone", "desktop"])
def test_admin_settings_and_form_builder_fit_the_screen(new_page, org, demo_form, viewport):
    admin = factories.user(org, "admin")
    page = new_page(admin, viewport=viewport or {"width": 1366, "height": 900})
    page.goto("/leads/settings")
    page.get_by_label("Industries").fill("Insurance, Accounting")
    page.get_by_role("button", name="Save profile and rescore").click()
    expect(page.get_by_text("Saved the ideal customer profile")).to_be_visible()
    expect(page.get_by_text("industry is one of “Insurance, Accounting”")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, f"lead-settings-{'phone' if viewport else 'desktop'}")
    page.goto(f"/leads/forms/{demo_form.id}")
    expect(page.get_by_label("Embed on your site")).to_contain_text(f"/f/{demo_form.key}")
    no_sideways_scroll(page)
    screenshot(page, f"lead-form-builder-{'phone' if viewport else 'desktop'}")


def test_the_move_dialog_shows_the_icp_beside_the_matches_our_icp_box(new_page):
    from app.extensions import db
    from app.leads.settings import save_icp
    from tests.browser.test_board import pick

    org = factories.make_org(templates=["b2b"])
    admin, rep = factories.user(org, "admin"), factories.user(org, "rep")
    save_icp(admin, {"icp_industries": "Insurance, Accounting", "icp_sizes": "11-50", "icp_titles": "Owner",
                     "icp_countries": "Portugal", "icp_pains": "Leads answered too late", "icp_triggers": ""})
    pipe = factories.pipeline(org, "B2B sales")
    deal = factories.make_deal(org, title="Harbour Insurance", owner=rep, pipeline_name="B2B sales")
    db.session.commit()
    page = new_page(rep)
    page.goto(f"/deals/board/{pipe.id}")
    pick(page, page.locator(f"#card-{deal.id}"), "Outreach")
    dialog = page.locator("dialog#move-dialog")
    expect(dialog).to_be_visible()
    box = dialog.get_by_label("Matches our ICP", exact=False)
    expect(box).to_be_visible()
    summary = dialog.get_by_role("note", name="Our ideal customer profile")
    expect(summary).to_contain_text("Insurance, Accounting")
    for text in ("11-50", "Owner", "Portugal", "Leads answered too late"):
        expect(summary).to_contain_text(text)
    expect(summary).not_to_contain_text("Buying triggers")  # only what the admin wrote
    # The required-field note reads as a sentence ("Fields marked * are required."): a button
    # style once made it a flex row that swallowed the spaces around the star.
    note = dialog.get_by_text("Fields marked")
    expect(note).to_have_css("display", "block")
    assert note.bounding_box()["width"] > 150
    # Right below the checkbox it explains, not somewhere else on the page.
    box_bottom = box.bounding_box()["y"] + box.bounding_box()["height"]
    assert 0 <= summary.bounding_box()["y"] - box_bottom < 80
    screenshot(page, "move-dialog-icp")
    box.check()
    dialog.get_by_role("button", name="Save and move").click()
    expect(page.locator("dialog#move-dialog")).to_have_count(0)
