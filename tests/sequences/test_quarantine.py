"""Inbound mail that cannot be handled is quarantined (never a 500, never a stuck inbox); admins retry or drop it.

Every address a message brings is checked the same way on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy.exc import DBAPIError

from app.auth.service import create_user
from app.extensions import db
from app.models import (
    Enrollment,
    InboundEmail,
    Notification,
    QuarantinedEmail,
    StepSend,
    Suppression,
    User,
    utcnow,
)
from app.sequences import service
from app.sequences.sending import sweep_due
from tests import factories
from tests.api.conftest import row_counts
from tests.sequences.conftest import dsn

QUARANTINED = {"matched": False, "kind": "quarantined"}


def post_mail(client, headers, raw):
    return client.post("/api/v1/inbound-email", data=raw, headers={**headers, "Content-Type": "message/rfc822"})


def sent(smtp, sequence, contact, rep):
    smtp()
    enrollment = service.enroll(sequence, contact, rep)
    sweep_due()
    return enrollment, StepSend.query.one().message_id


@pytest.mark.parametrize("recipient, reason", [
    ("x" * 300 + "@prospect.example", "is 317 characters long (at most 254)"),
    ("pat\x00@prospect.example", "holds a NUL or control character"),
    ("pat\x01\x7f@prospect.example", "holds a NUL or control character"),
    ("not an address", "is not an email address"),
    ("pat@@prospect.example", "is not an email address"),
])
def test_a_delivery_report_naming_a_bad_address_is_quarantined_on_both_engines(
        client, smtp, sequence, contact, rep, key_for, recipient, reason):
    enrollment, message_id = sent(smtp, sequence, contact, rep)
    headers = key_for("admin")
    response = post_mail(client, headers, dsn("bad", recipient, message_id))
    assert response.status_code == 202 and response.json == QUARANTINED
    held = QuarantinedEmail.query.one()
    assert held.source == "webhook" and held.status == "held" and held.mailbox_id is None
    assert held.reason.startswith(f"The delivery report's failed recipient {reason}")
    assert held.sender == "MAILER-DAEMON@mx.example" and held.subject == "Undelivered Mail Returned to Sender"
    assert Suppression.query.count() == 0 and InboundEmail.query.count() == 0  # nothing half-written
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "active"


def test_the_same_bad_message_twice_is_held_once(client, smtp, sequence, contact, rep, key_for):
    _, message_id = sent(smtp, sequence, contact, rep)
    raw = dsn("twice", "x" * 300 + "@p.example", message_id)
    headers = key_for("admin")
    assert post_mail(client, headers, raw).json == QUARANTINED
    assert post_mail(client, headers, raw).json == QUARANTINED
    assert QuarantinedEmail.query.one().attempts == 2


def test_a_sender_address_that_is_not_one_is_ignored_and_the_reply_still_matched(
        client, smtp, sequence, contact, rep, key_for):
    enrollment, message_id = sent(smtp, sequence, contact, rep)
    raw = (f"From: {'p' * 300}@prospect.example\r\nSubject: Re: hi\r\nMessage-ID: <long-from@p.example>\r\n"
           f"In-Reply-To: {message_id}\r\n\r\nYes please.\r\n").encode()
    response = post_mail(client, key_for("admin"), raw)
    assert response.json == {"matched": True, "enrollment_id": enrollment.id, "kind": "reply"}
    assert InboundEmail.query.one().from_email == ""


def test_an_address_postgresql_refuses_is_refused_by_sqlite_too(org):
    """SQLite does not enforce VARCHAR(254): the CHECK constraints make it refuse what PostgreSQL refuses."""
    db.session.add(Suppression(org_id=org.id, email="x" * 300 + "@p.example", reason="bounced"))
    with pytest.raises(DBAPIError):
        db.session.flush()
    db.session.rollback()
    db.session.add(InboundEmail(org_id=org.id, message_key="k", kind="unmatched", from_email="y" * 255))
    with pytest.raises(DBAPIError):
        db.session.flush()
    db.session.rollback()
    assert row_counts()["suppression"] == 0


def test_admins_are_told_once_per_burst_not_once_per_message(client, org, smtp, sequence, contact, rep, key_for):
    _, message_id = sent(smtp, sequence, contact, rep)
    create_user(org, "second-admin@agency.example", "Sam Second", "admin", factories.PASSWORD)
    admins = sorted(u.id for u in User.query.filter_by(org_id=org.id, role="admin"))
    headers = key_for("manager")
    for i in range(3):
        assert post_mail(client, headers, dsn(f"burst{i}", f"{'x' * 300}{i}@p.example", message_id)).json == QUARANTINED
    told = Notification.query.filter_by(kind="mail_quarantine").all()
    assert len(admins) >= 2 and sorted(n.user_id for n in told) == admins  # one each, not one per message
    assert told[0].url == "/sequences/quarantine"
    for notification in told:
        notification.read_at = utcnow()
    db.session.commit()
    post_mail(client, headers, dsn("later", "y" * 300 + "@p.example", message_id))
    assert Notification.query.filter_by(kind="mail_quarantine", read_at=None).count() == len(told)  # a new burst


def _held_reply(org, contact, message_id, reason="The database refused what it holds (OperationalError).") -> int:
    """A reply set aside earlier (its handling failed then), to retry now."""
    raw = (f"From: {contact.email}\r\nSubject: Re: Hello\r\nMessage-ID: <held@p.example>\r\n"
           f"In-Reply-To: {message_id}\r\n\r\nCall me Tuesday.\r\n").encode()
    row = QuarantinedEmail(org_id=org.id, source="imap", message_key="held-reply", raw=raw, reason=reason,
                           sender=contact.email, subject="Re: Hello", received_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row.id


def test_admin_sees_quarantined_mail_and_its_count(client, login_as, org, smtp, sequence, contact, rep, key_for):
    _, message_id = sent(smtp, sequence, contact, rep)
    post_mail(client, key_for("admin"), dsn("seen", "x" * 300 + "@p.example", message_id))
    _held_reply(org, contact, message_id)
    login_as("admin")
    settings = client.get("/sequences/settings").get_data(as_text=True)
    assert "2 quarantined messages</a> could not be handled" in settings
    page = client.get("/sequences/quarantine").get_data(as_text=True)
    assert "Undelivered Mail Returned to Sender" in page and "MAILER-DAEMON@mx.example" in page
    assert "failed recipient is 310 characters long (at most 254)" in page
    assert "inbound-email webhook" in page and "Re: Hello" in page and "today" in page


@pytest.mark.parametrize("action, said, status, enrollment_status", [
    ("retry", "Handled the message from {email}: a reply: its sequence stopped.", "handled", "replied"),
    ("drop", "Dropped the message from {email}; it was not handled.", "dropped", "active"),
])
def test_a_retried_or_dropped_message_leaves_the_list_and_its_content_is_deleted(
        client, login_as, org, smtp, sequence, contact, rep, action, said, status, enrollment_status):
    enrollment, message_id = sent(smtp, sequence, contact, rep)
    held_id = _held_reply(org, contact, message_id)
    login_as("admin")
    page = client.post(f"/sequences/quarantine/{held_id}/{action}", follow_redirects=True).get_data(as_text=True)
    assert said.format(email=contact.email) in page and "No quarantined mail" in page
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == enrollment_status
    row = db.session.get(QuarantinedEmail, held_id)
    assert row.status == status and row.raw == b""


def test_retry_of_a_message_still_bad_says_why_and_keeps_it(client, login_as, org, smtp, sequence, contact, rep,
                                                           key_for):
    _, message_id = sent(smtp, sequence, contact, rep)
    post_mail(client, key_for("admin"), dsn("still", "x" * 300 + "@p.example", message_id))
    held = QuarantinedEmail.query.one()
    login_as("admin")
    page = client.post(f"/sequences/quarantine/{held.id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "still could not be handled. The delivery report&#39;s failed recipient is 310 characters" in page
    db.session.expire_all()
    assert (held.status, held.attempts) == ("held", 2)


def test_a_message_over_the_kept_size_is_quarantined_with_its_headers_only(org):
    from app.sequences import quarantine

    raw = b"From: big@x.example\r\nSubject: huge\r\nMessage-ID: <huge@x>\r\n\r\n" + b"A" * (quarantine.KEEP_BYTES + 1)
    quarantine.receive(org.id, [quarantine.Arrival(raw, too_large=True)], source="imap")
    row = QuarantinedEmail.query.one()
    assert row.headers_only and row.raw == b"From: big@x.example\r\nSubject: huge\r\nMessage-ID: <huge@x>\r\n\r\n"
    assert row.reason.startswith("It is larger than 20 MB")
