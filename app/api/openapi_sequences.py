"""OpenAPI paths and schemas of the sequences API (merged into app/api/openapi.py)."""

from app.api.openapi_base import (
    EMAIL,
    ONE_LINE,
    error,
    json_response,
    nullable,
    path_id,
    ref,
    text,
)
from app.models.sequences import STEP_TYPES
from app.sequences.merge import FIELDS
from app.sequences.replies import MAX_INBOUND_BYTES
from app.sequences.service import (
    MAX_BODY,
    MAX_NAME,
    MAX_STEPS,
    MAX_SUBJECT,
    MAX_WAIT_DAYS,
    STEP_TEXT_REQUIRED,
)


def _error(description: str, schema: str = "Error") -> dict:
    return json_response(ref(schema), description)


def _id(name: str) -> dict:
    return path_id(name)


def _setting(low: int, high: int, description: str) -> dict:
    return nullable({"type": "integer", "minimum": low, "maximum": high,
                     "description": description + " Null or absent: the default."})


TIME = {"type": ["string", "null"], "format": "date-time"}
# 401 and 429 (and a body's 400 and 413) are added to every operation by openapi.document().
MERGE = "Merge fields: " + ", ".join(f"{{{{{f}}}}}" for f in FIELDS) + "; an unknown or broken one is a 422."

WAIT_DAYS = _setting(0, MAX_WAIT_DAYS, "Days after the previous step was done (the first: after enrolment); "
                                      "default 0 for the first step, 2 after.")
OPTIONAL_TEXT = {"subject": nullable(text(MAX_SUBJECT, description=MERGE)),
                 "body": nullable(text(MAX_BODY, description=MERGE))}
REQUIRED_TEXT = {"subject": text(MAX_SUBJECT, min_length=1, pattern=ONE_LINE,
                                 description="Required: not blank and one line once trimmed. " + MERGE),
                 "body": text(MAX_BODY, min_length=1, blank=False, description="Required: not blank. " + MERGE)}


def _step_schemas() -> dict:
    """One schema per step type that needs texts (an email: subject and body), one for the types that need none."""
    free = [kind for kind in STEP_TYPES if not STEP_TEXT_REQUIRED.get(kind)]
    schemas = {"TaskStepIn": {
        "type": "object", "required": ["type"], "additionalProperties": False,
        "description": "A step that becomes a task for the owner: subject and body are optional.",
        "properties": {"type": {"enum": free}, "wait_days": WAIT_DAYS, **OPTIONAL_TEXT}}}
    for kind, needed in STEP_TEXT_REQUIRED.items():
        schemas[f"{kind.capitalize()}StepIn"] = {
            "type": "object", "required": ["type", *needed], "additionalProperties": False,
            "description": f"A{'n' if kind[0] in 'aeiou' else ''} {kind} step: {' and '.join(needed)} required.",
            "properties": {"type": {"const": kind}, "wait_days": WAIT_DAYS,
                           **{name: REQUIRED_TEXT[name] if name in needed else schema
                              for name, schema in OPTIONAL_TEXT.items()}}}
    return schemas


STEP_SCHEMAS = _step_schemas()

SCHEMAS = {
    **STEP_SCHEMAS,
    "SequenceStepIn": {"oneOf": [ref(name) for name in STEP_SCHEMAS],
                       "description": "A step; what it needs depends on its type."},
    "SequenceCreate": {
        "type": "object", "required": ["name", "steps"], "additionalProperties": False,
        "properties": {
            "name": text(MAX_NAME, min_length=1, blank=False, description="Surrounding spaces are trimmed."),
            "steps": {"type": "array", "minItems": 1, "maxItems": MAX_STEPS, "items": ref("SequenceStepIn")},
            "send_days": {"type": "string", "pattern": "^[1-7]{1,7}$",
                          "description": "ISO weekdays of the send window (1 = Monday), default 12345; "
                                         "a day written twice counts once."},
            "send_start_hour": _setting(0, 23, "First hour of the send window, default 8; before send_end_hour."),
            "send_end_hour": _setting(1, 24, "Hour the send window ends, default 18; after send_start_hour."),
            "daily_cap": _setting(1, 1000, "Emails per sending rep per day, default 40."),
            "spacing_minutes": _setting(0, 60, "Random 0..N minutes between sends, default 5."),
        },
    },
    "Sequence": {
        "type": "object",
        "required": ["id", "name", "steps", "send_days", "send_start_hour", "send_end_hour", "daily_cap",
                     "spacing_minutes"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "send_days": {"type": "string"},
            "send_start_hour": {"type": "integer"}, "send_end_hour": {"type": "integer"},
            "daily_cap": {"type": "integer"}, "spacing_minutes": {"type": "integer"},
            "steps": {"type": "array", "items": {
                "type": "object", "required": ["position", "type", "wait_days", "subject", "body"],
                "properties": {"position": {"type": "integer"}, "type": {"enum": list(STEP_TYPES)},
                               "wait_days": {"type": "integer"}, "subject": {"type": "string"},
                               "body": {"type": "string"}}}},
            "stats": {"type": "object", "description": "enrolled, sent, replied, reply_rate, bounced, "
                                                       "unsubscribed, unknown, band, steps[]"},
        },
    },
    "EnrollmentCreate": {
        "type": "object", "required": ["contact_email"], "additionalProperties": False,
        "properties": {"contact_email": EMAIL},
    },
    "Enrollment": {
        "type": "object", "required": ["id", "sequence_id", "contact_id", "status", "steps"],
        "properties": {
            "id": {"type": "integer"}, "sequence_id": {"type": "integer"}, "contact_id": {"type": "integer"},
            "status": {"enum": ["active", "paused", "replied", "finished", "bounced", "unsubscribed", "stopped"]},
            "owner_email": {"type": ["string", "null"]}, "enrolled_at": TIME, "replied_at": TIME,
            "paused_until": TIME,
            "steps": {"type": "array", "items": {
                "type": "object", "required": ["position", "type", "status", "due_at", "sent_at", "message_id"],
                "properties": {
                    "position": {"type": "integer"}, "type": {"enum": list(STEP_TYPES)},
                    "status": {"enum": ["pending", "sending", "retrying", "sent", "bounced", "failed", "unknown",
                                        "skipped", "task"],
                               "description": "sent: the relay answered 250 after the message. retrying: it answered "
                                              "4xx; tried again (5 min, 30 min, 2 h), due_at says when. bounced: it "
                                              "refused the recipient or the message (5xx). failed: still refused "
                                              "after the retries; the owner decides. unknown: cut off during the "
                                              "message; never resent on its own."},
                    "due_at": TIME, "sent_at": TIME, "message_id": {"type": ["string", "null"]}}}},
        },
    },
    "InboundResult": {
        "type": "object", "required": ["matched", "kind"],
        "properties": {"matched": {"type": "boolean"}, "enrollment_id": {"type": "integer"},
                       "kind": {"enum": ["reply", "auto_reply", "bounce", "unmatched", "unsubscribe",
                                                 "quarantined"]}},
    },
    "AlreadyEnrolled": {
        "type": "object", "required": ["error", "message", "enrollment_id"],
        "properties": {"error": {"const": "already_enrolled"}, "message": {"type": "string"},
                       "enrollment_id": {"type": "integer"}},
    },
}

_BODY_400 = error("400", "The body is not JSON or not a JSON object.")
_INVALID = error("422", "Invalid fields, each named in 'fields'.", "Invalid")

PATHS = {
    "/sequences": {
        "get": {
            "operationId": "listSequences", "summary": "The organisation's sequences.",
            "responses": {"200": json_response({"type": "object", "required": ["items"],
                                        "properties": {"items": {"type": "array", "items": ref("Sequence")}}},
                                       "Sequences.")},
        },
        "post": {
            "operationId": "createSequence", "summary": "Create a sequence of email, call and LinkedIn steps.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SequenceCreate")}}},
            "responses": {"201": json_response(ref("Sequence"), "The new sequence."), "400": _BODY_400,
                          "403": error("403", "Only managers' and admins' keys build sequences."),
                          "422": _INVALID},
        },
    },
    "/sequences/{sequence_id}": {"get": {
        "operationId": "getSequence", "summary": "One sequence with its stats per step.",
        "parameters": [_id("sequence_id")],
        "responses": {"200": json_response(ref("Sequence"), "The sequence."), "404": error("404", "No such sequence."),
                      },
    }},
    "/sequences/{sequence_id}/enrollments": {"post": {
        "operationId": "enrollContact", "summary": "Enroll a contact; the key's user is the sender.",
        "parameters": [_id("sequence_id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EnrollmentCreate")}}},
        "responses": {
            "201": json_response(ref("Enrollment"), "The enrollment."), "400": _BODY_400,
            "404": error("404", "No such sequence in your organisation."),
            "409": _error("The contact has an active or paused enrollment in this sequence.", "AlreadyEnrolled"),
            "422": error("422", "Invalid email, no contact with that email, or the contact is unsubscribed, bounced or "
                                 "suppressed, "
                                 "or the sequence has no steps.", "Invalid"),
            },
    }},
    "/enrollments/{enrollment_id}": {"get": {
        "operationId": "getEnrollment", "summary": "An enrollment with each step's status.",
        "parameters": [_id("enrollment_id")],
        "responses": {"200": json_response(ref("Enrollment"), "The enrollment."), "404": error("404", "No such enrollment."),
                      },
    }},
    "/inbound-email": {"post": {
        "operationId": "inboundEmail",
        "summary": "Hand over one inbound message (a mail provider's inbound webhook): replies stop sequences.",
        "description": "A reply is matched by In-Reply-To/References to a sent Message-ID, else by its sender. "
                       "A delivery-status report is a bounce (suppresses the address). Auto-replies "
                       "(Auto-Submitted, X-Autoreply, X-Autorespond, Precedence auto_reply/bulk/junk/list) "
                       "pause the enrollment until the return date they give, or 7 days. The same message "
                       "twice (same Message-ID) acts once. A message that cannot be handled (an address "
                       "in it longer than 254 characters, holding a NUL or not an address, or anything "
                       "else that fails) is set aside for an organisation admin to retry or drop: still a "
                       "202, with kind `quarantined`.",
        "requestBody": {"required": True, "content": {"message/rfc822": {
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_INBOUND_BYTES,
                       "description": "The raw message, headers first."}}}},
        "responses": {"202": json_response(ref("InboundResult"), "What the message was and what it matched."),
                      "403": error("403", "Only managers' and admins' keys may post inbound mail."),
                      "413": error("413", f"Larger than {MAX_INBOUND_BYTES // 2**20} MB."),
                      "422": error("422", "Not an email message (empty, no headers).", "Invalid")},
    }},
}
