"""API: sequences, enrollments, and inbound email (replies, auto-replies, bounces)."""

from flask import jsonify, request

from app.api import bp
from app.api.errors import error_response
from app.api.parse import check_keys, json_object, raise_if, text_value, whole_number
from app.contacts.service import clean_email
from app.errors import Forbidden, Invalid
from app.models import Contact, Enrollment, Sequence
from app.sequences import service
from app.sequences.quarantine import receive
from app.sequences.replies import MAX_INBOUND_BYTES
from app.tenancy import current_actor, get_or_404, scoped

CREATE_KEYS = {"name", "steps", "send_days", "send_start_hour", "send_end_hour", "daily_cap", "spacing_minutes"}
NUMBERS = ("send_start_hour", "send_end_hour", "daily_cap", "spacing_minutes")


def _json_numbers(values: dict, names, errors: dict, prefix: str = "") -> dict:
    """JSON in: a whole number must be a JSON number (the web forms' "7" is not one); 7.0 counts as 7."""
    out = dict(values)
    for name in names:
        value = values.get(name)
        if value is None:
            continue
        if not whole_number(value):
            errors[prefix + name] = "must be a whole number"
        else:
            out[name] = int(value)
    return out


def _api_values(body: dict, errors: dict) -> dict:
    """The body as the service takes it, once its JSON types are the documented ones."""
    values = _json_numbers(body, NUMBERS, errors)
    days = body.get("send_days")
    if days is not None and not isinstance(days, str):
        errors["send_days"] = "must be a string of ISO weekdays such as 12345"
    elif isinstance(days, str) and days and all(c in "1234567" for c in days):
        values["send_days"] = "".join(sorted(set(days)))  # a day written twice counts once
    steps = body.get("steps")
    if isinstance(steps, list):
        values["steps"] = [_json_numbers(step, ("wait_days",), errors, f"steps[{i}].")
                           if isinstance(step, dict) else step for i, step in enumerate(steps)]
    return values


@bp.post("/sequences")
def create_sequence():
    """Create a sequence with its steps (managers' and admins' keys)."""
    body = json_object()
    errors: dict = {}
    check_keys(body, CREATE_KEYS, errors)
    values = _api_values(body, errors)
    raise_if(errors)
    sequence = service.save_sequence(current_actor(), values)
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
        except Invalid as exc:
            errors["contact_email"] = exc.fields["email"]
    raise_if(errors)
    actor = current_actor()
    contact = scoped(Contact).filter(Contact.email == email).first()
    if contact is None:
        # A 422 naming the body's field, as for an unsubscribed or bounced contact: a 404 here would say
        # the sequence in the path is missing (and deals' contact_email answers the same way).
        raise_if({"contact_email": "is not a contact of this organisation"})
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
    """Take one raw RFC 5322 message (a provider's inbound webhook): reply, auto-reply, bounce or unmatched.

    A message that cannot be handled is set aside for an admin ("quarantined"), still a 202: the
    provider has delivered it and must not retry; a body that is not an email at all is a 422.
    """
    actor = current_actor()
    if not actor.has_role("manager"):
        raise Forbidden("Inbound mail needs a manager's or admin's key.")
    try:
        raw = _raw_body()
    except _TooLarge:
        return error_response(413, "too_large", f"The message is larger than {MAX_INBOUND_BYTES // 2**20} MB; "
                                                "it was not read.")
    return jsonify(receive(actor.org_id, [raw], source="webhook")[0]), 202
