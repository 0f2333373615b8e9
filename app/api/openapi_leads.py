"""OpenAPI paths and schemas of the leads API (merged into the document by app/api/openapi.py)."""

from app.api.openapi_base import (
    EMAIL,
    ID,
    TIME,
    email,
    error,
    error_schema,
    json_response,
    nullable,
    ref,
    text,
)
from app.api.parse import EMAIL_MAX, TIME_MAX
from app.leads.service import LIMITS, UTM_KEYS, UTM_LIMIT
from app.models.leads import EVENT_TYPES

# 401 and 429 (and a body's 400 and 413) are added to every operation by openapi.document().
BODY_ERRORS = {"422": error("422", "Invalid fields (error 'invalid'), each named in 'fields'.", "Invalid")}
# null or absent is empty.
LEAD_TEXT = "^[^\\x00\\ufffd]*$"
TEXT = {name: nullable(text(limit, pattern=LEAD_TEXT)) for name, limit in LIMITS.items()}
SCORE = {"type": "integer", "minimum": 0, "maximum": 100}
STATUS = {"type": "string", "description": "new, mql or hot as the score says; a rep's own status "
                                           "(working, qualified, customer, disqualified) stays put."}

SCHEMAS = {
    "LeadCreate": {
        "type": "object", "required": ["email"], "additionalProperties": False,
        "properties": {
            "email": email(forbidden="\\ufffd"),  # lead text refuses U+FFFD (LEAD_TEXT)
            **{name: TEXT[name] for name in ("name", "company", "title", "industry", "company_size", "country",
                                              "phone", "source")},
            "utm": nullable({"type": "object", "additionalProperties": False,
                             "properties": {key: nullable(text(UTM_LIMIT, pattern=LEAD_TEXT)) for key in UTM_KEYS}}),
        },
    },
    "LeadResult": {
        "type": "object",
        "required": ["contact_id", "score", "fit", "engagement", "hot", "status", "owner_email"],
        "properties": {"contact_id": {"type": "integer"}, "score": SCORE, "fit": {"type": "integer"},
                       "engagement": {"type": "integer"}, "hot": {"type": "boolean"}, "status": STATUS,
                       "owner_email": {"type": ["string", "null"]}},
    },
    "EventCreate": {
        "type": "object", "required": ["contact_email", "type"], "additionalProperties": False,
        "properties": {
            "contact_email": EMAIL,
            "type": {"enum": list(EVENT_TYPES)},
            "at": nullable({**TIME, "maxLength": TIME_MAX,
                            "description": TIME["description"] + " Default now; future times count as now."}),
        },
    },
    "EventResult": {
        "type": "object", "required": ["contact_id", "score", "hot", "status"],
        "properties": {"contact_id": {"type": "integer"}, "score": SCORE, "hot": {"type": "boolean"},
                       "status": STATUS},
    },
    "Contact": {
        "type": "object",
        "required": ["id", "email", "name", "company", "title", "owner_email", "status", "score", "fit",
                     "engagement", "hot", "unsubscribed", "breakdown"],
        "properties": {
            "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
            "company": {"type": ["string", "null"]}, "title": {"type": "string"},
            "owner_email": {"type": ["string", "null"]}, "status": STATUS, "score": SCORE,
            "fit": {"type": "integer"}, "engagement": {"type": "integer"}, "hot": {"type": "boolean"},
            "unsubscribed": {"type": "boolean"},
            "breakdown": {"type": "array", "description": "Every rule that gave points; they add up to the "
                                                         "score before the cap of 100.",
                          "items": {"type": "object", "required": ["rule", "points"],
                                    "properties": {"rule": {"type": "string"}, "points": {"type": "integer"},
                                                   "at": {"type": "string", "format": "date-time"}}}},
        },
    },
}

CONTACT_ID = {"name": "contact_id", "in": "path", "required": True, "schema": ID}

PATHS = {
    "/leads": {"post": {
        "operationId": "createLead",
        "summary": "Create a lead (201), or update the contact with this email (200); scored from fit alone.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("LeadCreate")}}},
        "responses": {"201": json_response(ref("LeadResult"), "A new lead."),
                      "200": json_response(ref("LeadResult"), "The existing contact with this email, updated."),
                      **BODY_ERRORS},
    }},
    "/events": {"post": {
        "operationId": "createEvent", "summary": "Record what a lead did and rescore it.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EventCreate")}}},
        "responses": {"202": json_response(ref("EventResult"), "Recorded and rescored."),
                      "404": json_response(error_schema("unknown_contact"), "No contact with that email."),
                      **BODY_ERRORS},
    }},
    "/contacts": {"get": {
        "operationId": "findContacts", "summary": "The contact with this email (case-insensitive).",
        "parameters": [{"name": "email", "in": "query", "required": True,
                        "schema": text(EMAIL_MAX, min_length=1, blank=False),
                        "description": "The email address."}],
        "responses": {"200": json_response({"type": "object", "required": ["items"],
                                    "properties": {"items": {"type": "array", "items": ref("Contact")}}},
                                   "Zero or one contact."),
                      "422": error("422", "No email, or one that is too long.", "Invalid")},
    }},
    "/contacts/{contact_id}": {"get": {
        "operationId": "getContact", "summary": "One contact with its score and breakdown.",
        "parameters": [CONTACT_ID],
        "responses": {"200": json_response(ref("Contact"), "The contact."),
                      "404": error("404", "No such contact in your organisation.")},
    }},
}

TASK_FILTERS = [
    {"name": "contact_id", "in": "query", "required": False, "schema": ID,
     "description": "Only this contact's tasks."},
    {"name": "kind", "in": "query", "required": False, "schema": text(20),
     "description": "Only tasks of this kind (e.g. lead_follow_up, hot_lead)."},
]
