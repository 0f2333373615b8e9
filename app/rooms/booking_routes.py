"""Booking in the deal room, buyer's side: pick one of the seller's open times, move it or cancel it. The
invitation (iCalendar) goes to both sides by email; the page says what happened."""

from flask import request

from app.booking.clock import profile_for, when_text
from app.errors import Invalid
from app.extensions import limiter
from app.ids import parse_id
from app.rooms import public_bp
from app.rooms.booking import (
    book_from_room,
    cancel_from_room,
    meeting_keys_of,
    offer,
    reschedule_from_room,
)
from app.rooms.document_routes import room_documents
from app.rooms.guard_routes import checked_post
from app.rooms.public_routes import _not_found, _page, _post_limit


@public_bp.app_template_global()
def room_booking(room) -> dict:
    """What the room page's booking section offers (?length= picks a meeting length, ?reschedule= a meeting
    to move, ?day= a day)."""
    return offer(room, parse_id(request.args.get("length")), parse_id(request.args.get("reschedule")),
                 request.args.get("day"))


@public_bp.app_template_global()
def room_elsewhere(room, offered: dict | None = None) -> dict:
    """Which plan steps another part of the room confirms: {"documents": {fact key: document id}, "meeting":
    the meeting facts, "booking": whether the seller takes bookings (`offered`: the page's booking offer,
    when it has read it already)}. Their step then points there instead
    of asking for a name."""
    documents = {d.requirement: d.id for d in room_documents(room)["documents"] if d.requirement}
    booking = bool(offered["lengths"]) if offered is not None else profile_for(room.deal.owner) is not None
    return {"documents": documents, "meeting": meeting_keys_of(room.deal.pipeline_id), "booking": booking}


def _refusal(exc: Invalid) -> str:
    return "Nothing was booked: " + " ".join(str(v) for v in exc.fields.values())


@public_bp.post("/<token>/book")
@limiter.limit(_post_limit)
def book(token):
    """Book the chosen open time for the invitee."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    try:
        meeting, ready = book_from_room(row, request.form.get("starts_at"), request.form.get("length"),
                                        request.remote_addr or "", request.headers.get("User-Agent", ""))
    except Invalid as exc:
        return _page(row, token, 422, _refusal(exc), "error")
    return _page(row, token, 200, f"Booked: {when_text(meeting)}. An invitation is on its way to "
                                  f"{row.contact.email}; add it to your calendar from there.")


@public_bp.post("/<token>/meetings/<int:meeting_id>/reschedule")
@limiter.limit(_post_limit)
def reschedule(token, meeting_id):
    """Move the invitee's meeting to another open time."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    try:
        meeting = reschedule_from_room(row, meeting_id, request.form.get("starts_at"))
    except LookupError:
        return _not_found()
    except Invalid as exc:
        return _page(row, token, 422, _refusal(exc).replace("booked", "moved"), "error")
    return _page(row, token, 200, f"Moved to {when_text(meeting)}. The updated invitation is on its way.")


@public_bp.post("/<token>/meetings/<int:meeting_id>/cancel")
@limiter.limit(_post_limit)
def cancel(token, meeting_id):
    """Cancel the invitee's meeting."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    try:
        meeting = cancel_from_room(row, meeting_id)
    except LookupError:
        return _not_found()
    except Invalid as exc:
        return _page(row, token, 422, "Nothing was cancelled: " + " ".join(map(str, exc.fields.values())), "error")
    return _page(row, token, 200, f"Cancelled the meeting on {when_text(meeting)}. Both calendars are told.")
