"""Over real HTTP both ways: the app on a live port sends through the fake Twilio, which calls back, signed."""

import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from app.extensions import db
from app.models import Enrollment, SmsNumber, StepSend
from app.sequences import service
from app.sequences.sending import sweep_due
from tests import factories
from tests.factories import make_contact
from tests.sms.conftest import FROM, set_zone, text_sequence, twilio_signature

NOW = datetime(2026, 12, 7, 15, 0)


@pytest.fixture
def live_app(app, fake_twilio, monkeypatch):
    """Serve the app on 127.0.0.1; BASE_URL is that address, so the callbacks Twilio is told to make reach it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setitem(app.config, "BASE_URL", base)
    yield base
    server.shutdown()


def _wait(check, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _post(url, params, signature):
    request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST",
                                     headers={"X-Twilio-Signature": signature,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _one_text(org, phone="+1 212 736 5000"):
    set_zone(org, "America/New_York")
    sequence = text_sequence(org, factories.user(org, "manager"))
    contact = make_contact(org, "pat@prospect.example", "Pat Prospect", phone=phone)
    enrollment = service.enroll(sequence, contact, factories.user(org, "rep"), now=NOW - timedelta(minutes=1),
                                commit=False)
    db.session.commit()
    return enrollment.id


def test_delivered_callbacks_from_the_provider_reach_the_step(org, fake_twilio, live_app):
    fake_twilio.auto_callbacks = [("queued", None), ("sent", None), ("delivered", None)]
    _one_text(org)
    sweep_due(NOW)
    send_id = StepSend.query.one().id
    assert fake_twilio.messages[0]["StatusCallback"] == f"{live_app}/sms/status/hook-secret?send={send_id}"
    _wait(lambda: len(fake_twilio.callback_answers) == 3)
    assert fake_twilio.callback_answers == [200, 200, 200]
    _wait(lambda: StepSend.query.one().delivery == "delivered")


def test_an_undelivered_callback_marks_the_number_and_the_next_text_is_skipped(org, fake_twilio, live_app):
    fake_twilio.auto_callbacks = [("sent", None), ("undelivered", 30005)]
    enrollment_id = _one_text(org)
    sweep_due(NOW)
    _wait(lambda: len(fake_twilio.callback_answers) == 2)
    _wait(lambda: SmsNumber.query.filter_by(phone="+12127365000").one().undeliverable_at is not None)
    assert StepSend.query.one().delivery == "undelivered"
    sweep_due(NOW + timedelta(days=2))
    assert len(fake_twilio.messages) == 1
    assert StepSend.query.filter_by(position=2).one().status == "skipped"
    assert db.session.get(Enrollment, enrollment_id).status == "finished"


def test_an_inbound_stop_over_http_ends_the_enrollment(org, fake_twilio, live_app):
    enrollment_id = _one_text(org)
    sweep_due(NOW)
    url = f"{live_app}/sms/inbound/hook-secret"
    params = {"MessageSid": "SMlive1", "AccountSid": "AC", "From": "+12127365000", "To": FROM, "Body": " Stop. "}
    assert _post(url, params, twilio_signature(url, params, "wrong"))[0] == 403
    assert db.session.get(Enrollment, enrollment_id).status == "active"
    status, body = _post(url, params, twilio_signature(url, params))
    assert status == 200 and "<Response>" in body
    _wait(lambda: db.session.get(Enrollment, enrollment_id).status == "unsubscribed")


def test_a_report_that_comes_before_the_send_is_recorded_is_kept(org, fake_twilio, live_app):
    fake_twilio.callbacks_first = True  # Twilio's callback reaches the app while the sweep waits for the 201
    fake_twilio.auto_callbacks = [("undelivered", 30006)]
    _one_text(org)
    sweep_due(NOW)
    assert fake_twilio.callback_answers == [200]
    send = StepSend.query.one()
    assert (send.status, send.delivery, send.provider_sid) == ("sent", "undelivered", fake_twilio.messages[0]["sid"])
    assert "30006" in send.error
    assert SmsNumber.query.filter_by(phone="+12127365000").one().undeliverable_at is not None


def test_a_report_naming_another_send_changes_nothing(org, fake_twilio, live_app, post_signed, app):
    _one_text(org)
    sweep_due(NOW)
    send = StepSend.query.one()
    params = {"MessageSid": "SMsomeoneelse", "MessageStatus": "failed", "ErrorCode": "30003"}
    path = f"/sms/status/hook-secret?send={send.id}"
    url = app.config["BASE_URL"] + path
    status, _ = _post(live_app + path, params, twilio_signature(url, params))
    assert status == 200
    db.session.expire_all()
    assert StepSend.query.one().delivery == "sent" and SmsNumber.query.count() == 0
