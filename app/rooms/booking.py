"""Booking from the deal room: the invitee picks one of the deal owner's open slots, reschedules or cancels
their meeting. A booking confirms the plan's meeting step as that buyer and writes its fact (e.g. "DM
meeting scheduled", the meeting's day) through `record_buyer_fact`, in the booking's own transaction.

Which step a booking confirms: the room's open buyer steps whose requirement is a date fact about a meeting
(its key or label says "meeting"), as the templates name them. A pipeline without one books the meeting and
confirms nothing.
"""

import time
from datetime import datetime, timedelta

from sqlalchemy import select

from app.booking.clock import local, profile_for, rep_zone, when_text, zone_for
from app.booking.service import book, cancel, reschedule, slots_by_day
from app.deals.service import MAX_ID, record_buyer_fact
from app.errors import Invalid
from app.extensions import db
from app.models import Activity, FieldDef, Meeting
from app.rooms.service import mark_confirmed, ready_stage, tell_owner
from app.timezones import utcnow
from app.webhooks.events import emit, flushed
from app.webhooks.shapes import meeting_json

LOOK_AHEAD = timedelta(days=14)  # the room offers the days with open times in the next two weeks
# The open times a room shows, per (rep, length, meeting being moved), kept for OFFER_SECONDS in this process:
# every buyer of the rep's rooms reads the same calendar, and laying it out was half the page's time. A
# booking, move or cancellation from a room clears its rep's entries here; one made elsewhere (the rep's
# side, another worker) shows within OFFER_SECONDS. A taken time is never booked twice: `book` checks the
# slot again under the rep's lock and says "That time is no longer open".
OFFER_SECONDS = 20
_offers: dict = {}


def meeting_keys(pipeline) -> set:
    """The date facts that say a meeting is scheduled."""
    return {f.key for f in pipeline.active_fields if _says_meeting(f.key, f.label, f.type)}


def meeting_keys_of(pipeline_id: int) -> set:
    """meeting_keys for a pipeline not loaded: one statement over its date fields (the room page's way)."""
    rows = db.session.execute(select(FieldDef.key, FieldDef.label).where(
        FieldDef.pipeline_id == pipeline_id, FieldDef.type == "date", FieldDef.archived.is_(False))).all()
    return {key for key, label in rows if _says_meeting(key, label, "date")}


def _says_meeting(key: str, label: str, kind: str) -> bool:
    return kind == "date" and ("meeting" in key.lower() or "meeting" in label.lower())


def offer(room, length: int | None = None, reschedule_id: int | None = None, day: str | None = None) -> dict:
    """What the room's booking section shows: the owner's lengths, the chosen one, the days with open times
    (two weeks ahead) and the chosen day's times (the first such day unless `day`, YYYY-MM-DD, names
    another), and the room's meetings (booked, not ended). One day's times at a time keeps a phone's page
    short: a few dozen buttons, not hundreds."""
    rep = room.deal.owner
    profile = profile_for(rep)
    lengths = profile.length_list if profile is not None else []
    chosen = length if length in lengths else (lengths[0] if lengths else None)
    days = _open_days(rep, profile, chosen, reschedule_id) if chosen else []
    picked = next((d for d in days if d[0].isoformat() == day), days[0] if days else None)
    meetings = (Meeting.query.filter(Meeting.room_id == room.id, Meeting.status == "booked",
                                     Meeting.ends_at > utcnow()).order_by(Meeting.starts_at).all())
    return {"lengths": lengths, "length": chosen, "days": [(d, len(times)) for d, times in days],
            "day": picked[0] if picked else None, "times": picked[1] if picked else [], "zone": zone_for(profile, rep).key,
            "meetings": [(m, when_text(m)) for m in meetings], "reschedule_id": reschedule_id}


def _open_days(rep, profile, length: int, reschedule_id) -> list:
    # The profile's saved time in the key: new hours show at once (and no two databases share an entry).
    key, now = (rep.id, profile.id, profile.updated_at, length, reschedule_id), time.monotonic()
    cached = _offers.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    days = slots_by_day(rep, length, ignore_meeting_id=reschedule_id, until=utcnow() + LOOK_AHEAD)
    if len(_offers) > 1000:  # a bound, not a policy: the entries live seconds
        _offers.clear()
    _offers[key] = (now + OFFER_SECONDS, days)
    return days


def _forget(rep_id: int) -> None:
    """Drop the rep's cached open times (after a booking, move or cancellation from a room)."""
    for key in [k for k in _offers if k[0] == rep_id]:
        _offers.pop(key, None)


def _start(raw) -> datetime:
    """A slot's start as the form carries it (ISO, naive UTC)."""
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 32 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is not None:
        raise Invalid({"starts_at": "Pick one of the open times."}, "Nothing was booked.")
    return value


def _length(raw) -> int:
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raise Invalid({"length": "is not a meeting length this rep offers"}, "Nothing was booked.")
    return int(raw)


def _room_meeting(room, meeting_id) -> Meeting:
    try:
        wanted = int(meeting_id)
    except (TypeError, ValueError):
        raise LookupError("no such meeting") from None
    meeting = db.session.get(Meeting, wanted) if 1 <= wanted <= MAX_ID else None
    if meeting is None or meeting.room_id != room.id or meeting.org_id != room.org_id:
        raise LookupError("no such meeting")
    return meeting


def book_from_room(invite, raw_start, raw_length, ip: str = "", user_agent: str = "") -> tuple[Meeting, object]:
    """Book the deal owner for the invitee; confirm the meeting step (and its fact) as theirs. Return the
    meeting and the stage the deal may now move to (or None)."""
    room, deal, contact = invite.room, invite.room.deal, invite.contact
    email = (contact.email or "").lower()
    ready: list = []

    def confirm_step(meeting: Meeting) -> None:
        ready.append(_confirm_meeting_step(room, deal, contact, meeting, ip, user_agent))
        emit(deal.org_id, "room.meeting_booked",
             lambda: {"meeting": meeting_json(flushed(meeting)), "deal_id": deal.id, "room_id": room.id})

    try:
        meeting = book(deal, deal.owner, contact, _start(raw_start), _length(raw_length), email, room_id=room.id,
                       on_booked=confirm_step)
    finally:
        _forget(deal.owner_id)
    return meeting, (ready[0] if ready else None)


def _confirm_meeting_step(room, deal, contact, meeting: Meeting, ip: str, user_agent: str):
    """Inside the booking's transaction: the open meeting step done as this buyer, its fact the meeting's day."""
    keys = meeting_keys(deal.pipeline)
    step = next((s for s in room.steps if s.side == "buyer" and s.status == "open" and s.requirement in keys), None)
    name, email, now = contact.name or contact.email, contact.email or "", utcnow()
    if step is None:
        return None
    day = local(meeting.starts_at, rep_zone(meeting.user)).date()
    mark_confirmed(step, contact, name, now, ip, user_agent)
    written = record_buyer_fact(deal, step.requirement, name, email, day)
    ready = ready_stage(deal) if written else None
    db.session.add(Activity(org_id=deal.org_id, deal_id=deal.id, contact_id=contact.id, kind="room", at=now,
                            body=f"{name} <{email}> booked {when_text(meeting)}: “{step.title}” is confirmed."))
    tell_owner(deal, step.title, f"{step.title}: booked by {name}", ready, f"room-meeting:{meeting.id}")
    return ready


def reschedule_from_room(invite, meeting_id, raw_start) -> Meeting:
    """Move the invitee's room meeting to another open time (same invitation, updated); the meeting step's
    fact follows it to the new day, still as the buyer's."""
    room, contact = invite.room, invite.contact
    try:
        meeting = reschedule(_room_meeting(room, meeting_id), _start(raw_start), (contact.email or "").lower())
    finally:
        _forget(room.deal.owner_id)
    keys = meeting_keys(room.deal.pipeline)
    step = next((s for s in room.steps if s.status == "done" and s.requirement in keys
                 and s.confirmed_contact_id == contact.id), None)
    if step is not None:
        day = local(meeting.starts_at, rep_zone(meeting.user)).date()
        if record_buyer_fact(room.deal, step.requirement, step.confirmed_name or contact.email, contact.email, day):
            db.session.commit()
    return meeting


def cancel_from_room(invite, meeting_id) -> Meeting:
    """Cancel the invitee's room meeting (the invitation is withdrawn). The fact it confirmed stays: the
    rep sees the cancellation on the timeline and decides."""
    meeting = _room_meeting(invite.room, meeting_id)
    try:
        return cancel(meeting, (invite.contact.email or "").lower())
    finally:
        _forget(meeting.user_id)
