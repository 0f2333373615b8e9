"""Sequences pages: building with live preview, enrolling, marking replied, bulk enrolment, unsubscribe."""

import re
from datetime import timedelta

from app.extensions import db
from app.models import BulkEnrollJob, Contact, Enrollment, Sequence, Suppression, Task, utcnow
from app.sequences import service
from app.sequences.sending import sweep_due, unsubscribe_token
from app.sequences.service import run_bulk_enroll
from tests.factories import make_contact
from tests.sequences.conftest import make_sequence


def builder_form(**extra):
    return {"name": "Intro", "send_days": ["1", "2", "3", "4", "5"], "send_start_hour": "9", "send_end_hour": "17",
            "daily_cap": "40", "spacing_minutes": "5", "type_0": "email", "wait_days_0": "0",
            "subject_0": "Hi {{first_name}}", "body_0": "Hello", "type_1": "call", "wait_days_1": "3",
            "subject_1": "", "body_1": "", **extra}


def test_manager_builds_a_sequence_and_sees_it(client, login_as):
    login_as("manager")
    response = client.post("/sequences/new", data=builder_form())
    assert response.status_code == 302
    sequence = Sequence.query.one()
    assert [s.type for s in sequence.steps] == ["email", "call"] and sequence.send_start_hour == 9
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved “Intro” with 2 steps." in page and "Emails sent" in page


def test_builder_keeps_what_was_typed_and_names_the_broken_field(client, login_as):
    login_as("manager")
    response = client.post("/sequences/new", data=builder_form(subject_0="Hi {{firstname}}"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "{{firstname}} is not a merge field" in page and 'value="Hi {{firstname}}"' in page
    assert Sequence.query.count() == 0


def test_rep_cannot_open_the_builder(client, login_as):
    login_as("rep")
    assert client.get("/sequences/new").status_code == 403


def test_live_preview_renders_a_real_contact_and_flags_broken_fields(client, login_as, org):
    contact = make_contact(org)
    login_as("rep")
    ok = client.post("/sequences/preview", data={"step": "0", "subject_0": "Hi {{first_name}}",
                                                 "body_0": "About {{company}}", "contact_id": contact.id})
    assert ok.status_code == 200 and "Hi Pat" in ok.get_data(as_text=True) and "About Prospect Inc" in ok.get_data(as_text=True)
    broken = client.post("/sequences/preview", data={"step": "0", "subject_0": "Hi {{first_name", "body_0": "x",
                                                     "contact_id": contact.id})
    assert broken.status_code == 422 and "not closed" in broken.get_data(as_text=True)


def test_preview_warns_when_the_contact_lacks_a_merge_value(client, login_as, org):
    contact = make_contact(org, "solo@x.example", "Solo", None)
    login_as("rep")
    page = client.post("/sequences/preview", data={"subject": "About {{company}}", "body": "",
                                                   "contact_id": contact.id}).get_data(as_text=True)
    assert "has no company" in page


def test_rep_enrolls_a_contact_from_its_page(client, login_as, org, sequence):
    contact = make_contact(org)
    rep = login_as("rep")
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Enroll Pat Prospect in" in page
    response = client.post("/sequences/enroll", data={"contact_id": contact.id, "sequence_id": sequence.id},
                           follow_redirects=True)
    assert "Enrolled Pat Prospect &lt;pat@prospect.example&gt; in “Cold outreach”" in response.get_data(as_text=True)
    assert Enrollment.query.one().owner_id == rep.id


def test_enrolling_a_second_person_at_the_same_company_warns_first(client, login_as, org, sequence):
    first = make_contact(org)
    second = make_contact(org, "lee@prospect.example", "Lee Colleague")
    rep = login_as("rep")
    service.enroll(sequence, first, rep)
    response = client.post("/sequences/enroll", data={"contact_id": second.id, "sequence_id": sequence.id})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Pat Prospect at the same company" in page
    assert Enrollment.query.count() == 1
    client.post("/sequences/enroll", data={"contact_id": second.id, "sequence_id": sequence.id, "confirm": "1"})
    assert Enrollment.query.count() == 2


def test_unsubscribed_contact_is_not_offered_enrolment(client, login_as, org, sequence):
    contact = make_contact(org)
    contact.unsubscribed = True
    db.session.commit()
    login_as("rep")
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "is unsubscribed: no more sequence email" in page
    response = client.post("/sequences/enroll", data={"contact_id": contact.id, "sequence_id": sequence.id},
                           follow_redirects=True)
    assert "Not enrolled" in response.get_data(as_text=True) and Enrollment.query.count() == 0


def test_mark_replied_stops_the_sequence_and_adds_a_reply_task(client, login_as, org, sequence):
    contact = make_contact(org)
    rep = login_as("rep")
    enrollment = service.enroll(sequence, contact, rep)
    response = client.post(f"/sequences/enrollments/{enrollment.id}/replied", follow_redirects=True)
    assert "the sequence stopped" in response.get_data(as_text=True)
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    assert Task.query.filter_by(kind="reply", owner_id=rep.id).count() == 1


def test_another_rep_cannot_stop_my_enrollment(client, login_as, org, sequence):
    from app.auth.service import create_user
    from tests import factories

    contact = make_contact(org)
    enrollment = service.enroll(sequence, contact, factories.user(org, "rep"))
    other = create_user(org, "other@rep.example", "Other Rep", "rep", factories.PASSWORD)
    login_as(who=other)
    response = client.post(f"/sequences/enrollments/{enrollment.id}/stop", follow_redirects=True)
    assert "Only the sender, the enrolling rep or a manager" in response.get_data(as_text=True)
    assert db.session.get(Enrollment, enrollment.id).status == "active"


def test_bulk_enrolment_runs_as_a_job_and_lists_who_was_skipped(client, login_as, org, sequence):
    for i in range(5):
        make_contact(org, f"lead{i}@acme.example", f"Lead {i}", None)
    gone = Contact.query.filter_by(email="lead3@acme.example").one()
    gone.unsubscribed = True
    db.session.commit()
    login_as("rep")
    page = client.get("/sequences/bulk?q=acme.example").get_data(as_text=True)
    assert "<strong>5</strong> contacts match" in page
    response = client.post("/sequences/bulk", data={"q": "acme.example", "sequence_id": sequence.id})
    assert response.status_code == 302
    job = BulkEnrollJob.query.one()
    progress = client.get(response.headers["Location"], headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger=\"every 1s\"" in progress
    run_bulk_enroll(job.id)  # what the worker does (the embedded queue may already have run it)
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Done: 4 enrolled, 1 skipped" in done and "lead3@acme.example — unsubscribed" in done
    assert Enrollment.query.count() == 4


def test_one_click_unsubscribe_needs_no_login_and_ends_every_enrollment(client, org, manager, rep):
    contact = make_contact(org)
    first = make_sequence(org, manager)
    second = make_sequence(org, manager, name="Second")
    service.enroll(first, contact, rep)
    service.enroll(second, contact, rep)
    token = unsubscribe_token(org.id, contact.email)
    confirm = client.get(f"/u/{token}")
    assert confirm.status_code == 200 and "Stop all sales emails to" in confirm.get_data(as_text=True)
    assert Enrollment.query.filter_by(status="active").count() == 2  # a GET changes nothing
    response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert {e.status for e in Enrollment.query.all()} == {"unsubscribed"}
    assert Suppression.query.filter_by(email=contact.email, reason="unsubscribed").count() == 1
    assert db.session.get(Contact, contact.id).unsubscribed is True


def test_forged_unsubscribe_token_is_a_404(client):
    assert client.post("/u/not-a-real-token").status_code == 404
    assert client.get("/u/" + "x" * 3000).status_code == 404


def test_sequences_page_says_where_mail_goes_without_smtp(client, login_as, app):
    app.config["SMTP_URL"] = ""
    login_as("rep")
    page = client.get("/sequences/").get_data(as_text=True)
    assert "No relay is set up: messages are kept in the outbox file store of this installation" in page
    assert app.instance_path not in page and ".eml" not in page  # never a server path


def test_unknown_sends_are_listed_for_the_owner_to_decide(client, login_as, org, sequence, smtp):
    contact = make_contact(org, "flaky@x.example", "Flaky", None)
    smtp(drop_data_for=[contact.email])
    rep = login_as("rep")
    enrollment = service.enroll(sequence, contact, rep)
    sweep_due()
    page = client.get("/sequences/").get_data(as_text=True)
    assert "Emails that may not have gone out" in page and "flaky@x.example" in page
    client.post(f"/sequences/enrollments/{enrollment.id}/resume")
    db.session.expire_all()
    enrollment = db.session.get(Enrollment, enrollment.id)
    assert enrollment.status == "active" and enrollment.position == 2  # counted as sent, not resent


def test_stats_show_reply_rate_beside_the_article_bands(client, login_as, org, sequence, smtp):
    smtp()
    rep = login_as("rep")
    contacts = [make_contact(org, f"r{i}@x.example", f"R{i}", None) for i in range(10)]
    for c in contacts:
        service.enroll(sequence, c, rep)
    sweep_due()
    from app.sequences.replies import mark_replied

    mark_replied(Enrollment.query.filter_by(contact_id=contacts[0].id).one(), rep, utcnow() + timedelta(hours=1))
    stats = service.sequence_stats(sequence)
    assert (stats["sent"], stats["replied"], stats["reply_rate"], stats["band"]) == (10, 1, 0.1, "top")
    assert stats["steps"][0]["replied"] == 1
    page = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert "10.0 % replied" in page and "top-performer band" in page
    assert re.search(r"Reply rate</dt><dd>10.0 %", page)


def test_admin_adds_an_imap_inbox_and_the_password_is_never_shown(client, login_as):
    from app.models import Mailbox

    login_as("admin")
    # The host must resolve now (the host guard checks it at save); the suite allows loopback.
    response = client.post("/sequences/settings", data={"form": "mailbox", "host": "localhost", "port": "993",
                                                        "security": "ssl", "username": "rae@example.com",
                                                        "password": "hunter2-secret", "folder": "INBOX"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Inbox saved" in page and "rae@example.com @ localhost:993" in page
    assert "hunter2-secret" not in page and "hunter2-secret" not in Mailbox.query.one().password_encrypted
    bad = client.post("/sequences/settings", data={"form": "mailbox", "host": "", "port": "99999", "username": "",
                                                   "password": ""})
    assert bad.status_code == 422 and "IMAP server is required" in bad.get_data(as_text=True)
    assert Mailbox.query.count() == 1


def test_postal_address_goes_in_the_preview_footer(client, login_as, org):
    contact = make_contact(org)
    login_as("admin")
    client.post("/sequences/settings", data={"form": "address", "postal_address": "9 Harbour Rd, Leith"})
    page = client.post("/sequences/preview", data={"subject": "Hi", "body": "Hello", "contact_id": contact.id})
    assert "9 Harbour Rd, Leith" in page.get_data(as_text=True)


def test_rep_enrolls_a_deals_contact_from_the_deal_page(client, login_as, org, sequence):
    from tests import factories

    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, owner=rep)
    contact = make_contact(org)
    deal.contact_id = contact.id
    db.session.commit()
    login_as("rep")
    assert "Enroll Pat Prospect in" in client.get(f"/deals/{deal.id}").get_data(as_text=True)
    client.post("/sequences/enroll", data={"contact_id": contact.id, "sequence_id": sequence.id, "deal_id": deal.id})
    assert Enrollment.query.one().deal_id == deal.id


def test_unsubscribe_endpoint_is_rate_limited(client, app, org):
    app.config["UNSUBSCRIBE_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [client.post("/u/forged-token").status_code for _ in range(5)]
    finally:
        app.config.pop("UNSUBSCRIBE_RATE_LIMIT")
    assert codes[:3] == [404, 404, 404] and codes[-1] == 429


def test_bulk_job_whose_wake_up_was_lost_is_finished_by_the_sweep(org, sequence, rep):
    for i in range(3):
        make_contact(org, f"lost{i}@acme.example", f"Lost {i}", None)
    ids = [c.id for c in Contact.query.filter(Contact.email.like("lost%")).all()]
    job = service.start_bulk_enroll(sequence, rep, ids)
    assert sweep_due()["resumed"] == 0 and BulkEnrollJob.query.one().status == "queued"  # not stale yet
    result = sweep_due(utcnow() + timedelta(minutes=5))
    assert result["bulk_jobs"] == 1
    db.session.expire_all()
    assert db.session.get(BulkEnrollJob, job.id).status == "done" and Enrollment.query.count() == 3
