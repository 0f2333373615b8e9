"""Sending over real SMTP (aiosmtpd on loopback): at most once, replies stop the next step."""

from datetime import timedelta

from app.extensions import db
from app.models import Activity, Enrollment, Notification, StepSend, Suppression, Task, utcnow
from app.sequences import service
from app.sequences.sending import sweep_due
from tests.factories import make_contact
from tests.sequences.conftest import make_sequence


def sweep(now=None):
    result = sweep_due(now)
    db.session.expire_all()
    return result


def test_enrolled_contact_gets_the_first_email_from_the_rep_with_merge_fields_filled(smtp, sequence, contact, rep):
    inbox = smtp()
    service.enroll(sequence, contact, rep)
    assert sweep()["sent"] == 1
    [message] = inbox.to(contact.email)
    assert message["Subject"] == "Hello Pat"
    assert rep.email in message["From"]
    assert "Hi Pat at Prospect Inc." in message.get_body().get_content()
    send = StepSend.query.one()
    assert send.status == "sent" and send.message_id == message["Message-ID"]
    assert Activity.query.filter_by(kind="email", contact_id=contact.id).count() == 1


def test_message_carries_one_click_unsubscribe_and_the_postal_address(smtp, app, org, sequence, contact, rep):
    inbox = smtp()
    service.save_postal_address(service_admin(org), "1 Market St, Springfield")
    service.enroll(sequence, contact, rep)
    sweep()
    [message] = inbox.to(contact.email)
    header = message["List-Unsubscribe"]
    assert f"<{app.config['BASE_URL']}/u/" in header and "<mailto:unsubscribe@" in header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "1 Market St, Springfield" in message.get_body().get_content()


def service_admin(org):
    from tests import factories

    return factories.user(org, "admin")


def test_a_second_sweep_never_sends_the_same_step_again(smtp, sequence, contact, rep):
    inbox = smtp()
    service.enroll(sequence, contact, rep)
    sweep()
    Enrollment.query.update({"next_due_at": utcnow() - timedelta(minutes=1), "position": 1})
    db.session.commit()  # as if a bug or a restore pointed it back at step 1
    sweep()
    assert len(inbox.to(contact.email)) == 1
    assert StepSend.query.count() == 1


def test_follow_up_waits_its_days_then_threads_under_the_first(smtp, sequence, contact, rep):
    inbox = smtp()
    service.enroll(sequence, contact, rep)
    sweep()
    assert sweep(utcnow() + timedelta(days=2)).get("sent", 0) == 0
    assert sweep(utcnow() + timedelta(days=3, minutes=1))["sent"] == 1
    first, second = inbox.to(contact.email)
    assert second["Subject"] == "Following up"
    assert second["In-Reply-To"] == first["Message-ID"]


def test_call_step_becomes_a_task_on_the_reps_list_when_due(smtp, sequence, contact, rep):
    smtp()
    service.enroll(sequence, contact, rep)
    sweep()
    sweep(utcnow() + timedelta(days=3, minutes=1))
    assert Task.query.filter_by(kind="call").count() == 0
    sweep(utcnow() + timedelta(days=5, minutes=2))
    task = Task.query.filter_by(kind="call").one()
    assert task.owner_id == rep.id and task.contact_id == contact.id and "Call Pat Prospect" in task.title
    assert Enrollment.query.one().status == "finished"


def test_reply_between_steps_stops_the_next_step(smtp, client, org, sequence, contact, rep, key_for):
    inbox = smtp()
    service.enroll(sequence, contact, rep)
    sweep()
    sent_id = StepSend.query.one().message_id
    raw = (f"From: Pat <{contact.email}>\r\nTo: {rep.email}\r\nSubject: Re: Hello Pat\r\n"
           f"Message-ID: <reply-1@prospect.example>\r\nIn-Reply-To: {sent_id}\r\n\r\nYes, let's talk.\r\n").encode()
    response = client.post("/api/v1/inbound-email", data=raw, headers={**key_for("admin"),
                                                                       "Content-Type": "message/rfc822"})
    assert response.status_code == 202 and response.json["kind"] == "reply" and response.json["matched"]
    sweep(utcnow() + timedelta(days=30))
    assert len(inbox.to(contact.email)) == 1
    enrollment = Enrollment.query.one()
    assert enrollment.status == "replied" and enrollment.replied_at is not None
    assert Task.query.filter_by(kind="reply", owner_id=rep.id).count() == 1
    assert Activity.query.filter_by(kind="reply", contact_id=contact.id).count() == 1
    assert Notification.query.filter_by(user_id=rep.id, kind="reply").count() == 1


def test_reply_that_lands_after_the_sweep_picked_the_row_still_stops_the_step(smtp, sequence, contact, rep):
    """The sweep selects due ids first; the claim re-checks the enrollment in its own transaction."""
    from app.sequences import sending
    from app.sequences.replies import record_reply

    inbox = smtp()
    enrollment = service.enroll(sequence, contact, rep)
    original = sending._claim

    def reply_first(ids, now, run, outcomes):
        for enrollment_id in ids:
            record_reply(db.session.get(Enrollment, enrollment_id), now, subject="Re: hi")
        db.session.commit()
        return original(ids, now, run, outcomes)

    sending._claim = reply_first
    try:
        result = sweep()
    finally:
        sending._claim = original
    assert result.get("sent", 0) == 0 and inbox.to(contact.email) == []
    assert db.session.get(Enrollment, enrollment.id).status == "replied"


def test_refused_recipient_is_a_bounce_that_suppresses_the_address(smtp, sequence, rep, org):
    gone = make_contact(org, "gone@prospect.example", "Gone Person", None)
    inbox = smtp(refuse=[gone.email])
    service.enroll(sequence, gone, rep)
    assert sweep()["bounced"] == 1
    assert inbox.messages == []
    assert Enrollment.query.one().status == "bounced"
    assert Suppression.query.filter_by(email=gone.email, reason="bounced").count() == 1
    send = StepSend.query.one()
    assert send.status == "bounced" and send.relay_reply == "550 5.1.1 No such user here"


def test_connection_dropped_mid_data_is_unknown_shown_to_the_owner_and_never_resent(smtp, sequence, rep, org):
    flaky = make_contact(org, "flaky@prospect.example", "Flaky", None)
    other = make_contact(org, "fine@prospect.example", "Fine", None)
    smtp(drop_data_for=[flaky.email])
    service.enroll(sequence, flaky, rep)
    service.enroll(sequence, other, rep)
    result = sweep()
    assert result["unknown"] == 1 and result["sent"] == 1  # the next message went out on a new connection
    send = StepSend.query.filter_by(to_email=flaky.email).one()
    assert send.status == "unknown"
    assert Enrollment.query.filter_by(contact_id=flaky.id).one().status == "paused"
    assert Notification.query.filter_by(user_id=rep.id, kind="sequence").count() == 1
    sweep(utcnow() + timedelta(days=30))
    assert StepSend.query.filter_by(to_email=flaky.email).count() == 1  # never resent on its own
    assert service.unknown_sends(org.id, rep.id) == [StepSend.query.filter_by(to_email=flaky.email).one()]


def test_no_smtp_server_listening_leaves_nothing_claimed_and_holds_sending(app, sequence, contact, rep):
    from tests.conftest import free_port

    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    try:
        service.enroll(sequence, contact, rep)
        assert sweep()["held"] == 1
    finally:
        app.config["SMTP_URL"] = ""
    assert StepSend.query.count() == 0 and Suppression.query.count() == 0
    enrollment = Enrollment.query.one()
    assert enrollment.status == "active" and enrollment.next_due_at <= utcnow()  # still due, held by the pause


def test_crashed_claim_becomes_unknown_on_the_next_sweep(smtp, sequence, contact, rep):
    inbox = smtp()
    enrollment = service.enroll(sequence, contact, rep)
    step = sequence.steps[0]
    db.session.add(StepSend(org_id=enrollment.org_id, enrollment_id=enrollment.id, step_id=step.id, position=1,
                            sender_id=rep.id, status="sending", message_id="<crash@x>", to_email=contact.email,
                            claimed_at=utcnow() - timedelta(minutes=30)))
    db.session.commit()
    result = sweep()
    assert result["unknown"] == 1 and inbox.messages == []
    assert StepSend.query.one().status == "unknown"
    assert Enrollment.query.one().status == "paused"


def test_send_window_is_kept_in_the_organisations_time_zone(smtp, org, manager, contact, rep):
    from datetime import datetime

    org.timezone = "America/New_York"
    db.session.commit()
    seq = make_sequence(org, manager, send_days="12345", send_start_hour=9, send_end_hour=17)
    saturday_noon_utc = datetime(2026, 11, 28, 12, 0)
    enrollment = service.enroll(seq, contact, rep, now=saturday_noon_utc)
    # Monday 09:00 in New York is 14:00 UTC.
    assert db.session.get(Enrollment, enrollment.id).next_due_at == datetime(2026, 11, 30, 14, 0)


def test_daily_cap_per_rep_holds_the_rest_until_the_next_day(smtp, org, manager, rep):
    inbox = smtp()
    seq = make_sequence(org, manager, daily_cap=2)
    for i in range(4):
        service.enroll(seq, make_contact(org, f"p{i}@prospect.example", f"P{i}", None), rep)
    result = sweep()
    assert result["sent"] == 2 and result["capped"] == 2
    assert len(inbox.messages) == 2
    assert sweep(utcnow() + timedelta(days=1, hours=1))["sent"] == 2


def test_random_spacing_spreads_a_batch_over_minutes(org, manager, rep):
    seq = make_sequence(org, manager, spacing_minutes=5)
    now = utcnow()
    dues = {service.enroll(seq, make_contact(org, f"s{i}@prospect.example", f"S{i}", None), rep,
                           now=now).next_due_at for i in range(10)}
    assert len(dues) > 1 and all(now <= d <= now + timedelta(minutes=5) for d in dues)


def test_embedded_outbox_writes_eml_files_when_no_smtp_url(app, sequence, contact, rep, tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    app.config["SMTP_URL"] = ""
    service.enroll(sequence, contact, rep)
    assert sweep()["sent"] == 1
    files = os.listdir(tmp_path / "outbox")
    assert len(files) == 1 and files[0].endswith(".eml")
    assert b"Subject: Hello Pat" in (tmp_path / "outbox" / files[0]).read_bytes()
