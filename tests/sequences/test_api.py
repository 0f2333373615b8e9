"""The sequences API: create, enroll, read; inbound mail with bad input answered clearly, never a 500."""

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Enrollment, InboundEmail, StepSend, Suppression, utcnow
from app.sequences import service
from app.sequences.sending import sweep_due
from tests.api.conftest import row_counts
from tests.factories import make_contact
from tests.sequences.conftest import dsn

STEPS = [{"type": "email", "wait_days": 0, "subject": "Hi {{first_name}}", "body": "Hello from {{owner_name}}"},
         {"type": "linkedin", "wait_days": 2}]


def post_mail(client, headers, raw, content_type="message/rfc822"):
    return client.post("/api/v1/inbound-email", data=raw, headers={**headers, "Content-Type": content_type})


def test_manager_key_creates_a_sequence_with_its_steps(client, key_for):
    response = client.post("/api/v1/sequences", json={"name": "Q4 outbound", "steps": STEPS}, headers=key_for("manager"))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "Q4 outbound" and [s["type"] for s in body["steps"]] == ["email", "linkedin"]
    assert body["daily_cap"] == 40


def test_what_the_document_allows_is_kept_as_sent_and_a_nul_is_named(client, key_for):
    """A pasted body may hold U+FFFD and a JSON client may send 3.0 days: both are what the document allows."""
    steps = [{"type": "email", "wait_days": 0, "subject": "Re: caf\ufffd", "body": "Prices \ufffd attached"},
             {"type": "call", "wait_days": 3.0}]
    response = client.post("/api/v1/sequences", json={"name": "Pasted \ufffd", "steps": steps},
                           headers=key_for("manager"))
    assert response.status_code == 201, response.json
    assert response.json["name"] == "Pasted \ufffd" and response.json["steps"][1]["wait_days"] == 3
    assert response.json["steps"][0]["body"] == "Prices \ufffd attached"
    steps[0]["body"] = "Prices\x00"
    refused = client.post("/api/v1/sequences", json={"name": "NUL", "steps": steps}, headers=key_for("manager"))
    assert refused.status_code == 422, refused.json
    assert set(refused.json["fields"]) == {"steps[0].body"}, refused.json


def test_rep_key_cannot_build_sequences(client, key_for):
    response = client.post("/api/v1/sequences", json={"name": "Mine", "steps": STEPS}, headers=key_for("rep"))
    assert response.status_code == 403 and response.json["error"] == "forbidden"


@pytest.mark.parametrize("subject, problem", [
    ("Hi {{frist_name}}", "{{frist_name}} is not a merge field"),
    ("Hi {{first_name}", "not closed"),
    ("Hi {first_name}", "double braces"),
])
def test_broken_merge_field_is_a_422_naming_the_step_and_field(client, key_for, subject, problem):
    headers = key_for("manager")
    before = row_counts()
    steps = [{"type": "email", "wait_days": 0, "subject": subject, "body": "ok"}]
    response = client.post("/api/v1/sequences", json={"name": "Broken", "steps": steps}, headers=headers)
    assert response.status_code == 422
    assert problem in response.json["fields"]["steps[0].subject"]
    assert row_counts() == before


@pytest.mark.parametrize("body", [
    {"name": "x", "steps": []}, {"name": "", "steps": STEPS}, {"name": "x", "steps": [{"type": "fax"}]},
    {"name": "x", "steps": [{"type": "email", "wait_days": -1, "subject": "a", "body": "b"}]},
    {"name": "x", "steps": [{"type": "email", "wait_days": 2**40, "subject": "a", "body": "b"}]},
    {"name": "\ud800", "steps": STEPS}, {"name": "x" * 500, "steps": STEPS}, {"name": "x", "steps": "email"},
    {"name": "x", "steps": [None]}, {"name": "x", "steps": STEPS, "daily_cap": 0},
    {"name": "x", "steps": STEPS, "send_days": "89"}, {"name": "x", "steps": STEPS, "colour": "red"},
    {"name": "x", "steps": [{"type": "email", "subject": "a\nBcc: all@x", "body": "b"}]},
])
def test_bad_sequence_input_is_a_422_and_writes_nothing(client, key_for, body):
    headers = key_for("manager")
    before = row_counts()
    response = client.post("/api/v1/sequences", json=body, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["error"] == "invalid" and response.json["fields"]
    assert row_counts() == before


def test_enroll_by_email_then_read_the_enrollment(client, org, sequence, contact, key_for):
    headers = key_for("rep")
    response = client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json={"contact_email": contact.email.upper()},
                           headers=headers)
    assert response.status_code == 201, response.json
    enrollment_id = response.json["id"]
    body = client.get(f"/api/v1/enrollments/{enrollment_id}", headers=headers).json
    assert body["status"] == "active" and [s["status"] for s in body["steps"]] == ["pending"] * 3
    assert body["steps"][0]["due_at"] is not None
    again = client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json={"contact_email": contact.email},
                        headers=headers)
    assert again.status_code == 409 and again.json["error"] == "already_enrolled"


def test_enrolling_an_unsubscribed_or_bounced_contact_is_a_422(client, org, sequence, key_for):
    gone = make_contact(org, "gone@prospect.example", "Gone", None)
    db.session.add(Suppression(org_id=org.id, email=gone.email, reason="bounced"))
    db.session.commit()
    response = client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json={"contact_email": gone.email},
                           headers=key_for("rep"))
    assert response.status_code == 422 and "bounced" in response.json["fields"]["contact_email"]


def test_unknown_contact_is_422_and_other_tenants_ids_are_404(client, org, sequence, key_for):
    from tests import factories

    other = factories.make_org(name="Elsewhere")
    headers = key_for("admin", in_org=other)
    assert client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json={"contact_email": "a@b.example"},
                       headers=headers).status_code == 404
    mine = key_for("admin")
    response = client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json={"contact_email": "nobody@b.example"},
                           headers=mine)
    assert response.status_code == 422 and response.json["fields"] == {
        "contact_email": "is not a contact of this organisation"}
    assert client.get(f"/api/v1/enrollments/{2**31 + 5}", headers=mine).status_code == 404
    assert client.get(f"/api/v1/sequences/{2**63 + 1}", headers=mine).status_code == 404


@pytest.mark.parametrize("body", [None, [], "x", {"contact_email": None}, {"contact_email": 5},
                                  {"contact_email": "not an email"}, {"contact_email": "\ud800@x.example"},
                                  {"contact_email": "a@b.example", "extra": 1}])
def test_bad_enrollment_body_is_400_or_422(client, sequence, key_for, body):
    headers = key_for("rep")
    before = row_counts()
    response = client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json=body, headers=headers)
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:200]
    assert row_counts() == before


def _sent(sequence, contact, rep, smtp):
    smtp()
    enrollment = service.enroll(sequence, contact, rep)
    sweep_due()
    return db.session.get(Enrollment, enrollment.id), StepSend.query.filter_by(enrollment_id=enrollment.id).one()


def test_reply_matched_by_sender_when_headers_are_missing(client, smtp, sequence, contact, rep, key_for):
    enrollment, _ = _sent(sequence, contact, rep, smtp)
    raw = f"From: {contact.email.upper()}\r\nSubject: hello\r\nMessage-ID: <r2@p.example>\r\n\r\nCall me".encode()
    response = post_mail(client, key_for("admin"), raw)
    assert response.json == {"matched": True, "enrollment_id": enrollment.id, "kind": "reply"}


def test_same_inbound_message_twice_acts_once(client, smtp, sequence, contact, rep, key_for):
    _sent(sequence, contact, rep, smtp)
    raw = f"From: {contact.email}\r\nSubject: hi\r\nMessage-ID: <dup@p.example>\r\n\r\nYes".encode()
    headers = key_for("admin")
    assert post_mail(client, headers, raw).json["kind"] == "reply"
    assert post_mail(client, headers, raw).json["kind"] == "reply"
    assert InboundEmail.query.count() == 1
    from app.models import Task

    assert Task.query.filter_by(kind="reply").count() == 1


@pytest.mark.parametrize("headers", ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: bulk",
                                     "X-Autorespond: on"])
def test_auto_reply_is_not_a_reply_and_pauses_for_seven_days(client, smtp, sequence, contact, rep, key_for, headers):
    enrollment, send = _sent(sequence, contact, rep, smtp)
    raw = (f"From: {contact.email}\r\n{headers}\r\nSubject: Out of office\r\nIn-Reply-To: {send.message_id}\r\n"
           f"Message-ID: <ooo@p.example>\r\n\r\nI am away.").encode()
    response = post_mail(client, key_for("admin"), raw)
    assert response.json["kind"] == "auto_reply"
    db.session.expire_all()
    enrollment = db.session.get(Enrollment, enrollment.id)
    assert enrollment.status == "paused" and enrollment.replied_at is None
    assert timedelta(days=6, hours=23) < enrollment.paused_until - utcnow() <= timedelta(days=7)


def test_out_of_office_pauses_until_the_return_date_it_gives_then_resumes(client, smtp, sequence, contact, rep, key_for):
    enrollment, send = _sent(sequence, contact, rep, smtp)
    back = (utcnow() + timedelta(days=12)).date()
    raw = (f"From: {contact.email}\r\nAuto-Submitted: auto-replied\r\nSubject: Away\r\nIn-Reply-To: {send.message_id}\r\n"
           f"Message-ID: <ooo2@p.example>\r\n\r\nI am back on {back.strftime('%B')} {back.day}.").encode()
    post_mail(client, key_for("admin"), raw)
    db.session.expire_all()
    enrollment = db.session.get(Enrollment, enrollment.id)
    assert enrollment.status == "paused" and enrollment.paused_until.date() == back
    sweep_due(utcnow() + timedelta(days=12, hours=1))
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "active"


def test_delivery_status_report_is_a_bounce_that_ends_and_suppresses(client, smtp, sequence, contact, rep, key_for):
    enrollment, send = _sent(sequence, contact, rep, smtp)
    raw = dsn("bounce-1", contact.email, send.message_id)
    response = post_mail(client, key_for("admin"), raw)
    assert response.json == {"matched": True, "enrollment_id": enrollment.id, "kind": "bounce"}
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "bounced"
    assert Suppression.query.filter_by(email=contact.email, reason="bounced").count() == 1


def test_unmatched_mail_is_accepted_and_changes_nothing(client, key_for):
    raw = b"From: stranger@else.example\r\nSubject: hi\r\nMessage-ID: <u@x>\r\n\r\nhello"
    response = post_mail(client, key_for("admin"), raw)
    assert response.status_code == 202 and response.json == {"matched": False, "kind": "unmatched"}


def test_inbound_message_of_25_mb_is_refused_with_413_and_nothing_written(client, key_for):
    headers = key_for("admin")
    before = row_counts()
    raw = b"From: big@x.example\r\nSubject: big\r\n\r\n" + b"A" * (25 * 1024 * 1024)
    response = post_mail(client, headers, raw)
    assert response.status_code == 413 and response.json["error"] == "too_large"
    assert row_counts() == before


@pytest.mark.parametrize("raw", [b"", b"   ", b"\x00\x01\x02 not mail at all", b"{\"json\": true}", b"\xff\xfe\xfa" * 100])
def test_malformed_inbound_mail_is_a_422(client, key_for, raw):
    headers = key_for("admin")
    before = row_counts()
    response = post_mail(client, headers, raw)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.json["error"] == "invalid"
    assert row_counts() == before


def test_non_utf8_body_and_broken_headers_are_read_without_a_500(client, smtp, sequence, contact, rep, key_for):
    enrollment, send = _sent(sequence, contact, rep, smtp)
    raw = (f"From: =?bogus-charset?Q?P=E9t?= <{contact.email}>\r\nSubject: =?utf-8?B?!!!notbase64?=\r\n"
           f"In-Reply-To: {send.message_id}\r\nMessage-ID: <latin@p.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + \
        "Grüße, ja gerne".encode("latin-1") + b"\xff\xfe"
    response = post_mail(client, key_for("admin"), raw)
    assert response.status_code == 202, response.get_data(as_text=True)[:300]
    assert response.json["kind"] == "reply" and response.json["enrollment_id"] == enrollment.id


def test_rep_key_cannot_post_inbound_mail(client, key_for):
    response = post_mail(client, key_for("rep"), b"From: a@b.example\r\n\r\nhi")
    assert response.status_code == 403


def test_openapi_documents_the_sequences_operations_with_their_errors(client):
    doc = client.get("/api/v1/openapi.json").json
    inbound = doc["paths"]["/inbound-email"]["post"]["responses"]
    assert {"202", "401", "403", "413", "422", "429"} <= set(inbound)
    enroll = doc["paths"]["/sequences/{sequence_id}/enrollments"]["post"]["responses"]
    assert {"201", "400", "404", "409", "422"} <= set(enroll)


def test_email_reply_event_ends_active_enrollments_and_scores_once(client, org, sequence, contact, rep, key_for):
    enrollment = service.enroll(sequence, contact, rep)
    response = client.post("/api/v1/events", json={"contact_email": contact.email, "type": "email_reply"},
                           headers=key_for("admin"))
    assert response.status_code == 202, response.json
    assert response.json["score"] == 25  # the default email_reply points, counted once
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    from app.models import Task

    assert Task.query.filter_by(kind="reply").count() == 1


def test_inbound_reply_gives_the_contact_its_email_reply_points(client, smtp, sequence, contact, rep, key_for):
    _sent(sequence, contact, rep, smtp)
    raw = f"From: {contact.email}\r\nSubject: yes\r\nMessage-ID: <pts@p.example>\r\n\r\nYes".encode()
    post_mail(client, key_for("admin"), raw)
    body = client.get(f"/api/v1/contacts/{contact.id}", headers=key_for("admin")).json
    assert body["engagement"] == 25 and any(b["rule"] for b in body["breakdown"])


def test_reply_task_is_listed_by_the_tasks_api(client, org, sequence, contact, rep, key_for):
    enrollment = service.enroll(sequence, contact, rep)
    from app.sequences.replies import mark_replied

    mark_replied(enrollment, rep)
    body = client.get(f"/api/v1/tasks?kind=reply&contact_id={contact.id}", headers=key_for("admin")).json
    assert [(t["kind"], t["owner_email"]) for t in body["items"]] == [("reply", rep.email)]


def test_sequence_read_includes_stats(client, sequence, key_for):
    body = client.get(f"/api/v1/sequences/{sequence.id}", headers=key_for("rep")).json
    assert body["stats"]["enrolled"] == 0 and body["stats"]["reply_rate"] is None
    assert len(client.get("/api/v1/sequences", headers=key_for("rep")).json["items"]) == 1


def test_another_organisations_message_id_does_not_match_my_enrollment(client, smtp, sequence, contact, rep, key_for):
    from tests import factories

    _, send = _sent(sequence, contact, rep, smtp)
    other = factories.make_org(name="Other agency")
    raw = (f"From: someone@else.example\r\nSubject: Re\r\nIn-Reply-To: {send.message_id}\r\n"
           "Message-ID: <cross@else.example>\r\n\r\nhi").encode()
    response = post_mail(client, key_for("admin", in_org=other), raw)
    assert response.json == {"matched": False, "kind": "unmatched"}
    db.session.expire_all()
    assert Enrollment.query.one().status == "active"


def test_mailto_unsubscribe_suppresses_the_address(client, app, smtp, sequence, contact, rep, key_for):
    from app.sequences.sending import unsubscribe_mailbox, unsubscribe_token

    _sent(sequence, contact, rep, smtp)
    with app.test_request_context():
        to, token = unsubscribe_mailbox(), unsubscribe_token(contact.org_id, contact.email)
    raw = f"From: {contact.email}\r\nTo: {to}\r\nSubject: unsubscribe {token}\r\nMessage-ID: <uns@p>\r\n\r\n".encode()
    assert post_mail(client, key_for("admin"), raw).json["kind"] == "unsubscribe"
    db.session.expire_all()
    assert Enrollment.query.one().status == "unsubscribed"
    assert Suppression.query.filter_by(email=contact.email, reason="unsubscribed").count() == 1


def test_smtp_url_schemes_are_read_with_their_defaults():
    from app.sequences.mailer import parse_smtp_url

    assert parse_smtp_url("smtp://mail.local:2525").port == 2525
    tls = parse_smtp_url("smtp+starttls://rae%40x.example:p%2Fss@smtp.x.example")
    assert (tls.security, tls.port, tls.username, tls.password) == ("starttls", 587, "rae@x.example", "p/ss")
    assert parse_smtp_url("smtps://u:p@smtp.x.example").port == 465
    with pytest.raises(ValueError):
        parse_smtp_url("http://smtp.x.example")


def test_raw_8bit_bytes_in_headers_are_stored_without_a_500(client, smtp, sequence, contact, rep, key_for):
    enrollment, send = _sent(sequence, contact, rep, smtp)
    raw = (b"From: P\xe9t \xff <" + contact.email.encode() + b">\r\nSubject: R\xe9ponse \xff\xfe\x00 ok\r\n"
           b"In-Reply-To: " + send.message_id.encode() + b"\r\nMessage-ID: <8bit@p.example>\r\n\r\n\xff\xfe body\x00")
    response = post_mail(client, key_for("admin"), raw)
    assert response.status_code == 202, response.get_data(as_text=True)[:300]
    assert response.json["kind"] == "reply"
    assert "ok" in InboundEmail.query.one().subject
