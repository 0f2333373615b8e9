"""What Twilio posts back: replies, STOP/START/HELP, delivery reports; each checked against its signature."""

from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models import Enrollment, InboundEmail, Notification, SmsNumber, StepSend, Task
from app.sequences import service
from app.sequences.sending import sweep_due
from tests import factories
from tests.factories import make_contact
from tests.sms.conftest import text_sequence

NOW = datetime(2026, 12, 7, 15, 0)  # 10:00 in New York
PHONE = "+12127365000"


@pytest.fixture
def texted(org, fake_twilio):
    """A contact who got the first of two texts; the sequence and the enrollment."""
    org.timezone = "America/New_York"
    db.session.commit()
    sequence = text_sequence(org, factories.user(org, "manager"))
    contact = make_contact(org, "pat@prospect.example", "Pat Prospect", phone="(212) 736-5000")
    contact.phone = "+12127365000"
    enrollment = service.enroll(sequence, contact, factories.user(org, "rep"), now=NOW - timedelta(minutes=1),
                                commit=False)
    db.session.commit()
    sweep_due(NOW)
    assert len(fake_twilio.messages) == 1
    return sequence, contact, enrollment


@pytest.mark.parametrize("word", ["stop", " Stop. ", "STOPALL", "unsubscribe", "Cancel!", "end", "QUIT"])
def test_stop_in_any_case_ends_the_enrollments_and_no_more_texts_go(word, org, texted, texting, fake_twilio):
    sequence, contact, enrollment = texted
    other = text_sequence(org, factories.user(org, "manager"), name="Second")
    service.enroll(other, contact, factories.user(org, "rep"), now=NOW, commit=False)
    db.session.commit()

    response = texting.inbound(PHONE, word)
    assert response.status_code == 200
    assert b"<Response></Response>" in response.data
    db.session.expire_all()
    assert {e.status for e in Enrollment.query.filter_by(contact_id=contact.id)} == {"unsubscribed"}
    assert SmsNumber.query.filter_by(org_id=org.id, phone=PHONE).one().opted_out_at is not None

    sweep_due(NOW + timedelta(days=3))
    assert len(fake_twilio.messages) == 1
    # A new enrollment's text is skipped, with the reason, while the number stays opted out.
    third = text_sequence(org, factories.user(org, "manager"), name="Third")
    service.enroll(third, contact, factories.user(org, "rep"), now=NOW + timedelta(days=3), commit=False)
    db.session.commit()
    sweep_due(NOW + timedelta(days=3, minutes=1))
    assert len(fake_twilio.messages) == 1
    skipped = StepSend.query.filter_by(status="skipped").all()
    assert skipped and "opted out" in skipped[0].error


def test_start_opts_the_number_back_in(org, texted, texting, fake_twilio):
    _sequence, contact, _enrollment = texted
    texting.inbound(PHONE, "STOP")
    response = texting.inbound(PHONE, "start")
    assert response.status_code == 200
    assert SmsNumber.query.filter_by(phone=PHONE).one().opted_out_at is None
    again = text_sequence(org, factories.user(org, "manager"), name="Again")
    service.enroll(again, contact, factories.user(org, "rep"), now=NOW + timedelta(days=1), commit=False)
    db.session.commit()
    sweep_due(NOW + timedelta(days=1, minutes=1))
    assert len(fake_twilio.to(PHONE)) == 2


def test_help_answers_with_the_organisations_name(org, texted, texting):
    response = texting.inbound(PHONE, "help")
    assert response.status_code == 200 and response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert f"<Response><Message>{org.name}: reply STOP" in body
    assert db.session.get(Enrollment, texted[2].id).status == "active"


def test_a_plain_reply_ends_the_enrollment_with_a_task_and_a_notification(org, texted, texting, fake_twilio):
    _sequence, contact, enrollment = texted
    response = texting.inbound(PHONE, "Yes, call me tomorrow")
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Enrollment, enrollment.id).status == "replied"
    rep = factories.user(org, "rep")
    task = Task.query.filter_by(kind="reply", contact_id=contact.id).one()
    assert task.owner_id == rep.id
    assert Notification.query.filter_by(user_id=rep.id, kind="reply").count() == 1
    assert db.session.get(type(contact), contact.id).engagement_score > 0  # the reply's points
    sweep_due(NOW + timedelta(days=3))
    assert len(fake_twilio.messages) == 1
    # Twilio retries a webhook it thinks failed: the same MessageSid acts once.
    sid = InboundEmail.query.one()
    assert texting.inbound(PHONE, "Yes, call me tomorrow", sid="SMsame").status_code == 200
    assert texting.inbound(PHONE, "Yes, call me tomorrow", sid="SMsame").status_code == 200
    assert Task.query.filter_by(kind="reply").count() == 1 and sid


def test_a_bad_signature_is_403_and_writes_nothing(org, texted, post_signed):
    params = {"MessageSid": "SMforged", "From": PHONE, "To": "+12025550100", "Body": "STOP"}
    assert post_signed("/sms/inbound/hook-secret", params, signature="bm90IGl0").status_code == 403
    assert post_signed("/sms/inbound/hook-secret", params, token="someone-elses").status_code == 403
    assert post_signed("/sms/inbound/hook-secret", params, signature="").status_code == 403
    assert post_signed("/sms/inbound/wrong-secret", params).status_code == 404
    assert InboundEmail.query.count() == 0 and SmsNumber.query.count() == 0
    assert db.session.get(Enrollment, texted[2].id).status == "active"
    # The URL signed is the public one (BASE_URL), not the Host the request came in on.
    forged_host = "http://localhost/sms/inbound/hook-secret"
    from tests.sms.conftest import twilio_signature
    assert post_signed("/sms/inbound/hook-secret", params,
                       signature=twilio_signature(forged_host, params)).status_code == 403


def test_delivery_reports_update_the_step_and_an_undeliverable_number_skips_later_texts(org, texted, texting,
                                                                                         fake_twilio):
    _sequence, _contact, enrollment = texted
    message = fake_twilio.messages[0]
    for sent, path in texting.callbacks():
        assert path == "/sms/status/hook-secret" and sent is message
    assert texting.status(message["sid"], "sent").status_code == 200
    assert texting.status(message["sid"], "delivered").status_code == 200
    send = StepSend.query.one()
    assert send.delivery == "delivered"
    assert texting.status(message["sid"], "sent").status_code == 200  # late and out of order: changes nothing
    db.session.refresh(send)
    assert send.delivery == "delivered"

    assert texting.status(message["sid"], "undelivered", code=30003).status_code == 200
    db.session.refresh(send)
    assert send.delivery == "undelivered" and "30003" in send.error
    assert SmsNumber.query.filter_by(phone=PHONE).one().undeliverable_at is not None
    sweep_due(NOW + timedelta(days=2))
    second = StepSend.query.filter_by(position=2).one()
    assert second.status == "skipped" and "cannot take texts" in second.error
    assert len(fake_twilio.messages) == 1
    assert db.session.get(Enrollment, enrollment.id).status == "finished"


def test_failures_without_a_code_mark_the_number_after_two(org, texted, texting, fake_twilio):
    sid = fake_twilio.messages[0]["sid"]
    texting.status(sid, "failed")
    assert SmsNumber.query.filter_by(phone=PHONE).one().undeliverable_at is None
    texting.status(sid, "undelivered")
    assert SmsNumber.query.filter_by(phone=PHONE).one().undeliverable_at is not None


def test_odd_requests_are_never_a_500(client, org, texted, texting):
    huge = {"Body": "x" * 200_000, "From": PHONE, "To": "+12025550100", "MessageSid": "SMhuge"}
    response = client.post("/sms/inbound/hook-secret", data=huge)
    assert response.status_code == 413
    broken = b"From=%2B12127365000&Body=%ED%A0%80%FF%FE&MessageSid=SMbroken"
    response = client.post("/sms/inbound/hook-secret", data=broken, content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 403
    assert client.post("/sms/status/hook-secret", data=b"\xff\xfe\x00",
                       content_type="application/x-www-form-urlencoded").status_code == 403
    assert client.post("/sms/inbound/" + "a" * 5000, data={"Body": "hi"}).status_code == 404
    assert client.post("/sms/inbound/%ED%A0%80", data={"Body": "hi"}).status_code == 404
    # Signed but strange: a NUL and a replacement character arrive as text and are stored cleanly.
    response = texting.inbound(PHONE, "ok\x00 \ufffd thanks")
    assert response.status_code == 200
    assert db.session.get(Enrollment, texted[2].id).status == "replied"
    assert texting.inbound("not a number", "hi").status_code == 200
    assert texting.status("SMunknown", "delivered").status_code == 200


def test_the_webhooks_are_rate_limited_per_address(app, org, texted, texting, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_WEBHOOK_RATE_LIMIT", "3 per minute")
    answers = [texting.inbound(PHONE, "help").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
