"""A rep's day (issue 18, items 4, 5 and 7): hot leads first in Today and counted in the header,
a logged touch closes the lead's speed task and the page says so, task rows show the live score."""

import re
from datetime import date, timedelta

from app.extensions import db
from app.leads import scoring
from app.models import Company, Contact, Task, User, utcnow
from app.tasks.service import create_task
from tests import factories
from tests.factories import make_contact

HTMX = {"HX-Request": "true"}


def hot_lead(org, email="dana@acme.example", name="Dana Ortiz"):
    """A lead that turned hot (two meetings booked): routed to a rep, with a hot-lead task due in 5 minutes."""
    contact = make_contact(org, email, name, None)
    scoring.record_event(contact, "meeting_booked")
    scoring.record_event(contact, "meeting_booked")
    contact = db.session.get(Contact, contact.id)
    assert contact.score_level == "hot"
    return contact


def speed_task(contact) -> Task:
    return Task.query.filter_by(contact_id=contact.id, kind="hot_lead").one()


def test_today_puts_hot_leads_above_overdue_work_and_the_header_counts_them(client, org, login_as):
    rep = factories.user(org, "rep")
    overdue = create_task(rep, title="Chase the stale Initech deal", due=date.today())
    overdue.due_at = utcnow() - timedelta(days=3)  # it was due three days ago
    db.session.commit()
    create_task(rep, title="Send the contract to Hooli", due=date.today())
    lead = hot_lead(org)
    assert speed_task(lead).owner_id == rep.id
    login_as(who=rep)
    page = client.get("/tasks/").get_data(as_text=True)
    headings = re.findall(r'<h2 id="group-(\w+)"', page)
    assert headings[:3] == ["speed", "overdue", "today"]
    assert page.index("Hot lead: call Dana Ortiz now") < page.index("Chase the stale Initech deal")
    assert "score" not in speed_task(lead).title.lower()  # the title does not freeze a number that moves
    assert f"Score {lead.lead_score}" in page  # the live score beside the task
    assert f'href="/contacts/{lead.id}"' in page  # the contact's name links to the contact
    assert 'aria-label="1 hot lead waiting for an answer"' in page  # the top bar, on every page
    assert 'aria-label="1 hot lead waiting for an answer"' in client.get("/contacts/").get_data(as_text=True)


def test_a_hot_lead_waiting_is_counted_for_its_owner_only(client, org, login_as):
    rep = factories.user(org, "rep")
    hot_lead(org)
    login_as("manager")
    page = client.get("/tasks/").get_data(as_text=True)
    assert "hot lead waiting" not in page and 'id="group-speed"' not in page
    login_as(who=rep)
    assert "1 hot lead waiting" in client.get("/tasks/").get_data(as_text=True)


def test_logging_a_call_on_the_lead_closes_its_speed_task_and_the_page_says_so_at_once(client, org, login_as):
    rep = factories.user(org, "rep")
    lead = hot_lead(org)
    login_as(who=rep)
    before = client.get(f"/contacts/{lead.id}").get_data(as_text=True)
    assert "not touched yet" in before
    response = client.post(f"/contacts/{lead.id}/activities", headers=HTMX,
                           data={"kind": "call", "body": "Called Dana: budget confirmed"})
    assert response.status_code == 200
    answer = response.get_data(as_text=True)
    # Turning hot also crossed into MQL: its follow-up task is answered by the same call.
    assert "Logged. It answers the lead: 2 speed-to-lead tasks marked done." in answer
    # Swapped out of band, so the page changes without a reload: the first touch, no open task, no count.
    assert 'id="score-panel"' in answer and "first touched" in answer and "not touched yet" not in answer
    assert re.search(r'id="task-panel-contact-\d+"[^>]*hx-swap-oob="true"', answer)
    assert "No open tasks" in answer
    assert re.search(r'<li id="hot-waiting" class="hot-waiting" hidden hx-swap-oob="true">', answer)
    task = speed_task(lead)
    assert task.done_at is not None and f"Done by the call {rep.name} logged." in task.notes


def test_a_note_is_not_a_touch_and_another_leads_task_stays_open(client, org, login_as):
    rep = factories.user(org, "rep")
    lead = hot_lead(org)
    other = hot_lead(org, "sam@globex.example", "Sam Lee")
    login_as(who=rep)
    response = client.post(f"/contacts/{lead.id}/activities", headers=HTMX,
                           data={"kind": "note", "body": "Looked at their site"})
    assert response.status_code == 200 and "speed-to-lead task" not in response.get_data(as_text=True)
    assert speed_task(lead).done_at is None
    # Without htmx the flash says it; only this lead's task closes.
    response = client.post(f"/contacts/{lead.id}/activities", data={"kind": "meeting", "body": "Intro meeting held"})
    assert response.status_code == 303
    assert "2 speed-to-lead tasks marked done" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert speed_task(lead).done_at is not None and speed_task(other).done_at is None


def test_a_touch_closes_the_mql_follow_up_too_but_not_the_reps_other_tasks(client, org, login_as):
    rep = factories.user(org, "rep")
    lead = hot_lead(org)
    mine = create_task(rep, title="Prepare the demo for Dana", due=date.today(), contact_id=lead.id)
    kinds = {t.kind for t in Task.query.filter_by(contact_id=lead.id)}
    assert {"hot_lead", "lead_follow_up"} <= kinds
    login_as(who=rep)
    client.post(f"/contacts/{lead.id}/activities", headers=HTMX, data={"kind": "email", "body": "Sent the deck"})
    db.session.expire_all()
    for task in Task.query.filter_by(contact_id=lead.id):
        assert (task.done_at is not None) == (task.kind in ("hot_lead", "lead_follow_up")), task.title
    assert db.session.get(Task, mine.id).done_at is None
    assert utcnow() - speed_task(lead).done_at < timedelta(minutes=1)


def test_the_follow_up_of_a_lead_a_form_made_an_mql_is_due_when_the_form_says(client, org, make_form, fill):
    """Issue 18 item 6: a form set to 60 minutes made a task due in 24 hours."""
    form = make_form(follow_up_minutes="60")
    before = utcnow()
    fill(form, f_email="ana@lima-dental.example", f_name="Ana")  # 20 points: a plain follow-up
    fill(form, f_email="ana@lima-dental.example", f_name="Ana")  # 40 points: MQL
    ana = Contact.query.filter_by(email="ana@lima-dental.example").one()
    assert ana.score_level == "mql"
    mql = Task.query.filter(Task.contact_id == ana.id, Task.title.like("%(MQL)%")).one()
    assert timedelta(minutes=59) < mql.due_at - before < timedelta(minutes=61), mql.due_at - before
    # A lead that crosses MQL without a form keeps the 24-hour follow-up.
    lee = make_contact(org, "lee@acme.example", "Lee", None)
    scoring.record_event(lee, "meeting_booked", utcnow())
    lee_task = Task.query.filter_by(contact_id=lee.id, kind="lead_follow_up").one()
    assert timedelta(hours=23, minutes=59) < lee_task.due_at - before < timedelta(hours=24, minutes=1)


def test_the_lead_page_uses_the_words_people_use(client, org, login_as):
    lee = make_contact(org, "lee@acme.example", "Lee", None)
    scoring.record_event(lee, "meeting_booked")  # 40 points: MQL
    login_as("manager")
    page = client.get(f"/contacts/{lee.id}").get_data(as_text=True)
    assert "<dd>MQL · score 40" in page and "Mql" not in page


def test_the_lead_page_says_why_the_lead_went_to_its_owner(client, org, login_as, make_form, fill):
    """Issue 18 item 7: the owner of Acme's open deal gets Acme's next lead, and the page says so;
    a lead from nowhere known goes round robin, and the page names the rotation."""
    acme = Company(org_id=org.id, name="Acme", domain="acme.example")
    db.session.add(acme)
    db.session.commit()
    sam = factories.user(org, "rep")
    deal = factories.make_deal(org, owner=sam)
    deal.company_id = acme.id
    db.session.commit()
    reps = User.query.filter_by(org_id=org.id, role="rep", active=True).count()
    form = make_form()
    fill(form, f_email="dana@acme.example", f_name="Dana")  # the form's worker batch routes it
    lee = make_contact(org, "lee@nowhere.example", "Lee", None)
    scoring.record_event(lee, "meeting_booked")  # MQL, routed on the spot

    login_as("manager")
    dana = Contact.query.filter_by(email="dana@acme.example").one()
    page = client.get(f"/contacts/{dana.id}").get_data(as_text=True)
    assert dana.owner_id == sam.id
    assert re.search(rf"<dt>Owner</dt><dd>{re.escape(sam.name)} <small[^>]*>\(owner of Acme&#39;s other open deals\)",
                     page), page
    page = client.get(f"/contacts/{lee.id}").get_data(as_text=True)
    assert f"(round robin among {reps} active rep{'' if reps == 1 else 's'})" in page
