"""The public lead form over HTTP: a submission becomes a scored, routed lead; spam and bad input store nothing."""

from app.extensions import db
from app.models import Activity, Contact, Deal, Notification, Task
from app.models.leads import LeadCrossing, LeadFormView, LeadSubmission
from tests import factories
from tests.conftest import drain_queue
from tests.leads.conftest import token_of


def test_a_submission_creates_a_scored_routed_lead_with_a_follow_up(client, org, make_form, fill, login_as):
    form = make_form()
    response = fill(form, query="?utm_source=newsletter&utm_campaign=spring", f_email="Ana@Example.org",
                    f_name="Ana Lima", f_company="Lima Dental", f_message="Call me after 3pm")
    assert response.status_code == 200
    assert "Thank you" in response.get_data(as_text=True)
    contact = Contact.query.filter_by(org_id=org.id, email="ana@example.org").one()
    assert (contact.name, contact.company.name, contact.lead_score) == ("Ana Lima", "Lima Dental", 20)
    assert contact.utm == {"source": "newsletter", "campaign": "spring"}
    assert contact.source_form_id == form.id
    rep = factories.user(org, "rep")
    assert contact.owner_id == rep.id
    task = Task.query.filter_by(contact_id=contact.id).one()
    assert (task.kind, task.owner_id, task.notes) == ("lead_follow_up", rep.id, "Call me after 3pm")
    assert Activity.query.filter_by(contact_id=contact.id, kind="form_fill").count() == 1
    assert LeadCrossing.query.filter_by(contact_id=contact.id, kind="arrival").one().clock_at is not None
    login_as("rep")
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Speed to lead: not touched yet" in page and "+20 form fill" in page
    client.post(f"/contacts/{contact.id}/activities", data={"kind": "call", "body": "Called Ana"})
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "first touched 0 min after it arrived" in page


def test_the_same_person_again_updates_one_contact(client, org, make_form, fill):
    form = make_form()
    fill(form, f_email="ana@example.org", f_name="Ana")
    fill(form, f_email="ANA@example.org", f_name="Ana Lima")
    assert Contact.query.filter_by(org_id=org.id).count() == 1
    assert Contact.query.one().lead_score == 40 and Contact.query.one().score_level == "mql"


def test_a_replayed_submission_is_stored_once(client, org, make_form):
    form = make_form()
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    data = {"_t": token, "f_email": "bo@example.org", "f_name": "Bo"}
    for _ in range(3):
        assert client.post(f"/f/{form.key}", data=data).status_code == 200
    drain_queue()
    assert LeadSubmission.query.count() == 1
    assert Contact.query.one().lead_score == 20


def test_a_bot_filling_the_honeypot_sees_thanks_and_its_post_is_held_never_processed(client, org, make_form, fill):
    form = make_form()
    response = fill(form, f_email="bot@spam.example", f_name="Bot", website="http://spam.example")
    assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)
    held = LeadSubmission.query.one()
    assert held.status == "held" and "hidden anti-spam field" in held.held_reason
    assert Contact.query.count() == 0 and Task.query.count() == 0 and held.processed_at is None


def test_a_submission_faster_than_the_minimum_time_is_asked_again(app, client, org, make_form, fill):
    form = make_form()
    app.config["LEAD_FORM_MIN_SECONDS"] = 3
    try:
        response = fill(form, f_email="fast@example.org", f_name="Fast")
    finally:
        app.config["LEAD_FORM_MIN_SECONDS"] = 0
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "That was quick! Check your details and send again" in html and 'value="fast@example.org"' in html
    assert Contact.query.count() == 0 and LeadSubmission.query.count() == 0


def test_a_post_without_the_page_token_is_held_and_the_sender_sees_thanks(client, org, make_form):
    form = make_form()
    response = client.post(f"/f/{form.key}", data={"f_email": "x@example.org", "f_name": "X"})
    assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)
    drain_queue()
    held = LeadSubmission.query.one()
    assert (held.status, held.held_reason) == ("held", "It came without the form's page token.")
    assert held.payload["lead"]["email"] == "x@example.org"
    assert Contact.query.count() == 0 and Task.query.count() == 0 and Notification.query.count() == 0


def test_the_request_stores_the_submission_and_the_worker_makes_the_lead_once(client, org, make_form):
    from app.leads.intake import process_pending, process_submission

    form = make_form()
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    client.post(f"/f/{form.key}", data={"_t": token, "f_email": "q@example.org", "f_name": "Q"})
    submission = LeadSubmission.query.one()
    assert submission.processed_at is None and Contact.query.count() == 0  # answered before the work
    from app.queue import get_queue

    get_queue().empty()  # Redis lost the wake-up: the sweep still finds the row
    from datetime import timedelta

    from app.models import utcnow

    assert process_pending(utcnow() + timedelta(minutes=2)) == 1
    assert process_submission(submission.id) is False  # a rerun does nothing
    assert Contact.query.count() == 1 and Task.query.count() == 1
    assert Activity.query.filter_by(kind="form_fill").count() == 1


def test_bad_input_is_named_and_nothing_is_written(client, org, make_form, fill):
    form = make_form()
    response = fill(form, f_email="not-an-email", f_name="x" * 501, f_company="\x00")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "must be an email address" in html and "at most 500 characters" in html
    assert Contact.query.count() == 0 and Activity.query.count() == 0 and Task.query.count() == 0


def test_broken_encoding_and_lone_surrogates_store_nothing_and_answer_calmly(client, org, make_form):
    form = make_form()
    token = token_of(client.get(f"/f/{form.key}").get_data(as_text=True))
    body = f"_t={token}&f_email=ok@example.org&f_name=".encode() + b"\xed\xa0\x80\xff"  # not UTF-8
    response = client.post(f"/f/{form.key}", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 422)
    assert "send again" in response.get_data(as_text=True) or "not text" in response.get_data(as_text=True)
    assert Contact.query.count() == 0


def test_missing_required_field_is_named(client, org, make_form, fill):
    response = fill(make_form(), f_email="ok@example.org")
    assert response.status_code == 422
    assert "Your name is required" in response.get_data(as_text=True)


def test_unknown_or_switched_off_form_is_not_found(client, org, make_form):
    form = make_form(active=False)
    assert client.get("/f/nope").status_code == 404
    assert client.post("/f/nope", data={"f_email": "a@b.example"}).status_code == 404
    assert client.get(f"/f/{form.key}").status_code == 404
    assert client.get("/f/" + "x" * 5000).status_code == 404


def test_a_flood_from_one_address_gets_429_with_retry_after(client, org, make_form):
    form = make_form()
    codes = [client.post(f"/f/{form.key}", data={"f_email": f"f{i}@example.org"}).status_code for i in range(25)]
    assert codes.count(429) >= 5
    response = client.post(f"/f/{form.key}", data={"f_email": "again@example.org"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


def test_views_count_once_per_address_per_day_whatever_the_browser(client, org, make_form):
    form = make_form()
    for i in range(100):
        client.get(f"/f/{form.key}", headers={"User-Agent": f"Browser/{i}"})
    client.get(f"/f/{form.key}/v.gif", headers={"User-Agent": "Pixel"})
    assert LeadFormView.query.filter_by(form_id=form.id).count() == 1
    client.get(f"/f/{form.key}", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert LeadFormView.query.filter_by(form_id=form.id).count() == 2


def test_embed_posts_without_proofs_from_an_allowed_site_are_held_and_others_refused(client, org, make_form):
    form = make_form(allowed_origins="https://www.agency.example")
    data = {"f_email": "emb@example.org", "f_name": "Em"}
    refused = client.post(f"/f/{form.key}", data=data, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "cannot be sent from here" in refused.get_data(as_text=True)
    assert LeadSubmission.query.count() == 0
    ok = client.post(f"/f/{form.key}", data=data, headers={"Origin": "https://www.agency.example"})
    drain_queue()
    assert ok.status_code == 200 and "Thank you" in ok.get_data(as_text=True)
    held = LeadSubmission.query.one()
    assert held.status == "held" and held.referrer == "https://www.agency.example"
    assert "posted from https://www.agency.example without the form's page token" in held.held_reason
    assert Contact.query.count() == 0 and Task.query.count() == 0 and Notification.query.count() == 0


def test_high_intent_form_makes_a_hot_lead_task_due_within_minutes(client, org, make_form, fill):
    form = make_form(high_intent="1", name="Book a demo")
    fill(form, f_email="buyer@example.org", f_name="Buyer")
    contact = Contact.query.one()
    tasks = Task.query.filter_by(contact_id=contact.id).all()
    assert [t.kind for t in tasks] == ["hot_lead"]
    assert (tasks[0].due_at - contact.created_at).total_seconds() <= 5 * 60 + 5
    clocks = LeadCrossing.query.filter(LeadCrossing.clock_at.is_not(None)).count()
    assert clocks == 1  # one speed-to-lead clock, not one per crossing


def test_redirect_after_submission(client, org, make_form, fill):
    form = make_form(redirect_url="https://www.agency.example/thanks")
    page = client.get(f"/f/{form.key}")
    assert "form-action 'self' https://www.agency.example;" in page.headers["Content-Security-Policy"]
    response = fill(form, f_email="r@example.org", f_name="R")
    assert response.status_code == 303 and response.headers["Location"] == "https://www.agency.example/thanks"


def test_form_with_a_deal_creates_it_in_the_chosen_stage_through_the_gate(client, org, make_form, fill):
    pipeline = factories.pipeline(org)
    first = pipeline.open_stages[0]
    needs = [f"fact:{f.key}" for f in first.required_fields("entry")]
    rows = [{"maps_to": "email", "label": "Email", "required": True},
            {"maps_to": "company", "label": "Company", "required": True}]
    rows += [{"maps_to": key, "label": key, "required": True} for key in needs]
    form = make_form(rows=rows, pipeline_id=str(pipeline.id), stage_id=str(first.id))
    from tests.values import sample_value

    facts = {f"f_fact_{f.key}": "yes" if f.type == "checkbox" else str(sample_value(f))
             for f in first.required_fields("entry")}
    response = fill(form, f_email="deal@example.org", f_company="Dealco", **facts)
    assert response.status_code == 200, response.get_data(as_text=True)
    deal = Deal.query.one()
    contact = Contact.query.one()
    assert (deal.stage_id, deal.contact_id, deal.owner_id) == (first.id, contact.id, contact.owner_id)
    assert LeadSubmission.query.one().deal_id == deal.id
    db.session.remove()
