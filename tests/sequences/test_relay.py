"""What the relay answers decides what a send is: a real aiosmtpd answering every way real relays do."""

from datetime import timedelta

import pytest

from app.auth.service import create_user
from app.extensions import db
from app.models import (
    Activity,
    Enrollment,
    Notification,
    SenderPause,
    StepSend,
    Suppression,
    utcnow,
)
from app.sequences import service
from tests import factories
from tests.factories import make_contact
from tests.sequences.conftest import make_sequence
from tests.sequences.test_sending import sweep


def _one_send():
    return StepSend.query.one()


def test_spam_refusal_after_the_message_is_a_bounce_of_the_step_not_a_send(smtp, sequence, contact, rep):
    inbox = smtp(data={"*": "554 5.7.1 rejected as spam"})
    service.enroll(sequence, contact, rep)
    assert sweep()["bounced"] == 1
    send = _one_send()
    assert send.status == "bounced" and send.relay_reply == "554 5.7.1 rejected as spam" and send.sent_at is None
    assert inbox.messages == []
    assert Activity.query.filter_by(kind="email").count() == 0  # nothing was delivered: no email on the timeline
    enrollment = Enrollment.query.one()
    assert enrollment.status == "bounced" and enrollment.first_sent_at is None
    assert Suppression.query.count() == 0  # the message was refused, not the address
    [note] = Notification.query.filter_by(user_id=rep.id, kind="sequence").all()
    assert "554 5.7.1 rejected as spam" in note.text


def test_greylisting_at_rcpt_is_retried_after_five_minutes_then_sent_once(smtp, sequence, contact, rep):
    greylisted = "450 4.2.0 <pat@prospect.example>: Recipient address rejected: Greylisted, try again later"
    inbox = smtp(rcpt={contact.email: [greylisted, "250 OK"]})
    service.enroll(sequence, contact, rep)
    start = utcnow()
    assert sweep(start)["retrying"] == 1
    send = _one_send()
    assert send.status == "retrying" and send.attempts == 1 and send.relay_reply == greylisted
    assert timedelta(minutes=4) < send.next_attempt_at - start <= timedelta(minutes=5, seconds=1)
    enrollment = Enrollment.query.one()
    assert enrollment.status == "active" and enrollment.next_due_at == send.next_attempt_at
    assert Activity.query.filter_by(kind="email").count() == 0
    assert sweep(start + timedelta(minutes=4)).get("sent", 0) == 0
    assert sweep(start + timedelta(minutes=6))["sent"] == 1
    send = _one_send()
    assert send.status == "sent" and send.attempts == 2 and send.relay_reply.startswith("250 2.0.0 Ok")
    assert len(inbox.to(contact.email)) == 1 and inbox.messages[0][2]["Message-ID"] == send.message_id
    assert Enrollment.query.one().position == 2


def test_a_reply_while_a_step_waits_for_its_retry_means_it_is_never_sent(smtp, sequence, contact, rep):
    from app.sequences.replies import record_reply

    inbox = smtp(data={"*": ["451 4.7.1 Try again later", "250 OK"]})
    enrollment = service.enroll(sequence, contact, rep)
    assert sweep()["retrying"] == 1
    record_reply(db.session.get(Enrollment, enrollment.id), utcnow(), subject="Re: Hello")
    db.session.commit()
    sweep(utcnow() + timedelta(hours=3))
    send = _one_send()
    assert send.status == "skipped" and "replied" in send.error and inbox.messages == []


def test_temporary_refusals_after_the_message_back_off_then_fail_and_tell_the_owner(client, login_as, smtp, sequence,
                                                                                     contact):
    inbox = smtp(data={"*": "451 4.3.0 Temporary local problem, please try later"})
    rep = login_as("rep")
    service.enroll(sequence, contact, rep)
    at = utcnow()
    waits = []
    for _ in range(3):
        assert sweep(at)["retrying"] == 1
        send = _one_send()
        waits.append(send.next_attempt_at - at)
        at = send.next_attempt_at + timedelta(seconds=1)
    assert [round(w.total_seconds() / 60) for w in waits] == [5, 30, 120]
    assert sweep(at)["failed"] == 1
    send = _one_send()
    assert send.status == "failed" and send.attempts == 4 and inbox.messages == []
    enrollment = Enrollment.query.one()
    assert enrollment.status == "paused" and enrollment.pause_reason == "email failed"
    assert Notification.query.filter_by(user_id=rep.id, kind="sequence").count() == 1
    assert Suppression.query.count() == 0
    assert sweep(at + timedelta(days=1)).get("sent", 0) == 0 and _one_send().attempts == 4  # nothing on its own
    page = client.get("/sequences/").get_data(as_text=True)
    assert "kept refusing" in page and contact.email in page and "451 4.3.0" in page
    inbox.script["DATA"] = {}  # their server is well again; the owner tries once more
    client.post(f"/sequences/enrollments/{enrollment.id}/resume")
    assert sweep()["sent"] == 1 and len(inbox.to(contact.email)) == 1


def _six_enrollments(org, manager, rep):
    """Five addresses, one of them in a second sequence: six enrollments of one sender."""
    first, second = make_sequence(org, manager), make_sequence(org, manager, name="Second")
    contacts = [make_contact(org, f"p{i}@prospect.example", f"P{i}", None) for i in range(5)]
    for c in contacts:
        service.enroll(first, c, rep)
    service.enroll(second, contacts[0], rep)
    return contacts


def test_relay_refusing_the_sender_suppresses_no_one_and_pauses_that_sender_once(client, login_as, smtp, org,
                                                                                  manager):
    rep = factories.user(org, "rep")
    refusal = f"550 5.7.1 <{rep.email}>: Sender address rejected: Access denied"
    inbox = smtp(mail_from={rep.email: refusal})
    _six_enrollments(org, manager, rep)
    other_rep = create_user(org, "other@rep.example", "Other Rep", "rep", factories.PASSWORD)
    bystander = make_contact(org, "by@stander.example", "By Stander", None)
    service.enroll(make_sequence(org, manager, name="Third"), bystander, other_rep)
    admin = factories.user(org, "admin")

    result = sweep()
    assert result.get("bounced", 0) == 0 and result["held"] == 6 and result["sent"] == 1
    assert Suppression.query.count() == 0
    assert {e.status for e in Enrollment.query.filter_by(owner_id=rep.id)} == {"active"}
    assert all(e.next_due_at <= utcnow() for e in Enrollment.query.filter_by(owner_id=rep.id))  # still due
    assert StepSend.query.filter_by(sender_id=rep.id).count() == 0
    assert [a for a in inbox.attempts if a == ("MAIL", rep.email)] == [("MAIL", rep.email)]  # tried once
    assert len(inbox.to(bystander.email)) == 1  # another sender's mail still goes
    pause = SenderPause.query.one()
    assert pause.user_id == rep.id and pause.retry_at is None and refusal in pause.reason
    for person in (rep, admin):
        assert Notification.query.filter_by(user_id=person.id, kind="sequence").count() == 1

    assert sweep(utcnow() + timedelta(hours=3)).get("held", 0) == 0  # held without touching anything
    assert len([a for a in inbox.attempts if a[0] == "MAIL"]) == 2
    assert Notification.query.filter_by(user_id=rep.id, kind="sequence").count() == 1

    login_as(who=other_rep)  # sees nothing of another sender's pause and cannot lift it
    assert "Sending is paused" not in client.get("/sequences/").get_data(as_text=True)
    client.post(f"/sequences/pauses/{pause.id}/resume")
    db.session.expire_all()
    assert db.session.get(SenderPause, pause.id).cleared_at is None
    login_as(who=rep)
    page = client.get("/sequences/").get_data(as_text=True)
    assert "Sending is paused" in page and "Sender address rejected" in page and "Resume sending" in page
    inbox.script["MAIL"] = {}  # the relay's sender rules were fixed
    done = client.post(f"/sequences/pauses/{pause.id}/resume", follow_redirects=True).get_data(as_text=True)
    assert "Sending resumed" in done and "Sending is paused" not in done
    assert sweep()["sent"] == 6
    assert len(inbox.messages) == 7 and Suppression.query.count() == 0


def test_postfix_sender_rejection_at_rcpt_blames_the_sender_not_the_recipient(smtp, org, manager, rep):
    inbox = smtp(rcpt={"*": f"554 5.7.1 <{rep.email}>: Sender address rejected: Access denied"})
    contacts = _six_enrollments(org, manager, rep)
    assert sweep()["held"] == 6
    assert Suppression.query.count() == 0 and StepSend.query.count() == 0
    assert SenderPause.query.one().user_id == rep.id
    assert inbox.messages == [] and len(contacts) == 5


@pytest.mark.parametrize("stage, reply, step, suppressed, pause", [
    ("RCPT", "550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table", "bounced", True, None),
    ("RCPT", "550 No such user here", "bounced", True, None),
    ("RCPT", "552 5.2.2 Mailbox full", "bounced", False, None),
    ("RCPT", "450 4.2.0 Greylisted", "retrying", False, None),
    ("RCPT", "554 5.7.1 <x>: Relay access denied", None, False, "everyone"),
    ("RCPT", "553 5.1.8 <rep>: Sender address rejected: Domain not found", None, False, "sender"),
    ("DATA", "552 5.3.4 Message size exceeds fixed limit", "bounced", False, None),
    ("DATA", "451 4.7.1 Try again later", "retrying", False, None),
    ("DATA", "421 4.4.2 Service shutting down, closing channel", None, False, "everyone"),
    ("MAIL", "451 4.3.0 Temporary lookup failure", None, False, "sender"),
    ("MAIL", "530 5.7.0 Authentication required", None, False, "everyone"),
])
def test_each_relay_answer_is_kept_as_what_it_means(smtp, sequence, contact, rep, stage, reply, step, suppressed,
                                                    pause):
    smtp(**{{"RCPT": "rcpt", "DATA": "data", "MAIL": "mail_from"}[stage]: {"*": reply}})
    service.enroll(sequence, contact, rep)
    sweep()
    send = StepSend.query.first()
    assert (send.status if send else None) == step
    if send is not None:
        assert send.relay_reply == reply
    assert (Suppression.query.count() == 1) is suppressed
    row = SenderPause.query.first()
    assert (row and ("sender" if row.user_id else "everyone")) == pause
    if pause:
        assert Enrollment.query.one().status == "active" and reply in row.reason


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_relay_password_pauses_everyone_until_an_admin_resumes(app, client, login_as, smtp, sequence, contact,
                                                                     rep):
    inbox = smtp(password="right-password")
    app.config["SMTP_URL"] = inbox.url.replace("smtp://", "smtp://relay:wrong-password@")
    service.enroll(sequence, contact, rep)
    assert sweep()["held"] == 1
    pause = SenderPause.query.one()
    assert pause.user_id is None and pause.kind == "auth" and pause.retry_at is None and "535" in pause.reason
    assert Suppression.query.count() == 0 and StepSend.query.count() == 0
    assert sweep(utcnow() + timedelta(days=1)).get("held", 0) == 0  # a wrong password is not retried by itself
    login_as(who=rep)
    page = client.get("/sequences/").get_data(as_text=True)
    assert "All email of your organisation" in page and "Resume sending" not in page  # admins resume this one
    app.config["SMTP_URL"] = inbox.url.replace("smtp://", "smtp://relay:right-password@")
    login_as("admin")
    client.post(f"/sequences/pauses/{pause.id}/resume")
    assert sweep()["sent"] == 1 and len(inbox.messages) == 1


def test_relay_down_holds_sending_then_resumes_by_itself_when_it_answers(app, smtp, sequence, contact, rep):
    from tests.conftest import free_port

    port = free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"  # nothing listens yet
    service.enroll(sequence, contact, rep)
    start = utcnow()
    assert sweep(start)["held"] == 1
    pause = SenderPause.query.one()
    assert pause.kind == "connection" and pause.user_id is None
    assert timedelta(minutes=9) < pause.retry_at - start <= timedelta(minutes=10, seconds=1)
    inbox = smtp(port=port)  # the relay is back
    assert sweep(start + timedelta(minutes=5)).get("sent", 0) == 0  # not before its retry time
    assert sweep(start + timedelta(minutes=11))["sent"] == 1 and len(inbox.messages) == 1
    cleared = db.session.get(SenderPause, pause.id)
    assert cleared.cleared_at is not None and cleared.cleared_by_id is None and cleared.open_key is None


def test_relay_that_stops_answering_is_a_pause_not_a_bounce(smtp, org, manager, rep, monkeypatch):
    from app.sequences import mailer

    monkeypatch.setattr(mailer, "TIMEOUT", 1)
    inbox = smtp(mail_from={"*": "stall"}, stall=3)
    contacts = _six_enrollments(org, manager, rep)
    assert sweep()["held"] == 6
    pause = SenderPause.query.one()
    assert pause.kind == "timeout" and pause.retry_at is not None
    assert Suppression.query.count() == 0 and StepSend.query.count() == 0
    assert len([a for a in inbox.attempts if a[0] == "MAIL"]) == 1 and len(contacts) == 5


def test_relay_that_stops_answering_after_a_message_leaves_it_unknown_and_holds_the_rest(smtp, org, manager, rep,
                                                                                          monkeypatch):
    from app.sequences import mailer

    monkeypatch.setattr(mailer, "TIMEOUT", 1)
    smtp(data={"*": "stall"}, stall=3)
    _six_enrollments(org, manager, rep)
    result = sweep()
    assert result["unknown"] == 1 and result["held"] == 5
    assert StepSend.query.one().status == "unknown"
    assert SenderPause.query.one().kind == "timeout" and Suppression.query.count() == 0


def test_a_closed_idle_connection_is_reopened_not_counted_as_a_failure(smtp, org, manager, rep):
    inbox = smtp(mail_from={"*": ["250 OK", "drop", "250 OK"]})
    _six_enrollments(org, manager, rep)
    assert sweep()["sent"] == 6
    assert SenderPause.query.count() == 0 and len(inbox.sessions) == 2


def test_a_batch_goes_over_one_connection(smtp, org, manager, rep):
    from app.sequences.sending import BATCH

    inbox = smtp()
    seq = make_sequence(org, manager)
    for i in range(BATCH + 5):
        service.enroll(seq, make_contact(org, f"b{i}@batch.example", f"B{i}", None), rep, commit=False)
    db.session.commit()
    assert sweep()["sent"] == BATCH + 5
    assert len(inbox.sessions) == 1
