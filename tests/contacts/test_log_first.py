"""A lead's page puts "Log it" first, its button under the text box (issue 18, item 8c)."""

import re

from app.extensions import db
from app.models import Contact
from tests import factories

HX = {"HX-Request": "true"}


def test_the_log_form_comes_before_deals_tasks_sequences_and_the_entries(client, org, login_as):
    rep = login_as("rep")
    factories.make_deal(org, owner=rep, facts={"decision_maker": "pat.buyer@example.com"})
    contact = Contact.query.filter_by(org_id=org.id, email="pat.buyer@example.com").one()
    contact.lead_status, contact.lead_score = "mql", 55
    db.session.commit()
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    log = page.index('<form class="log-activity"')
    assert log < page.index('id="deals-title"') < page.index("Tasks</h2>") < page.index("Sequences</h2>")
    assert log < page.index('id="timeline-entries"')
    form = page[log:page.index("</form>", log)]
    assert form.index('id="activity-kind"') < form.index('id="activity-body"') < form.index(">Log it</button>")


def test_logging_swaps_the_form_and_brings_the_entries_along(client, org, login_as):
    login_as("rep")
    contact = factories.make_contact(org, email="dana@acme.example", name="Dana Ortiz")
    response = client.post(f"/contacts/{contact.id}/activities", headers=HX,
                           data={"kind": "call", "body": "Called Dana: demo on Friday"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="timeline"')
    assert "Logged. <a href=\"#timeline-title\">It heads the timeline below.</a>" in html
    entries = re.search(r'<div id="timeline-entries" hx-swap-oob="true">(.*?)</ol>', html, re.S)
    assert entries and "Called Dana: demo on Friday" in entries.group(1)
    # The entries are not also inside the form's box (they live further down the page).
    assert html.count("Called Dana: demo on Friday") == 1


def test_an_empty_note_keeps_the_form_and_says_what_is_missing(client, org, login_as):
    login_as("rep")
    contact = factories.make_contact(org, email="dana@acme.example", name="Dana Ortiz")
    response = client.post(f"/contacts/{contact.id}/activities", headers=HX, data={"kind": "note", "body": "  "})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "Nothing logged yet" in html
