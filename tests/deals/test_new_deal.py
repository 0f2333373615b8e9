"""A new deal with its person, owner and expected close date, and a lead turned into a deal,
through HTTP as a rep or a manager would; the gate decides as for every creation."""

import html as markup
import re
from datetime import date, timedelta

import pytest

from app.auth.service import create_user
from app.deals.lead_facts import prefill_from_lead
from app.extensions import db
from app.models import Company, Contact, Deal, StageTransition
from tests import factories

HX = {"HX-Request": "true"}
ENTRY = {"fact_icp_confirmed": "y", "fact_pain": "Quotes take a week"}


@pytest.fixture
def pipe(org):
    return factories.pipeline(org)


def html(response):
    return response.get_data(as_text=True)


def input_value(page, name):
    """The value a text input named `name` shows (unescaped), or None when it has none."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
    found = re.search(r'value="([^"]*)"', tag)
    return markup.unescape(found.group(1)) if found else None


def selected(page, name):
    """The text of the option selected in the select named `name`."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return markup.unescape(re.search(r'<option selected value="[^"]*">([^<]*)</option>', select).group(1))


def new_deal(client, pipe, **data):
    return client.post("/deals/new", data={"pipeline_id": pipe.id, "stage_id": pipe.open_stages[0].id, **data})


def a_lead(org, **values):
    """A lead owned by the org's rep, at Prospect Inc, carrying what a form and an import told us."""
    values.setdefault("lead_facts", {"icp_fit": "yes", "pains": "Quotes take a week", "industry": "Logistics"})
    return factories.make_contact(org, email="pat@prospect.example", name="Pat Prospect", title="COO",
                                  owner_id=factories.user(org, "rep").id, **values)


# --- the form everywhere ---------------------------------------------------------------------

def test_a_deal_with_a_picked_person_an_owner_and_an_expected_close_date(client, login_as, org, pipe):
    login_as("manager")
    pat = factories.make_contact(org)
    rep = factories.user(org, "rep")
    form = html(client.get(f"/deals/new?pipeline_id={pipe.id}"))
    # The person is picked from the organisation's contacts, written as a contact fact writes them.
    assert '<option value="Pat Prospect &lt;pat@prospect.example&gt;"></option>' in form
    assert selected(form, "owner_id") == f"{factories.user(org, 'manager').name} (you)"  # default: me
    response = new_deal(client, pipe, title="Prospect rollout", person="Pat Prospect <pat@prospect.example>",
                        owner_id=rep.id, expected_close_date="2031-03-14", company="Prospect Inc", **ENTRY)
    assert response.status_code == 302
    deal = Deal.query.filter_by(title="Prospect rollout").one()
    assert deal.contact_id == pat.id and deal.owner_id == rep.id
    assert deal.expected_close_date == date(2031, 3, 14) and deal.company.name == "Prospect Inc"
    assert Contact.query.filter_by(org_id=org.id).count() == 1  # picked, not added again
    page = html(client.get(response.headers["Location"]))
    assert "Deal created in Qualified: Prospect rollout." in page
    assert "Person: <a" in page and "Pat Prospect</a>" in page
    assert input_value(page, "expected_close_date") == "2031-03-14"


def test_a_typed_person_with_a_role_is_added_as_a_contact_once_the_deal_exists(client, login_as, org, pipe):
    rep = login_as("rep")
    response = new_deal(client, pipe, title="Ortiz deal", person="Dana Ortiz, CFO", **ENTRY)
    assert response.status_code == 302
    deal = Deal.query.filter_by(title="Ortiz deal").one()
    dana = deal.contact
    assert (dana.org_id, dana.name, dana.title, dana.email, dana.owner_id) == (org.id, "Dana Ortiz", "CFO", None, rep.id)
    assert deal.owner_id == rep.id and deal.expected_close_date is None
    contact_page = html(client.get(f"/contacts/{dana.id}"))
    assert "Ortiz deal" in contact_page and "Primary contact" in contact_page
    # Typed again (any case), the same person is found, not added twice.
    new_deal(client, pipe, title="Ortiz expansion", person="dana ortiz", **ENTRY)
    assert Deal.query.filter_by(title="Ortiz expansion").one().contact_id == dana.id
    assert Contact.query.filter_by(org_id=org.id).count() == 1


def test_a_person_that_is_no_person_is_refused_beside_the_field(client, login_as, org, pipe):
    login_as("rep")
    response = new_deal(client, pipe, title="Nobody", person="dana@", **ENTRY)
    assert response.status_code == 422
    assert "Has an email address that is not valid" in html(response)
    assert Deal.query.filter_by(title="Nobody").count() == 0 and Contact.query.count() == 0


def test_a_rep_creates_deals_only_for_themselves(client, login_as, org, pipe):
    """The gate's rule (create_deal): only a manager or an admin creates a deal for someone else, as
    only they may work anyone's deals (can_edit); a rep's deal for a colleague would be one the rep
    could no longer edit or move."""
    rep = login_as("rep")
    other = create_user(org, f"olly.{org.id}@example.com", "Olly Other", "rep", factories.PASSWORD)
    form = html(client.get(f"/deals/new?pipeline_id={pipe.id}"))
    assert selected(form, "owner_id") == f"{rep.name} (you)" and "Olly Other" not in form
    assert "Only a manager can create a deal for someone else." in form
    response = new_deal(client, pipe, title="For Olly", owner_id=other.id, **ENTRY)
    assert response.status_code == 422
    assert "Only a manager can create deals for someone else." in html(response)
    assert Deal.query.filter_by(title="For Olly").count() == 0
    # Another organisation's user is no one here.
    stranger = factories.user(factories.make_org(), "rep")
    response = new_deal(client, pipe, title="For a stranger", owner_id=stranger.id, **ENTRY)
    assert response.status_code == 422 and "Not an active user of this organisation." in html(response)
    assert Deal.query.filter(Deal.title.in_(["For Olly", "For a stranger"])).count() == 0


def test_the_gate_refuses_a_deal_without_its_entry_facts_and_writes_nothing(client, login_as, org, pipe):
    login_as("manager")
    before = (Contact.query.count(), Company.query.count(), StageTransition.query.count())
    response = new_deal(client, pipe, title="Too early", person="Dana Ortiz, CFO", company="Brand New Co",
                        expected_close_date="2031-01-31", owner_id=factories.user(org, "rep").id)
    page = html(response)
    assert response.status_code == 422 and "Needed to start in Qualified." in page
    # What was typed stays in the form; nothing was written: no deal, no person, no company.
    assert input_value(page, "person") == "Dana Ortiz, CFO" and input_value(page, "company") == "Brand New Co"
    assert input_value(page, "expected_close_date") == "2031-01-31"
    assert Deal.query.filter_by(title="Too early").count() == 0
    assert (Contact.query.count(), Company.query.count(), StageTransition.query.count()) == before


@pytest.mark.parametrize("field, typed", [("person", "Dana\x00Ortiz"), ("person", "Dana \ufffd"),
                                          ("company", "Acme\x00"), ("company", "x" * 201)])
def test_a_person_or_company_that_is_not_text_is_refused_calmly(client, login_as, org, pipe, field, typed):
    login_as("rep")
    response = new_deal(client, pipe, title="Odd", **{field: typed}, **ENTRY)
    assert response.status_code == 422 and f'id="{field}-error"' in html(response)
    assert Deal.query.filter_by(title="Odd").count() == 0 and Contact.query.count() == 0


@pytest.mark.parametrize("typed", ["2031-02-30", "31/01/2031", "1969-12-31", "2101-01-01"])
def test_a_bad_expected_close_date_is_named_beside_its_field(client, login_as, org, pipe, typed):
    login_as("rep")
    response = new_deal(client, pipe, title="Bad date", expected_close_date=typed, **ENTRY)
    page = html(response)
    assert response.status_code == 422
    error = re.search(r'id="expected_close_date-error">([^<]+)<', page).group(1)
    assert error.startswith("Must be a date")
    assert Deal.query.filter_by(title="Bad date").count() == 0


# --- a lead's "Create deal" ----------------------------------------------------------------

def test_a_leads_create_deal_fills_in_the_person_company_owner_and_lead_facts(client, login_as, org, pipe):
    login_as("manager")
    lead = a_lead(org)
    rep = factories.user(org, "rep")
    contact_page = html(client.get(f"/contacts/{lead.id}"))
    button = contact_page.split('class="create-deal"')[1].split("</form>")[0]
    assert f'name="contact_id" value="{lead.id}"' in button and f'value="{pipe.id}"' in button
    assert "Create deal</button>" in button
    form = html(client.get("/deals/new", query_string={"pipeline_id": pipe.id, "contact_id": lead.id}))
    assert input_value(form, "person") == "Pat Prospect <pat@prospect.example>, COO"
    assert input_value(form, "company") == "Prospect Inc" and input_value(form, "title") == "Prospect Inc"
    assert selected(form, "owner_id") == rep.name  # the lead's owner
    # The first stage's criteria, offered from what the lead told us (ICP fit "yes", its pains).
    assert re.search(r'<input checked id="fact_icp_confirmed"', form)
    assert "Quotes take a week</textarea>" in form
    assert "filled in from what Pat Prospect told us as a lead: check them" in form
    # The rep confirms by submitting what the form shows.
    response = client.post("/deals/new", data={
        "pipeline_id": pipe.id, "contact_id": lead.id, "title": "Prospect Inc",
        "person": input_value(form, "person"), "company": "Prospect Inc", "owner_id": rep.id,
        "stage_id": pipe.open_stages[0].id, "fact_icp_confirmed": "y", "fact_pain": "Quotes take a week"})
    assert response.status_code == 302
    deal = Deal.query.filter_by(title="Prospect Inc").one()
    assert (deal.contact_id, deal.owner_id, deal.company_id) == (lead.id, rep.id, lead.company_id)
    assert deal.facts == {"icp_confirmed": True, "pain": "Quotes take a week"}
    assert "Deal created in Qualified: Prospect Inc." in html(client.get(f"/deals/{deal.id}"))
    contact_page = html(client.get(f"/contacts/{lead.id}"))
    assert f'href="/deals/{deal.id}">Prospect Inc</a>' in contact_page


def test_the_leads_facts_are_only_offered_the_gate_checks_what_is_submitted(client, login_as, org, pipe):
    login_as("rep")
    lead = a_lead(org)
    response = client.post("/deals/new", data={"pipeline_id": pipe.id, "contact_id": lead.id, "title": "Unconfirmed",
                                               "person": "Pat Prospect <pat@prospect.example>, COO"})
    assert response.status_code == 422 and "Needed to start in Qualified." in html(response)
    assert Deal.query.filter_by(title="Unconfirmed").count() == 0


def test_a_rep_creating_from_a_colleagues_lead_owns_the_deal_and_is_told_why(client, login_as, org, pipe):
    other = create_user(org, f"olly.{org.id}@example.com", "Olly Other", "rep", factories.PASSWORD)
    lead = a_lead(org)
    lead.owner_id = other.id
    db.session.commit()
    rep = login_as("rep")
    form = html(client.get("/deals/new", query_string={"pipeline_id": pipe.id, "contact_id": lead.id}))
    assert selected(form, "owner_id") == f"{rep.name} (you)"
    assert "Olly Other owns this lead; only a manager can create a deal for someone else." in form


def test_changing_the_stage_keeps_the_person_and_offers_the_leads_facts_again(client, login_as, org, pipe):
    login_as("manager")
    lead = a_lead(org)
    body = html(client.get("/deals/new", headers=HX, query_string={
        "pipeline_id": pipe.id, "contact_id": lead.id, "stage_id": factories.stage(pipe, "Discovery").id,
        "person": "Pat Prospect <pat@prospect.example>, COO", "title": "Kept"}))
    assert "<html" not in body and input_value(body, "title") == "Kept"
    assert input_value(body, "person") == "Pat Prospect <pat@prospect.example>, COO"
    assert "Quotes take a week</textarea>" in body and "DM meeting scheduled (Discovery entry)" in body


def test_another_organisations_contact_cannot_be_the_person(client, login_as, org, pipe):
    login_as("manager")
    stranger = factories.make_contact(factories.make_org(), email="secret@elsewhere.example", name="Sal Secret")
    assert client.get("/deals/new", query_string={"pipeline_id": pipe.id, "contact_id": stranger.id}).status_code == 404
    response = new_deal(client, pipe, title="Stolen", contact_id=stranger.id, person="Sal Secret", **ENTRY)
    assert response.status_code == 404
    assert Deal.query.filter_by(title="Stolen").count() == 0
    assert Contact.query.filter_by(org_id=org.id).count() == 0


def test_what_the_lead_told_us_matches_first_stage_fields_by_key_or_meaning(org, pipe):
    first = pipe.open_stages[0]
    fields = first.required_fields("entry") + first.required_fields("exit")
    lead = a_lead(org, lead_facts={"ICP fit": "Yes", "pain_points": "Renewals lost", "budget_range": "25k",
                                   "industry": "Logistics"})
    assert prefill_from_lead(lead, fields) == {"icp_confirmed": True, "pain": "Renewals lost",
                                               "budget_range": "25000.00"}
    lead.lead_facts = {"icp_fit": "unknown", "budget_range": "a lot"}  # not a yes, not an amount: not offered
    assert prefill_from_lead(lead, fields) == {}


# --- expected close date on the deal page ----------------------------------------------------

def details(deal, **changes):
    return {"version": deal.version, "title": deal.title, "amount": "1000", "fact_icp_confirmed": "y",
            "fact_pain": deal.facts["pain"], **changes}


def test_the_expected_close_date_is_edited_with_the_deals_details(client, login_as, org, pipe):
    login_as("rep")
    deal = factories.make_deal(org)
    response = client.post(f"/deals/{deal.id}/facts", headers=HX, data=details(deal, expected_close_date="2031-05-01"))
    assert response.status_code == 200 and "Saved." in html(response)
    assert input_value(html(response), "expected_close_date") == "2031-05-01"
    db.session.expire_all()
    deal = db.session.get(Deal, deal.id)
    assert deal.expected_close_date == date(2031, 5, 1)
    response = client.post(f"/deals/{deal.id}/facts", headers=HX, data=details(deal, expected_close_date="2031-05-32"))
    assert "Must be a date (YYYY-MM-DD), e.g. 2026-11-03." in html(response)
    client.post(f"/deals/{deal.id}/facts", headers=HX, data=details(deal, expected_close_date=""))
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).expected_close_date is None


def test_an_expected_close_date_saved_over_someone_elses_edit_is_a_conflict(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    stale = details(deal, expected_close_date="2031-09-09")
    deal.expected_close_date = date(2031, 6, 30)  # someone else saved first
    db.session.commit()
    response = client.post(f"/deals/{deal.id}/facts", data=stale)  # the page's form without JavaScript
    page = html(response)
    assert response.status_code == 409 and "changed by someone else" in page
    assert input_value(page, "expected_close_date") == "2031-06-30"  # their value, to review
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).expected_close_date == date(2031, 6, 30)


# --- the board's marker ----------------------------------------------------------------------

def card_html(client, pipe, deal):
    page = html(client.get(f"/deals/board/{pipe.id}"))
    return page.split(f'id="card-{deal.id}"')[1].split("</article>")[0]


def test_a_passed_close_date_is_marked_on_an_open_deals_card_only(client, login_as, org, pipe):
    login_as("manager")
    today = date.today()
    past, future, won = (factories.make_deal(org, title="Past"), factories.make_deal(org, title="Future"),
                         factories.make_deal(org, "Closed Won", title="Won late"))
    past.expected_close_date = date(today.year, 1, 1) if today > date(today.year, 1, 1) else today - timedelta(days=3)
    future.expected_close_date = today + timedelta(days=30)
    won.expected_close_date = today - timedelta(days=40)
    db.session.commit()
    card = card_html(client, pipe, past)
    day = past.expected_close_date
    label = f"{day.day} {day:%b}" + ("" if day.year == today.year else f" {day.year}")
    assert (f'<span class="badge close-passed">Close date passed: <time datetime="{day.isoformat()}">'
            f"{label}</time></span>") in card
    assert "Close date passed" not in card_html(client, pipe, future)
    assert "Close date passed" not in card_html(client, pipe, won)
