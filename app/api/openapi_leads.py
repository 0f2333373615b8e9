"""OpenAPI paths and schemas of the leads API (merged into the document by app/api/openapi.py)."""

from app.leads.service import LIMITS, UTM_KEYS, UTM_LIMIT
from app.models.leads import EVENT_TYPES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": _json(_ref("Error"), "No API key, or a key that is not valid, revoked or whose user is deactivated."),
    "429": {**_json(_ref("Error"), "Too many requests for this key."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}},
}
BODY_ERRORS = {
    "400": _json(_ref("Error"), "The body is not JSON or not a JSON object."),
    "422": _json(_ref("Invalid"), "Invalid fields (error 'invalid'), each named in 'fields'."),
}
TEXT = {name: {"type": "string", "maxLength": limit} for name, limit in LIMITS.items()}
SCORE = {"type": "integer", "minimum": 0, "maximum": 100}
STATUS = {"type": "string", "description": "new, mql or hot as the score says; a rep's own status "
                                           "(working, qualified, customer, disqualified) stays put."}

SCHEMAS = {
    "LeadCreate": {
        "type": "object", "required": ["email"], "additionalProperties": False,
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            **{name: TEXT[name] for name in ("name", "company", "title", "industry", "company_size", "country",
                                              "phone", "source")},
            "utm": {"type": "object", "additionalProperties": False,
                    "properties": {key: {"type": "string", "maxLength": UTM_LIMIT} for key in UTM_KEYS}},
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
            "contact_email": {"type": "string", "format": "email", "maxLength": 254},
            "type": {"enum": list(EVENT_TYPES)},
            "at": {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset; "
                                                                           "default now; future times count as now."},
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

CONTACT_ID = {"name": "contact_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 1}}

PATHS = {
    "/leads": {"post": {
        "operationId": "createLead",
        "summary": "Create a lead (201), or update the contact with this email (200); scored from fit alone.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("LeadCreate")}}},
        "responses": {"201": _json(_ref("LeadResult"), "A new lead."),
                      "200": _json(_ref("LeadResult"), "The existing contact with this email, updated."),
                      **BODY_ERRORS, **ERRORS},
    }},
    "/events": {"post": {
        "operationId": "createEvent", "summary": "Record what a lead did and rescore it.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("EventCreate")}}},
        "responses": {"202": _json(_ref("EventResult"), "Recorded and rescored."),
                      "404": _json(_ref("Error"), "No contact with that email (error 'unknown_contact')."),
                      **BODY_ERRORS, **ERRORS},
    }},
    "/contacts": {"get": {
        "operationId": "findContacts", "summary": "The contact with this email (case-insensitive).",
        "parameters": [{"name": "email", "in": "query", "required": True,
                        "schema": {"type": "string", "maxLength": 254}, "description": "The email address."}],
        "responses": {"200": _json({"type": "object", "required": ["items"],
                                    "properties": {"items": {"type": "array", "items": _ref("Contact")}}},
                                   "Zero or one contact."),
                      "422": _json(_ref("Invalid"), "No email, or one that is too long."), **ERRORS},
    }},
    "/contacts/{contact_id}": {"get": {
        "operationId": "getContact", "summary": "One contact with its score and breakdown.",
        "parameters": [CONTACT_ID],
        "responses": {"200": _json(_ref("Contact"), "The contact."),
                      "404": _json(_ref("Error"), "No such contact in your organisation."), **ERRORS},
    }},
}

TASK_FILTERS = [
    {"name": "contact_id", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
     "description": "Only this contact's tasks."},
    {"name": "kind", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 20},
     "description": "Only tasks of this kind (e.g. lead_follow_up, hot_lead)."},
]
