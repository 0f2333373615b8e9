"""Booking, moving and cancelling meetings through the deal's pages; the invitation each one sends."""

import email
from datetime import UTC
from email import policy

from icalendar import Calendar

from app.booking import service
from app.extensions import db
from app.models import Activity, ContactEvent, Meeting, OutboundEmail
from tests import factories
from tests.booking.conftest import set_hours


def first_slot(rep, length=30, skip=0):
    return service.open_slots(rep, length)[skip][0]


def iso(at):
    return at.isoformat(timespec="minutes")


def book(client, deal, start, contact_id=None, length=30):
    return client.post(f"/booking/deals/{deal.id}/book", data={
        "starts_at": iso(start), "length": str(length),
        "contact_id": str(contact_id if contact_id is not None else deal.contact_id or "")})


def invitation(row: OutboundEmail) -> Calendar:
    """The text/calendar part of a queued email, parsed back."""
    message = email.message_from_bytes(row.message, policy=policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_content() if isinstance(part.get_content(), str) else part.get_content().decode())


def queued_to(address):
    return OutboundEmail.query.filter_by(to_email=address).order_by(OutboundEmail.id).all()


def test_rep_books_a_meeting_with_the_buyer_from_the_deal(client, login_as, open_rep, deal, buyer):
    login_as(who=open_rep)
    page = client.get(f"/deals/{deal.id}")
    assert page.status_code == 200 and "Book a meeting" in page.get_data(as_text=True)
    form = client.get(f"/booking/deals/{deal.id}/book")
    start = first_slot(open_rep)
    assert form.status_code == 200 and f'value="{iso(start)}"' in form.get_data(as_text=True)
    response = book(client, deal, start)
    assert response.status_code == 303
    meeting = Meeting.query.one()
    assert (meeting.starts_at, meeting.minutes, meeting.contact_id, meeting.booked_by) == (start, 30, buyer.id, "rep")
    assert meeting.uid.endswith("@stagegate") and meeting.sequence == 0
    activity = Activity.query.filter_by(deal_id=deal.id, kind="meeting").one()
    assert activity.body.startswith("Meeting booked for ") and "(Europe/Berlin) by Rae Rep" in activity.body
    assert ContactEvent.query.filter_by(contact_id=buyer.id, type="meeting_booked").count() == 1
    db.session.refresh(buyer)
    assert buyer.engagement_score > 0  # scored as any meeting_booked event
    assert [r.status for r in queued_to(buyer.email)] == ["queued"] and len(queued_to(open_rep.email)) == 1
    assert "Meeting booked for" in client.get(response.headers["Location"]).get_data(as_text=True)  # the flash
    shown = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "Reschedule" in shown and service.when_text(meeting).split(" (")[0] in shown


def test_a_taken_slot_is_refused_with_a_message_on_the_time(client, login_as, open_rep, deal):
    login_as(who=open_rep)
    start = first_slot(open_rep)
    assert book(client, deal, start).status_code == 303
    again = book(client, deal, start)
    assert again.status_code == 422 and "no longer open" in again.get_data(as_text=True)
    overlapping = book(client, deal, start, length=60)
    assert overlapping.status_code == 422
    assert Meeting.query.count() == 1 and OutboundEmail.query.count() == 2


def test_a_time_that_is_not_a_slot_or_not_a_time_is_refused(client, login_as, open_rep, deal):
    login_as(who=open_rep)
    start = first_slot(open_rep)
    for bad in (iso(start.replace(minute=7)), "tomorrow", "2026-13-45T10:00", "\x00", ""):
        response = client.post(f"/booking/deals/{deal.id}/book", data={"starts_at": bad, "length": "30"})
        assert response.status_code == 422, bad
    response = client.post(f"/booking/deals/{deal.id}/book", data="starts_at=%ED%A0%80&length=30",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert Meeting.query.count() == 0 and OutboundEmail.query.count() == 0


def test_contact_ids_that_are_not_the_deals_people_are_refused(client, login_as, open_rep, deal, org):
    login_as(who=open_rep)
    stranger = factories.make_contact(org, email="stranger@else.example", name="Stranger")
    start = first_slot(open_rep)
    for contact_id in (stranger.id, 2**31, 2**31 - 1, "x", "-1"):
        response = book(client, deal, start, contact_id=contact_id)
        assert response.status_code == 422, contact_id
        assert "Pick one of the deal" in response.get_data(as_text=True)
    assert Meeting.query.count() == 0


def test_reschedule_keeps_the_uid_and_sends_sequence_one(client, login_as, open_rep, deal, buyer):
    login_as(who=open_rep)
    start = first_slot(open_rep)
    book(client, deal, start)
    meeting = Meeting.query.one()
    uid = meeting.uid
    page = client.get(f"/booking/meetings/{meeting.id}/reschedule")
    assert page.status_code == 200 and f'value="{iso(start)}"' in page.get_data(as_text=True)  # its own slot stays open
    later = first_slot(open_rep, skip=8)
    response = client.post(f"/booking/meetings/{meeting.id}/reschedule", data={"starts_at": iso(later)})
    assert response.status_code == 303
    db.session.expire_all()
    meeting = Meeting.query.one()
    assert (meeting.uid, meeting.sequence, meeting.starts_at, meeting.minutes) == (uid, 1, later, 30)
    first, second = (invitation(r) for r in queued_to(buyer.email))
    for calendar, sequence in ((first, 0), (second, 1)):
        event = calendar.walk("VEVENT")[0]
        assert str(calendar["METHOD"]) == "REQUEST" and str(event["UID"]) == uid and int(event["SEQUENCE"]) == sequence
    assert second.walk("VEVENT")[0].decoded("DTSTART").astimezone(UTC).replace(tzinfo=None) == later
    assert "moved from" in Activity.query.filter_by(deal_id=deal.id).order_by(Activity.id.desc()).first().body


def test_cancel_sends_cancel_with_a_higher_sequence_and_frees_the_slot(client, login_as, open_rep, deal, buyer):
    login_as(who=open_rep)
    start = first_slot(open_rep)
    book(client, deal, start)
    meeting = Meeting.query.one()
    response = client.post(f"/booking/meetings/{meeting.id}/cancel", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'id="deal-meetings-{deal.id}"' in body and "cancelled; both sides are told" in body
    db.session.expire_all()
    meeting = Meeting.query.one()
    assert (meeting.status, meeting.sequence) == ("cancelled", 1)
    calendar = invitation(queued_to(buyer.email)[-1])
    event = calendar.walk("VEVENT")[0]
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 1
    assert start in [s for s, _ in service.open_slots(open_rep, 30)]
    again = client.post(f"/booking/meetings/{meeting.id}/cancel")
    assert again.status_code == 303  # said on the deal page: already cancelled
    assert len(queued_to(buyer.email)) == 2


def test_the_invitation_names_organizer_attendee_and_the_instant_in_the_reps_zone(client, login_as, open_rep, deal,
                                                                                  buyer, org):
    login_as(who=open_rep)
    start = first_slot(open_rep, length=60)
    book(client, deal, start, length=60)
    meeting = Meeting.query.one()
    row = queued_to(buyer.email)[0]
    message = email.message_from_bytes(row.message, policy=policy.default)
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST" and part.get_param("charset").upper() == "UTF-8"
    assert any(p.get_filename() == "invite.ics" for p in message.walk())
    calendar = invitation(row)
    assert str(calendar["VERSION"]) == "2.0" and "Stagegate" in str(calendar["PRODID"])
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    event = calendar.walk("VEVENT")[0]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin" and event["DTEND"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART").astimezone(UTC).replace(tzinfo=None) == meeting.starts_at
    assert event.decoded("DTEND").astimezone(UTC).replace(tzinfo=None) == meeting.ends_at
    assert str(event["SUMMARY"]) == f"{deal.title} · {org.name}"
    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{open_rep.email}" and organizer.params["CN"] == open_rep.name
    attendee = event["ATTENDEE"]
    assert str(attendee) == f"mailto:{buyer.email}" and attendee.params["CN"] == buyer.name
    assert (attendee.params["ROLE"], attendee.params["PARTSTAT"], attendee.params["RSVP"]) == \
        ("REQ-PARTICIPANT", "NEEDS-ACTION", "TRUE")
    assert str(event["STATUS"]) == "CONFIRMED" and "DTSTAMP" in event


def test_a_rep_who_does_not_own_the_deal_cannot_book_or_cancel_it(client, login_as, open_rep, deal, org):
    from app.auth.service import create_user

    other_rep = create_user(org, "second.rep@org.example", "Sam Second", "rep", factories.PASSWORD)
    start = first_slot(open_rep)
    login_as(who=open_rep)
    book(client, deal, start)
    meeting = Meeting.query.one()
    login_as(who=other_rep)
    assert client.get(f"/booking/deals/{deal.id}/book").status_code == 403
    assert book(client, deal, first_slot(open_rep)).status_code == 403
    assert client.post(f"/booking/meetings/{meeting.id}/cancel").status_code == 403
    assert Meeting.query.one().status == "booked"


def test_another_organisations_deal_and_meeting_are_not_found(client, login_as, open_rep, deal):
    login_as(who=open_rep)
    book(client, deal, first_slot(open_rep))
    meeting = Meeting.query.one()
    other = factories.make_org(name="Elsewhere")
    login_as(who=factories.user(other, "admin"))
    assert client.get(f"/booking/deals/{deal.id}/book").status_code == 404
    assert client.post(f"/booking/deals/{deal.id}/book", data={"starts_at": "x"}).status_code == 404
    assert client.get(f"/booking/meetings/{meeting.id}/reschedule").status_code == 404
    assert client.post(f"/booking/meetings/{meeting.id}/cancel").status_code == 404
    for big in (2**31, 2**63):
        assert client.get(f"/booking/meetings/{big}/reschedule").status_code == 404
        assert client.post(f"/booking/deals/{big}/book").status_code == 404
    assert Meeting.query.one().status == "booked"


def test_a_deal_whose_owner_has_no_hours_says_so(client, login_as, rep, deal):
    login_as(who=rep)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "has not set booking hours yet" in page and "set your booking hours" in page


def test_the_room_books_for_the_buyer_and_gets_the_meeting_inside_the_transaction(open_rep, deal, buyer):
    seen = []
    start = first_slot(open_rep)
    meeting = service.book(deal, open_rep, buyer, start, 30, "Dana@Buyer.example", room_id=7,
                           on_booked=lambda m: seen.append((m.id, m.room_id)))
    assert seen == [(meeting.id, 7)] and meeting.booked_by == "dana@buyer.example"
    assert Activity.query.filter_by(deal_id=deal.id).one().body.endswith("by dana@buyer.example")
    set_hours(open_rep, {})  # no windows: nothing is open any more
    assert service.open_slots(open_rep, 30) == []
