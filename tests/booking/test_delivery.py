"""Invitations reach a real SMTP server (aiosmtpd on loopback) through the worker, with StepSend's delivery truth."""

from datetime import timedelta

from icalendar import Calendar

from app.booking import service
from app.models import Notification, OutboundEmail, Suppression
from app.sequences import one_off
from app.timezones import utcnow


def booked(open_rep, deal, buyer):
    return service.book(deal, open_rep, buyer, service.open_slots(open_rep, 30)[0][0], 30, open_rep)


def calendar_part(message):
    return next(p for p in message.walk() if p.get_content_type() == "text/calendar")


def test_booking_delivers_the_invitation_to_buyer_and_rep_through_the_worker(smtp, drain, open_rep, deal, buyer):
    inbox = smtp()
    meeting = booked(open_rep, deal, buyer)
    assert inbox.messages == []  # nothing leaves inside the request
    drain()  # the worker's job, woken after the commit
    to_buyer, to_rep = inbox.to(buyer.email), inbox.to(open_rep.email)
    assert len(to_buyer) == 1 and len(to_rep) == 1
    message = to_buyer[0]
    assert message["From"].addresses[0].addr_spec == open_rep.email
    assert message["Subject"].startswith("Invitation: Acme renewal")
    part = calendar_part(message)
    assert part.get_param("method") == "REQUEST"
    event = Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
    assert str(event["UID"]) == meeting.uid and event["DTSTART"].params["TZID"] == "Europe/Berlin"
    rows = OutboundEmail.query.all()
    assert {r.status for r in rows} == {"sent"} and all(r.relay_reply.startswith("250") for r in rows)
    drain()
    one_off.send_due()
    assert len(inbox.to(buyer.email)) == 1  # sent once, whatever runs again


def test_cancel_delivers_method_cancel(smtp, drain, open_rep, deal, buyer):
    inbox = smtp()
    meeting = booked(open_rep, deal, buyer)
    service.cancel(meeting, open_rep)
    drain()
    cancel = [m for m in inbox.to(buyer.email) if calendar_part(m).get_param("method") == "CANCEL"]
    assert len(cancel) == 1 and cancel[0]["Subject"].startswith("Cancelled:")
    event = Calendar.from_ical(calendar_part(cancel[0]).get_content()).walk("VEVENT")[0]
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1


def test_an_address_that_does_not_exist_bounces_is_suppressed_and_the_rep_is_told(smtp, drain, open_rep, deal, buyer):
    inbox = smtp(refuse=[buyer.email])
    booked(open_rep, deal, buyer)
    drain()
    row = OutboundEmail.query.filter_by(to_email=buyer.email).one()
    assert row.status == "bounced" and row.relay_reply.startswith("550")
    assert Suppression.query.filter_by(email=buyer.email, reason="bounced").count() == 1
    assert Notification.query.filter_by(user_id=open_rep.id).filter(Notification.text.contains("bounced")).count() == 1
    assert len(inbox.to(open_rep.email)) == 1  # the rep's copy still went


def test_a_temporary_refusal_is_retried_later_and_then_delivered(smtp, drain, open_rep, deal, buyer):
    inbox = smtp(rcpt={buyer.email: ["451 4.7.1 Try again later", "250 OK"]})
    booked(open_rep, deal, buyer)
    drain()
    row = OutboundEmail.query.filter_by(to_email=buyer.email).one()
    assert row.status == "retrying" and row.next_attempt_at > utcnow() and inbox.to(buyer.email) == []
    one_off.send_due(now=utcnow() + timedelta(minutes=6))
    row = OutboundEmail.query.filter_by(to_email=buyer.email).one()
    assert row.status == "sent" and row.attempts == 2 and len(inbox.to(buyer.email)) == 1


def test_with_the_relay_down_nothing_is_lost_and_it_goes_once_the_relay_is_back(app, smtp, drain, open_rep, deal,
                                                                                buyer):
    from tests.conftest import free_port

    port = free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"  # nothing listens there yet
    from tests.sequences.conftest import _give_every_org_a_postal_address

    _give_every_org_a_postal_address()
    booked(open_rep, deal, buyer)
    drain()
    rows = OutboundEmail.query.all()
    assert {r.status for r in rows} == {"queued"} and all(r.attempts == 0 for r in rows)
    inbox = smtp(port=port)
    one_off.send_due(now=utcnow() + timedelta(minutes=11))
    assert len(inbox.to(buyer.email)) == 1 and len(inbox.to(open_rep.email)) == 1
