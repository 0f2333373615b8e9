"""People on a deal with their roles, and the deal/contact activity timeline."""

import html
from datetime import timedelta

from app.contacts.service import save_contact, timeline
from app.deals.service import move_deal
from app.extensions import db
from app.models import Activity, Contact, DealContact, utcnow
from tests import factories
from tests.values import sample_value

HX = {"HX-Request": "true"}


def test_link_contact_by_email_with_role_creates_the_contact_and_shows_the_role(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    response = client.post(f"/contacts/deal/{deal.id}/link", data={"contact": "Dana@Buyer.example.com",
                                                                   "role": "economic_buyer"}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="deal-contacts"') and "dana@buyer.example.com" in html
    assert "Economic buyer" in html
    contact = Contact.query.filter_by(org_id=org.id, email="dana@buyer.example.com").one()
    assert DealContact.query.filter_by(deal_id=deal.id, contact_id=contact.id, role="economic_buyer").count() == 1
    # Linking again changes nothing; by id works too, with a second role.
    client.post(f"/contacts/deal/{deal.id}/link", data={"contact": "dana@buyer.example.com", "role": "economic_buyer"})
    client.post(f"/contacts/deal/{deal.id}/link", data={"contact": str(contact.id), "role": "champion"})
    assert sorted(dc.role for dc in DealContact.query.filter_by(deal_id=deal.id, contact_id=contact.id)) == [
        "champion", "economic_buyer"]
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert deal.title in page and "Economic buyer" in page and "Champion" in page


def test_link_with_a_bad_role_or_address_explains_and_links_nothing(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    before = DealContact.query.count()
    response = client.post(f"/contacts/deal/{deal.id}/link", data={"contact": "nobody", "role": "boss"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not a valid choice" in html
    response = client.post(f"/contacts/deal/{deal.id}/link", data={"contact": "not-an-email", "role": "champion"})
    assert response.status_code == 422
    assert "must be an email address or a contact from the list" in response.get_data(as_text=True)
    assert DealContact.query.count() == before


def test_contact_with_role_fact_is_a_real_contact_that_cannot_be_unlinked_while_named(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep, facts={"decision_maker": "pat.buyer@example.com"})
    dm = Contact.query.filter_by(org_id=org.id, email="pat.buyer@example.com").one()
    page = client.get(f"/contacts/{dm.id}").get_data(as_text=True)
    assert "Decision maker" in page and deal.title in page
    response = client.post(f"/contacts/deal/{deal.id}/unlink/{dm.id}")
    assert response.status_code == 422
    assert "pat.buyer@example.com is the deal's “Decision maker identified”; change that fact first." in \
        html.unescape(response.get_data(as_text=True))
    assert DealContact.query.filter_by(deal_id=deal.id, contact_id=dm.id).count() == 1


def test_unlink_removes_every_role_of_that_contact(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    client.post(f"/contacts/deal/{deal.id}/link", data={"contact": "u@example.com", "role": "user"})
    contact = Contact.query.filter_by(email="u@example.com").one()
    response = client.post(f"/contacts/deal/{deal.id}/unlink/{contact.id}", headers=HX)
    assert response.status_code == 200 and "u@example.com" not in response.get_data(as_text=True)
    assert DealContact.query.filter_by(deal_id=deal.id).count() == 0


def test_rep_cannot_change_people_on_a_colleagues_deal(client, org, login_as):
    deal = factories.make_deal(org, owner=factories.user(org, "manager"))
    login_as("rep")
    response = client.post(f"/contacts/deal/{deal.id}/link", data={"contact": "x@example.com", "role": "user"})
    assert response.status_code == 403
    assert "Only the deal's owner or a manager" in html.unescape(response.get_data(as_text=True))
    assert Contact.query.filter_by(email="x@example.com").count() == 0


def test_deal_endpoints_of_another_organisation_are_not_found(client, org, login_as):
    other = factories.make_org()
    theirs = factories.make_deal(other)
    mine = save_contact(factories.user(org), {"email": "me@example.com"})
    login_as("admin")
    assert client.post(f"/contacts/deal/{theirs.id}/link", data={"contact": "a@example.com",
                                                                 "role": "user"}).status_code == 404
    assert client.post(f"/contacts/deal/{theirs.id}/unlink/{mine.id}").status_code == 404
    assert client.post(f"/contacts/deal/{theirs.id}/activities", data={"kind": "note", "body": "x"}).status_code == 404


def test_timeline_merges_notes_and_stage_changes_newest_first(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    response = client.post(f"/contacts/deal/{deal.id}/activities", data={"kind": "call", "body": "Called Pat"},
                           headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="timeline"') and "Called Pat" in html and "Created in Qualified" in html
    pipeline = factories.pipeline(org)
    discovery = factories.stage(pipeline, "Discovery")
    needed = {f.key: sample_value(f) for f in factories.stage(pipeline, "Qualified").required_fields("exit")}
    needed.update({f.key: sample_value(f) for f in discovery.required_fields("entry")})
    move_deal(deal, discovery, rep, facts=needed)
    client.post(f"/contacts/deal/{deal.id}/activities", data={"kind": "meeting", "body": "Met the DM"})
    entries = timeline(deal=deal)
    assert [(e.kind, e.label) for e in entries] == [
        ("meeting", "Meeting"), ("stage", "Qualified → Discovery"), ("call", "Call"), ("stage", "Created in Qualified")]
    assert Activity.query.filter_by(deal_id=deal.id).count() == 2  # stage changes are not copied into Activity
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)


def test_contact_timeline_shows_their_notes_and_their_deals_stage_changes(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep, facts={"decision_maker": "pat.buyer@example.com"})
    contact = Contact.query.filter_by(email="pat.buyer@example.com").one()
    old = Activity(org_id=org.id, contact_id=contact.id, user_id=rep.id, kind="email", body="Intro email",
                   at=utcnow() - timedelta(days=3))
    db.session.add(old)
    db.session.commit()
    response = client.post(f"/contacts/{contact.id}/activities", data={"kind": "note", "body": "Prefers mornings"},
                           headers=HX)
    html = response.get_data(as_text=True)
    assert html.index("Prefers mornings") < html.index("Created in Qualified") < html.index("Intro email")
    assert deal.title in html


def test_logging_an_empty_note_says_what_is_missing_and_logs_nothing(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    response = client.post(f"/contacts/deal/{deal.id}/activities", data={"kind": "note", "body": "  "}, headers=HX)
    assert response.status_code == 422 and "Say what happened." in response.get_data(as_text=True)
    response = client.post(f"/contacts/deal/{deal.id}/activities", data={"kind": "reply", "body": "x"}, headers=HX)
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    assert Activity.query.count() == 0


def test_deal_page_partials_render_with_only_the_deal_in_context(app, org):
    from flask import render_template

    deal = factories.make_deal(org, facts={"decision_maker": "pat.buyer@example.com"})
    with app.test_request_context():
        from flask_login import login_user

        login_user(factories.user(org, "admin"))
        contacts_html = render_template("contacts/_deal_contacts.html", deal=deal)
        timeline_html = render_template("contacts/_timeline.html", deal=deal)
    assert "pat.buyer@example.com" in contacts_html and "Decision maker" in contacts_html
    assert f"/contacts/deal/{deal.id}/link" in contacts_html
    assert "Created in Qualified" in timeline_html and f"/contacts/deal/{deal.id}/activities" in timeline_html


def test_an_email_sent_outside_stagegate_can_be_logged_by_hand_on_the_timeline(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert '<option value="email">Email</option>' in page
    response = client.post(f"/contacts/deal/{deal.id}/activities", headers=HX,
                           data={"kind": "email", "body": "Sent the proposal PDF to Pat"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Sent the proposal PDF to Pat" in html and "Email" in html
