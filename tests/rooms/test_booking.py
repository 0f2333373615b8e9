"""Booking from the deal room over HTTP: the buyer picks one of the seller's open times; the meeting step and
its fact ("DM meeting scheduled", the meeting's day) are confirmed as theirs, both sides get the invitation,
and the gate lets the deal on. Moving and cancelling from the room; another room's meeting is not theirs."""

import re
from datetime import datetime

from app.booking.clock import local, rep_zone
from app.models import Deal, Meeting, OutboundEmail, RoomStep
from tests import factories
from tests.booking.conftest import every_day, set_hours
from tests.rooms.conftest import csrf_from, fresh, row_counts, token_of

DM = "DM meeting scheduled"


def _room(client, key_for, deal, email="dana@buyer.example"):
    set_hours(deal.owner, every_day("09:00", "17:00"), lengths=("30", "60"), notice="0", horizon="14")
    headers = key_for("rep")
    room = client.post(f"/api/v1/deals/{deal.id}/room", headers=headers).json
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=headers, json={"contact_email": email})
    return room, token_of(invited.json["url"])


def _slots(html: str) -> list[str]:
    return re.findall(r'name="starts_at" value="([^"]+)"', html)


def _post(client, token, path, **data):
    page = client.get(f"/r/{token}").get_data(as_text=True)
    return client.post(f"/r/{token}{path}", data={"csrf_token": csrf_from(page), **data})


def test_the_buyer_books_a_time_and_the_meeting_step_is_confirmed_as_theirs(client, key_for, deal, csrf_on):
    room, token = _room(client, key_for, deal)
    page = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Book a meeting" in page and "30 min" in page and "60 min" in page
    assert '<a href="#booking">Book a time below</a>: that confirms this step.' in page  # the DM meeting step
    slots = _slots(page)
    assert slots and "<script" not in page  # plain radio buttons and a button: no script needed
    booked = _post(client, token, "/book", starts_at=slots[0], length="30")
    text = booked.get_data(as_text=True)
    assert booked.status_code == 200 and "Booked:" in text and "An invitation is on its way to dana@buyer.example" in text
    meeting = Meeting.query.one()
    assert meeting.starts_at == datetime.fromisoformat(slots[0]) and meeting.room_id == room["id"]
    assert meeting.booked_by == "dana@buyer.example"
    assert {e.to_email for e in OutboundEmail.query.all()} == {"dana@buyer.example", deal.owner.email}
    step = next(s for s in RoomStep.query.all() if s.title == DM)
    assert (step.status, step.confirmed_by) == ("done", "dana@buyer.example")
    stored = fresh(Deal, deal.id)
    day = local(meeting.starts_at, rep_zone(meeting.user)).date().isoformat()
    assert stored.facts["dm_meeting_date"] == day and stored.facts_meta["dm_meeting_date"]["source"] == "buyer"
    assert "Your meeting:" in client.get(f"/r/{token}").get_data(as_text=True)
    discovery = factories.stage(deal.pipeline, "Discovery")
    moved = client.post(f"/api/v1/deals/{deal.id}/move", headers=key_for("rep"), json={"stage_id": discovery.id})
    assert moved.status_code == 200, moved.json  # the buyer's booking met the gate's buyer requirement


def test_a_taken_time_is_refused_and_nothing_is_written(client, key_for, deal, csrf_on):
    _, token = _room(client, key_for, deal)
    slot = _slots(client.get(f"/r/{token}").get_data(as_text=True))[0]
    assert _post(client, token, "/book", starts_at=slot, length="30").status_code == 200
    before = row_counts()
    again = _post(client, token, "/book", starts_at=slot, length="30")
    assert again.status_code == 422 and "That time is no longer open" in again.get_data(as_text=True)
    for odd in ({"starts_at": "tomorrow", "length": "30"}, {"starts_at": slot, "length": "45"},
                {"starts_at": slot + "+00:00", "length": "30"}, {"starts_at": slot, "length": "99999999999"}):
        refused = _post(client, token, "/book", **odd)
        assert refused.status_code == 422 and "Nothing was booked" in refused.get_data(as_text=True), odd
    assert row_counts() == before


def test_the_buyer_moves_and_cancels_their_meeting_and_the_fact_follows(client, key_for, deal, csrf_on):
    _, token = _room(client, key_for, deal)
    slots = _slots(client.get(f"/r/{token}").get_data(as_text=True))
    _post(client, token, "/book", starts_at=slots[0], length="60")
    meeting = Meeting.query.one()
    page = client.get(f"/r/{token}?reschedule={meeting.id}&length=60").get_data(as_text=True)
    assert "Move your meeting" in page
    days = re.findall(r'href="([^"]*day=(\d{4}-\d\d-\d\d)[^"]*)"', page)
    assert len(days) >= 2  # one day's times at a time, the other days a tap away
    other_day = client.get(days[1][0].replace("&amp;", "&")).get_data(as_text=True)
    assert "Move your meeting" in other_day and "reschedule" in days[1][0]
    later = _slots(other_day)[0]
    assert later[:10] != slots[0][:10]
    moved = _post(client, token, f"/meetings/{meeting.id}/reschedule", starts_at=later)
    assert moved.status_code == 200 and "Moved to" in moved.get_data(as_text=True)
    meeting = fresh(Meeting, meeting.id)
    assert meeting.starts_at == datetime.fromisoformat(later) and meeting.sequence == 1
    assert fresh(Deal, deal.id).facts["dm_meeting_date"] == local(meeting.starts_at, rep_zone(meeting.user)).date().isoformat()
    cancelled = _post(client, token, f"/meetings/{meeting.id}/cancel")
    assert cancelled.status_code == 200 and "Cancelled the meeting" in cancelled.get_data(as_text=True)
    assert fresh(Meeting, meeting.id).status == "cancelled"


def test_another_rooms_meeting_is_a_404(client, key_for, deal, org, csrf_on):
    _, token = _room(client, key_for, deal)
    other = factories.make_deal(org, owner=deal.owner, title="Other deal")
    _, other_token = _room(client, key_for, other, email="sam@other.example")
    slot = _slots(client.get(f"/r/{other_token}").get_data(as_text=True))[0]
    _post(client, other_token, "/book", starts_at=slot, length="30")
    theirs = Meeting.query.one()
    assert _post(client, token, f"/meetings/{theirs.id}/cancel").status_code == 404
    assert _post(client, token, f"/meetings/{theirs.id}/reschedule", starts_at=slot).status_code == 404
    assert _post(client, token, "/meetings/2147483648/cancel").status_code == 404
    assert fresh(Meeting, theirs.id).status == "booked"


def test_a_time_taken_outside_the_room_is_refused_even_while_the_page_still_offers_it(client, key_for, deal,
                                                                                   csrf_on):
    """The room keeps the open times for a few seconds (app/rooms/booking.py OFFER_SECONDS); the booking
    itself checks the slot again under the rep's lock."""
    from app.booking.service import book

    _, token = _room(client, key_for, deal)
    slot = _slots(client.get(f"/r/{token}").get_data(as_text=True))[0]
    book(deal, deal.owner, None, datetime.fromisoformat(slot), 30, deal.owner)  # the rep, on the deal page
    assert slot in _slots(client.get(f"/r/{token}").get_data(as_text=True))  # still offered, for now
    refused = _post(client, token, "/book", starts_at=slot, length="30")
    assert refused.status_code == 422 and "That time is no longer open" in refused.get_data(as_text=True)
    assert slot not in _slots(refused.get_data(as_text=True))  # the refusal's page is current
    assert Meeting.query.count() == 1
