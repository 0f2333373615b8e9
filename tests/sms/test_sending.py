"""Text steps go out through the provider once, within the cap, the window and the contact's waking hours."""

import threading
from datetime import datetime, timedelta

from app.extensions import db
from app.models import Activity, Enrollment, SenderDay, StepSend
from app.sequences import service
from app.sequences.sending import sweep_due
from tests import factories
from tests.factories import make_contact
from tests.sms.conftest import FROM, set_zone, text_sequence

MONDAY_10_NY = datetime(2026, 12, 7, 15, 0)  # 10:00 in New York, 00:00 the next day in Tokyo
ENROLLED = MONDAY_10_NY - timedelta(minutes=5)


def _enroll(sequence, contact, org, at=ENROLLED):
    enrollment = service.enroll(sequence, contact, factories.user(org, "rep"), now=at, commit=False)
    db.session.commit()
    return enrollment


def test_a_text_step_goes_out_once_with_merge_fields_even_with_two_sweeps_at_once(app, org, fake_twilio):
    set_zone(org, "America/New_York")
    fake_twilio.delay = 0.3  # each message takes a moment, so the two sweeps overlap
    sequence = text_sequence(org, factories.user(org, "manager"))
    contact = make_contact(org, "pat@prospect.example", "Pat Prospect", phone="+1 212 736 5000")
    enrollment_id, contact_id = _enroll(sequence, contact, org).id, contact.id
    rep_name = factories.user(org, "rep").name
    db.session.remove()

    barrier = threading.Barrier(2)
    errors = []

    def sweep():
        with app.app_context():
            try:
                barrier.wait()
                sweep_due(MONDAY_10_NY)
            except Exception as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors

    assert len(fake_twilio.messages) == 1
    message = fake_twilio.messages[0]
    assert message["To"] == "+12127365000" and message["From"] == FROM
    assert message["Body"] == f"Hi Pat, {rep_name} from Prospect Inc here."
    assert message["StatusCallback"] == f"https://stagegate.test/sms/status/hook-secret?send={StepSend.query.one().id}"
    send = StepSend.query.one()
    assert (send.status, send.provider_sid, send.to_phone, send.delivery) == \
        ("sent", message["sid"], "+12127365000", "sent")
    enrollment = db.session.get(Enrollment, enrollment_id)
    assert enrollment.position == 2 and enrollment.next_due_at > MONDAY_10_NY
    assert Activity.query.filter_by(kind="sms", contact_id=contact_id).count() == 1

    sweep_due(MONDAY_10_NY + timedelta(minutes=1))  # nothing more is due: nothing is sent again
    assert len(fake_twilio.messages) == 1


def test_the_daily_cap_counts_texts(org, fake_twilio):
    set_zone(org, "America/New_York")
    sequence = text_sequence(org, factories.user(org, "manager"), daily_cap=2)
    for i in range(4):
        _enroll(sequence, make_contact(org, f"c{i}@cap.example", f"C{i}", None, phone=f"+1 212 736 500{i}"), org)
    counts = sweep_due(MONDAY_10_NY)
    assert len(fake_twilio.messages) == 2, counts
    assert counts.get("capped") == 2
    assert db.session.query(SenderDay.sent).filter_by(user_id=factories.user(org, "rep").id).scalar() == 2
    waiting = Enrollment.query.filter_by(position=1).all()
    assert len(waiting) == 2 and all(e.next_due_at > MONDAY_10_NY + timedelta(hours=5) for e in waiting)


def test_a_contact_without_a_mobile_number_skips_the_step_and_is_listed(client, org, login_as, fake_twilio):
    set_zone(org, "America/New_York")
    steps = [{"type": "sms", "wait_days": 0, "body": "Hi {{first_name}}"},
             {"type": "email", "wait_days": 0, "subject": "Hello", "body": "Hi"}]
    sequence = text_sequence(org, factories.user(org, "manager"), steps=steps)
    nobody = make_contact(org, "none@x.example", "Nora None", None)
    landline = make_contact(org, "land@x.example", "Lee Landline", None, phone="+44 20 7946 0958")
    garbage = make_contact(org, "junk@x.example", "Gus Garbage", None, phone="call me maybe")
    for contact in (nobody, landline, garbage):
        _enroll(sequence, contact, org)
    sweep_due(MONDAY_10_NY)
    assert fake_twilio.messages == []
    sends = {s.enrollment.contact.name: s for s in StepSend.query.filter_by(position=1)}
    assert {s.status for s in sends.values()} == {"skipped"}
    assert "no phone number" in sends["Nora None"].error
    assert "not a mobile number" in sends["Lee Landline"].error
    assert "not valid" in sends["Gus Garbage"].error
    assert {e.position for e in Enrollment.query} == {2}  # on to the email step

    login_as("rep")
    page = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert "Texts skipped" in page
    for name in ("Nora None", "Lee Landline", "Gus Garbage"):
        assert name in page
    assert "not a mobile number" in page


def test_quiet_hours_hold_a_text_until_8_in_the_contacts_zone(org, fake_twilio):
    set_zone(org, "America/New_York")
    sequence = text_sequence(org, factories.user(org, "manager"))
    tokyo = make_contact(org, "kenji@jp.example", "Kenji Sato", None, phone="+81 90-1234-5678")
    new_york = make_contact(org, "nina@ny.example", "Nina York", None, phone="+1 212 736 5001")
    held = _enroll(sequence, tokyo, org).id
    _enroll(sequence, new_york, org)

    sweep_due(MONDAY_10_NY)  # 10:00 in New York, midnight in Tokyo
    assert [m["To"] for m in fake_twilio.messages] == ["+12127365001"]
    eight_in_tokyo = datetime(2026, 12, 7, 23, 0)  # 08:00 Tuesday in Tokyo (UTC+9), 18:00 Monday in New York
    assert db.session.get(Enrollment, held).next_due_at == eight_in_tokyo

    sweep_due(eight_in_tokyo - timedelta(minutes=1))
    assert len(fake_twilio.to("+819012345678")) == 0
    sweep_due(eight_in_tokyo)
    assert len(fake_twilio.to("+819012345678")) == 1


def test_the_organisations_zone_rules_when_the_contacts_is_unknown(org, fake_twilio):
    set_zone(org, "America/New_York")
    sequence = text_sequence(org, factories.user(org, "manager"))
    # An Australian mobile belongs to no one zone, and the lead's zone is not one: New York's hours apply.
    contact = make_contact(org, "free@x.example", "Fran Free", None, phone="+61 412 345 678",
                           lead_facts={"timezone": "Not/AZone"})
    enrollment = _enroll(sequence, contact, org, at=datetime(2026, 12, 7, 7, 0))
    sweep_due(datetime(2026, 12, 7, 8, 0))  # 03:00 in New York, 19:00 in Sydney: only New York's hours hold it
    assert fake_twilio.messages == []
    assert db.session.get(Enrollment, enrollment.id).next_due_at == datetime(2026, 12, 7, 13, 0)
    sweep_due(datetime(2026, 12, 7, 13, 0))
    assert len(fake_twilio.to("+61412345678")) == 1


def test_a_lead_facts_zone_wins_over_the_numbers(org, fake_twilio):
    set_zone(org, "America/New_York")
    sequence = text_sequence(org, factories.user(org, "manager"))
    contact = make_contact(org, "lo@x.example", "Lou London", None, phone="+1 212 736 5006",
                           lead_facts={"timezone": "Europe/London"})
    enrollment = _enroll(sequence, contact, org, at=datetime(2026, 12, 7, 1, 0))
    sweep_due(datetime(2026, 12, 7, 2, 0))  # 02:00 in London (21:00 in New York)
    assert fake_twilio.messages == []
    assert db.session.get(Enrollment, enrollment.id).next_due_at == datetime(2026, 12, 7, 8, 0)


def test_a_refused_number_is_marked_and_later_texts_skip_it(org, fake_twilio):
    from app.models import SmsNumber

    set_zone(org, "America/New_York")
    fake_twilio.script["+12127365003"] = [400]
    fake_twilio.codes["+12127365003"] = 21211
    sequence = text_sequence(org, factories.user(org, "manager"))
    enrollment = _enroll(sequence, make_contact(org, "bad@x.example", "Bo Bad", None, phone="+1 212 736 5003"), org)
    sweep_due(MONDAY_10_NY)
    send = StepSend.query.one()
    assert send.status == "bounced" and "21211" in send.relay_reply
    assert SmsNumber.query.filter_by(phone="+12127365003").one().undeliverable_at is not None
    sweep_due(MONDAY_10_NY + timedelta(days=2))
    second = StepSend.query.filter_by(position=2).one()
    assert second.status == "skipped" and "cannot take texts" in second.error
    assert len(fake_twilio.refused) == 1 and fake_twilio.messages == []
    assert db.session.get(Enrollment, enrollment.id).status == "finished"


def test_a_busy_provider_is_tried_again(org, fake_twilio):
    set_zone(org, "America/New_York")
    fake_twilio.script["*"] = [429, 201]
    sequence = text_sequence(org, factories.user(org, "manager"))
    _enroll(sequence, make_contact(org, "busy@x.example", "Bea Busy", None, phone="+1 212 736 5004"), org)
    sweep_due(MONDAY_10_NY)
    send = StepSend.query.one()
    assert send.status == "retrying" and fake_twilio.messages == []
    sweep_due(MONDAY_10_NY + timedelta(minutes=6))
    db.session.refresh(send)
    assert send.status == "sent" and len(fake_twilio.messages) == 1


def test_without_a_provider_texts_go_to_the_outbox_folder(app, org):
    import json
    import os

    set_zone(org, "America/New_York")
    sequence = text_sequence(org, factories.user(org, "manager"))
    _enroll(sequence, make_contact(org, "ob@x.example", "Olly Outbox", None, phone="(212) 736-5005"), org)
    sweep_due(MONDAY_10_NY)
    folder = os.path.join(app.instance_path, "sms_outbox")
    files = os.listdir(folder)
    assert len(files) == 1
    with open(os.path.join(folder, files[0]), encoding="utf-8") as handle:
        written = json.load(handle)
    assert written["to"] == "+12127365005" and written["body"].startswith("Hi Olly")
    assert StepSend.query.one().status == "sent"


def test_an_incomplete_provider_account_holds_texts_instead_of_faking_them(app, org, monkeypatch):
    import os

    set_zone(org, "America/New_York")
    monkeypatch.setitem(app.config, "SMS_PROVIDER", "twilio")  # no SID, token or number
    sequence = text_sequence(org, factories.user(org, "manager"))
    enrollment = _enroll(sequence, make_contact(org, "h@x.example", "Hal Held", None, phone="+1 212 736 5007"), org)
    counts = sweep_due(MONDAY_10_NY)
    assert counts.get("held") == 1 and StepSend.query.count() == 0
    assert db.session.get(Enrollment, enrollment.id).next_due_at > MONDAY_10_NY
    assert not os.path.exists(os.path.join(app.instance_path, "sms_outbox"))
