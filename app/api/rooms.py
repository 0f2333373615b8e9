"""API: a deal's room (the mutual plan), its steps and its invitations, through the rooms service."""

from flask import abort, jsonify

from app.api import bp
from app.api.parse import check_keys, json_object, raise_if, text_value
from app.errors import Invalid
from app.models import Deal, iso
from app.rooms.service import MAX_STEP_TITLE, add_step, get_room, invite, open_room, revoke
from app.sequences.sending import base_url
from app.tenancy import current_actor, get_or_404
from app.webhooks.shapes import step_json

STEP_KEYS = {"title", "side", "due_on", "requirement"}
INVITE_KEYS = {"contact_email", "send"}


def room_json(room) -> dict:
    return {"id": room.id, "deal_id": room.deal_id, "steps": [step_json(s) for s in room.steps]}


def _room_or_404(deal_id):
    """The deal's room; 404 for another organisation's deal, or a deal whose room nobody opened yet."""
    room = get_room(get_or_404(Deal, deal_id))
    if room is None:
        abort(404)
    return room


@bp.post("/deals/<int:deal_id>/room")
def open_deal_room(deal_id):
    """Open the deal's room (201), or return it when it is open already (200)."""
    room, created = open_room(get_or_404(Deal, deal_id), current_actor())
    return jsonify(room_json(room)), 201 if created else 200


@bp.get("/deals/<int:deal_id>/room")
def show_deal_room(deal_id):
    """Return the deal's room with its steps."""
    return jsonify(room_json(_room_or_404(deal_id)))


@bp.post("/deals/<int:deal_id>/room/steps")
def add_room_step(deal_id):
    """Add a step to the deal room's plan."""
    room = _room_or_404(deal_id)
    body = json_object()
    errors = {}
    check_keys(body, STEP_KEYS, errors)
    title = text_value(body, "title", errors, limit=MAX_STEP_TITLE)
    side = text_value(body, "side", errors, limit=6)
    due_on = text_value(body, "due_on", errors, limit=10)
    if due_on is not None and not due_on.strip():
        errors["due_on"] = "must be a date (YYYY-MM-DD), or null for none"
    requirement = text_value(body, "requirement", errors, limit=64)
    raise_if(errors)
    step = add_step(room, current_actor(), title=title, side=side if side is not None else "buyer",
                    due_on=due_on, requirement=requirement)
    return jsonify(step_json(step)), 201


@bp.post("/deals/<int:deal_id>/room/invites")
def invite_to_room(deal_id):
    """Give a contact a link to the room (and email it with `send`)."""
    room = _room_or_404(deal_id)
    body = json_object()
    errors = {}
    check_keys(body, INVITE_KEYS, errors)
    email = text_value(body, "contact_email", errors, limit=254)
    if "contact_email" not in errors and email is None:
        errors["contact_email"] = "is required"
    send = body.get("send", False)
    if send is not None and not isinstance(send, bool):
        errors["send"] = "must be true or false"
    raise_if(errors)
    made = invite(room, current_actor(), email, send=bool(send), base_url=base_url(room.org_id))
    return jsonify({"url": made.url, "contact_email": made.contact_email,
                    "expires_at": iso(made.expires_at)}), 201


@bp.delete("/deals/<int:deal_id>/room/invites/<path:contact_email>")
def revoke_room_invite(deal_id, contact_email):
    """Revoke a contact's link to the room."""
    room = _room_or_404(deal_id)
    try:
        row = revoke(room, current_actor(), contact_email)
    except Invalid:  # the path names no invitation of this room: nothing there, as for an unknown id
        abort(404)
    return jsonify({"contact_email": row.contact.email, "revoked_at": iso(row.revoked_at)})
