"""API: sequences, enrollments, and inbound email (replies, auto-replies, bounces)."""

from flask import jsonify, request

from app.api import bp
from app.api.errors import error_response
from app.api.parse import check_keys, json_object, raise_if, text_value
from app.contacts.service import clean_email
from app.deals.service import Forbidden, Invalid
from app.models import Contact, Enrollment, Sequence
from app.sequences import service
from app.sequences.replies import MAX_INBOUND_BYTES, handle_inbound
from app.tenancy import current_actor, get_or_404, scoped

CREATE_KEYS = {"name", "steps", "send_days", "send_start_hour", "send_end_hour", "daily_cap", "spacing_minutes"}


@bp.post("/sequences")
def create_sequence():
    """Create a sequence with its steps (managers' and admins' keys)."""
    body = json_object()
    errors: dict = {}
    check_keys(body, CREATE_KEYS, errors)
    raise_if(errors)
    sequence = service.save_sequence(current_actor(), body)
    return jsonify(service.sequence_json(sequence)), 201


@bp.get("/sequences")
def list_sequences():
    """List the organisation's sequences with their steps."""
    rows = scoped(Sequence).filter_by(archived=False).order_by(Sequence.id).limit(500).all()
    return jsonify({"items": [service.sequence_json(s) for s in rows]})


@bp.get("/sequences/<int:sequence_id>")
def get_sequence(sequence_id):
    """One sequence with its steps and stats."""
    sequence = get_or_404(Sequence, sequence_id)
    return jsonify({**service.sequence_json(sequence), "stats": service.sequence_stats(sequence)})


@bp.post("/sequences/<int:sequence_id>/enrollments")
def enroll(sequence_id):
    """Enroll a contact by email; the key's user sends."""
    sequence = get_or_404(Sequence, sequence_id)
    body = json_object()
    errors: dict = {}
    check_keys(body, {"contact_email"}, errors)
    raw = text_value(body, "contact_email", errors, limit=254)
    if raw is None and "contact_email" not in errors:
        errors["contact_email"] = "is required"
    email = ""
    if raw is not None and "contact_email" not in errors:
        try:
            email = clean_email(raw)
        except Invalid:
            errors["contact_email"] = "is not a valid email address"
    raise_if(errors)
    actor = current_actor()
    contact = scoped(Contact).filter(Contact.email == email).first()
    if contact is None:
        return error_response(404, "unknown_contact", f"No contact {email} in your organisation.")
    try:
        enrollment = service.enroll(sequence, contact, actor)
    except service.AlreadyEnrolled as exc:
        return error_response(409, "already_enrolled", exc.message, enrollment_id=exc.enrollment.id)
    return jsonify(service.enrollment_json(enrollment)), 201


@bp.get("/enrollments/<int:enrollment_id>")
def get_enrollment(enrollment_id):
    """One enrollment with each step's status."""
    return jsonify(service.enrollment_json(get_or_404(Enrollment, enrollment_id)))


def _raw_body() -> bytes:
    length = request.content_length
    if length is not None and length > MAX_INBOUND_BYTES:
        raise _TooLarge()
    data = request.stream.read(MAX_INBOUND_BYTES + 1) if length is None else request.get_data(cache=False)
    if len(data) > MAX_INBOUND_BYTES:
        raise _TooLarge()
    return data


class _TooLarge(Exception):
    pass


@bp.post("/inbound-email")
def inbound_email():
    """Take one raw RFC 5322 message (a provider's inbound webhook): reply, auto-reply, bounce or unmatched."""
    actor = current_actor()
    if not actor.has_role("manager"):
        raise Forbidden("Inbound mail needs a manager's or admin's key.")
    try:
        raw = _raw_body()
    except _TooLarge:
        return error_response(413, "too_large", f"The message is larger than {MAX_INBOUND_BYTES // 2**20} MB; "
                                                "it was not read.")
    return jsonify(handle_inbound(actor.org_id, raw)), 202
