"""API: leads, events and contacts (shared/API.md "Leads, contacts and events")."""

from flask import jsonify

from app.api import bp
from app.api.errors import error_response
from app.api.parse import check_keys, json_object, query_text, raise_if, time_value
from app.leads import service
from app.leads.scoring import ScoreResult
from app.models import Contact
from app.models.leads import EVENT_TYPES
from app.tenancy import current_actor, get_or_404, scoped
from app.webhooks import shapes

LEAD_KEYS = ("email", "name", "company", "title", "industry", "company_size", "country", "phone", "source", "utm")
EVENT_KEYS = ("contact_email", "type", "at")


def contact_json(contact: Contact, result=None) -> dict:
    b = result or service.breakdown(contact)
    return shapes.contact_json(contact, b.breakdown if isinstance(b, ScoreResult) else b.items)


@bp.post("/leads")
def create_lead():
    """Create a lead, or update the contact with its email (never a twin)."""
    body = json_object()
    errors: dict = {}
    check_keys(body, LEAD_KEYS, errors)
    raise_if(errors)
    contact, created, result = service.create_or_update_lead(current_actor(), body)
    response = jsonify({
        "contact_id": contact.id, "score": result.score, "fit": result.fit, "engagement": result.engagement,
        "hot": result.hot, "status": contact.lead_status,
        "owner_email": contact.owner.email if contact.owner else None,
    })
    response.status_code = 201 if created else 200
    return response


@bp.post("/events")
def create_event():
    """Record what a lead did; rescore it (202)."""
    body = json_object()
    errors: dict = {}
    check_keys(body, EVENT_KEYS, errors)
    email = body.get("contact_email")
    if not isinstance(email, str) or not email.strip() or len(email) > 254:
        errors["contact_email"] = "is required: the email of one of your contacts"
    elif "\x00" in email:
        errors["contact_email"] = "must not contain NUL characters"
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        errors["type"] = "must be one of: " + ", ".join(EVENT_TYPES)
    at = time_value(body, "at", errors)
    raise_if(errors)
    result = service.record_event_by_email(current_actor().org_id, email.strip().lower(), kind, at)
    if result is None:
        return error_response(404, "unknown_contact", "Your organisation has no contact with that email.")
    contact = get_or_404(Contact, result.contact_id)
    response = jsonify({"contact_id": contact.id, "score": result.score, "hot": result.hot,
                        "status": contact.lead_status})
    response.status_code = 202
    return response


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id):
    """One contact with its score and every reason for it."""
    return jsonify(contact_json(get_or_404(Contact, contact_id)))


@bp.get("/contacts")
def find_contacts():
    """Contacts by email (case-insensitive)."""
    errors: dict = {}
    email = query_text("email", errors).lower()
    if not email and "email" not in errors:
        errors["email"] = "is required"
    raise_if(errors)
    rows = scoped(Contact).filter(Contact.email == email).limit(1).all()
    return jsonify({"items": [contact_json(c) for c in rows]})
