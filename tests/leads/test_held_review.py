"""Held form submissions over HTTP: counted on the Leads page and the form's page, listed with their values and
why they were held; Accept makes the lead like any other submission (arriving now), Discard deletes."""

from datetime import timedelta

from app.extensions import db
from app.models import Contact, Notification, Task, utcnow
from app.models.leads import LeadCrossing, LeadSubmission
from tests import factories
from tests.conftest import drain_queue


def hold(client, form, email, **fields):
    """An old embed snippet's post: no page token, so it is held."""
    response = client.post(f"/f/{form.key}", data={"f_email": email, "f_name": "Held Person", **fields},
                           headers={"Origin": "https://www.agency.example"})
    assert response.status_code == 200
    return LeadSubmission.query.order_by(LeadSubmission.id.desc()).first()


def test_held_posts_are_counted_listed_and_accepted_into_a_lead_whose_clock_starts_now(client, org, make_form,
                                                                                     login_as):
    form = make_form(allowed_origins="https://www.agency.example")
    submission = hold(client, form, "real@buyer.example", f_company="Buyer & Co", f_message="Please call <today>")
    db.session.execute(db.update(LeadSubmission).where(LeadSubmission.id == submission.id)
                       .values(created_at=utcnow() - timedelta(days=2)))  # held over a weekend
    db.session.commit()
    drain_queue()
    login_as("manager")
    leads = client.get("/leads/").get_data(as_text=True)
    assert "1 form submission held for review" in leads
    page = client.get("/leads/held").get_data(as_text=True)
    for text in ("real@buyer.example", "Buyer &amp; Co", "Please call &lt;today&gt;", "https://www.agency.example",
                 "posted from https://www.agency.example without the form&#39;s page token"):
        assert text in page
    login_as("admin")
    builder = client.get(f"/leads/forms/{form.id}").get_data(as_text=True)
    assert "1 submission of this form held for review" in builder
    assert "1 held for review" in client.get("/leads/forms").get_data(as_text=True)

    manager = login_as("manager")
    response = client.post(f"/leads/held/{submission.id}/accept")
    assert response.status_code == 303
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Accepted the submission from real@buyer.example: it becomes a lead in a moment." in after
    assert "0 held" in after
    drain_queue()
    contact = Contact.query.filter_by(org_id=org.id, email="real@buyer.example").one()
    assert contact.company.name == "Buyer & Co" and contact.lead_score == 20
    task = Task.query.filter_by(contact_id=contact.id).one()
    assert task.kind == "lead_follow_up" and Notification.query.filter_by(kind="lead_form").count() == 1
    arrival = LeadCrossing.query.filter_by(contact_id=contact.id, kind="arrival").one()
    assert abs((arrival.at - utcnow()).total_seconds()) < 60  # the clock starts at acceptance, not 2 days ago
    stored = db.session.get(LeadSubmission, submission.id)
    assert (stored.status, stored.reviewed_by_id) == ("received", manager.id) and stored.processed_at
    second = client.post(f"/leads/held/{submission.id}/accept")
    assert "was already accepted" in client.get(second.headers["Location"]).get_data(as_text=True)
    drain_queue()
    assert Task.query.count() == 1


def test_discard_deletes_one_and_discard_all_keeps_what_arrived_since(client, org, make_form, login_as):
    form = make_form(allowed_origins="https://www.agency.example")
    spam = [hold(client, form, f"bot{i}@spam.example") for i in range(3)]
    login_as("manager")
    response = client.post(f"/leads/held/{spam[0].id}/discard")
    assert "Discarded the submission from bot0@spam.example." in client.get(response.headers["Location"]).get_data(
        as_text=True)
    page = client.get(f"/leads/held?form_id={form.id}").get_data(as_text=True)
    assert "2 held" in page and f'name="up_to" value="{spam[2].id}"' in page
    late = hold(client, form, "late@buyer.example")
    response = client.post("/leads/held/discard", data={"up_to": str(spam[2].id), "form_id": str(form.id)})
    assert "Discarded 2 held submissions." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert [s.id for s in LeadSubmission.query] == [late.id]
    drain_queue()
    assert Contact.query.count() == 0


def test_reps_do_not_review_and_another_organisations_held_post_is_not_found(client, org, make_form, login_as):
    form = make_form(allowed_origins="https://www.agency.example")
    submission = hold(client, form, "x@buyer.example")
    login_as("rep")
    assert "held for review" not in client.get("/leads/").get_data(as_text=True)
    assert client.get("/leads/held").status_code == 403
    assert client.post(f"/leads/held/{submission.id}/accept").status_code == 403
    other = factories.make_org(name="Other Org")
    login_as("manager", who=factories.user(other, "manager"))
    assert client.post(f"/leads/held/{submission.id}/accept").status_code == 404
    assert client.post(f"/leads/held/{submission.id}/discard").status_code == 404
    client.post("/leads/held/discard", data={"up_to": str(submission.id)})
    assert db.session.get(LeadSubmission, submission.id).status == "held"
