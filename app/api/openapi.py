"""The OpenAPI 3.1 document of the whole API, served at /api/v1/openapi.json.

This module holds the core operations (pipelines, deals, tasks). Each other area keeps its
operations in `app/api/openapi_<area>.py`, exposing `PATHS` and `SCHEMAS`, and joins the
document with ONE line in the AREAS block below. `document()` then completes every
operation the same way (the key's 401/429, a body's 400/413/422, a path id's 404), so an
area documents only what is its own: its 2xx answers (with links from a created object's id to
the operations on it), and errors with codes of its own, e.g.
`json_response(error_schema("unknown_contact"), "...")` for a 404 or `error_schema("already_enrolled")`
for a 409. Build request schemas from openapi_base (ID, EMAIL, text(), nullable()) with the
bounds the code enforces. tests/api/test_schemathesis.py fuzzes whatever is here, and
tests/api/test_openapi_bounds.py needs a valid baseline body for each new operation.
"""

from flask import jsonify, request

from app.api import (
    bp,
    openapi_board,
    openapi_criteria,
    openapi_leads,
    openapi_metrics,
    openapi_rooms,
    openapi_sequences,
    openapi_webhooks,
)
from app.api.auth import public
from app.api.openapi_base import (
    EMAIL,
    ID,
    NULLABLE_TIME,
    PAGE,
    RATE_LIMITED,
    TIME,
    UNPROCESSABLE,
    body,
    error,
    json_response,
    nullable,
    page_of,
    path_id,
    query,
    query_email,
    query_id,
    ref,
    text,
)
from app.api.openapi_base import SCHEMAS as BASE_SCHEMAS
from app.api.parse import AMOUNT_PATTERN, CURRENCY_PATTERN, TIME_MAX
from app.deals.facts import MAX_LONG_TEXT
from app.deals.service import CLOSE_YEARS, MAX_REASON, MAX_TITLE
from app.models import FIELD_TYPES

DEAL_ID = path_id("deal_id", "A deal of your organisation.")
FACT_VALUE = {"type": ["string", "number", "boolean", "null"]}
FACTS = {
    "type": "object",
    "description": "Deal facts by field key (the pipeline's `fields`): text/long_text/email/url/choice are strings, "
                   "number a number, money a decimal string, date YYYY-MM-DD, checkbox true/false, contact the "
                   "contact's email; null clears a fact. A key the pipeline does not have, or a value its field "
                   "refuses, is a 422 naming that key.",
    "additionalProperties": FACT_VALUE,
}
TIME_IN = {**TIME, "maxLength": TIME_MAX}
AMOUNT = {
    "anyOf": [{"type": "string", "pattern": AMOUNT_PATTERN, "examples": ["12500.00"]},
              {"type": "number", "minimum": 0, "exclusiveMaximum": 999_999_999_999.995}, {"type": "null"}],
    "description": "A decimal string such as \"12500.00\" (or a number) from 0 to 999,999,999,999.99; "
                   "\"\" or null: no amount.",
}
TITLE = text(MAX_TITLE, min_length=1, blank=False, description="Not blank; surrounding spaces are trimmed.")
REASON = nullable(text(MAX_REASON))
OVERRIDE_REASON = {**REASON, "description": "Managers' and admins' keys only (a rep's key gets 403): pass the "
                   "gate without the missing facts; recorded as an override in the history."}
VERSION = {"type": "integer", "description": "The deal's version as you read it (optimistic locking)."}
assert CLOSE_YEARS == (1970, 2100), "update CLOSE_DATE's pattern"
CLOSE_DATE = nullable({"type": "string", "format": "date", "minLength": 10, "maxLength": 10,
                       "pattern": "^(19[7-9][0-9]|20[0-9][0-9]|2100)-[0-9]{2}-[0-9]{2}$",
                       "description": "When the deal is expected to close: YYYY-MM-DD, a real day from 1970 to "
                                      "2100; null: none (on PATCH, null clears it)."})

SCHEMAS = {
    **BASE_SCHEMAS,
    "Organization": {
        "type": "object", "required": ["name", "slug", "time_zone", "currency"], "additionalProperties": False,
        "properties": {
            "name": {"type": "string"}, "slug": {"type": "string"},
            "time_zone": {"type": "string", "examples": ["Europe/Berlin"],
                          "description": "The IANA zone in which report periods and \"today\" are counted."},
            "currency": {"type": "string", "minLength": 3, "maxLength": 3,
                         "description": "ISO 4217 code: the default currency of deals and reports."},
        },
    },
    "Stage": {
        "type": "object",
        "required": ["id", "name", "position", "kind", "probability", "max_days", "meeting", "requirements"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "position": {"type": "integer"},
            "kind": {"enum": ["open", "won", "lost"]},
            "probability": {"type": "integer", "minimum": 0, "maximum": 100},
            "max_days": {"type": "integer", "minimum": 1}, "meeting": {"type": "boolean"},
            "requirements": {
                "type": "object", "required": ["entry", "exit"],
                "properties": {"entry": {"type": "array", "items": {"type": "string"}},
                               "exit": {"type": "array", "items": {"type": "string"}},
                               "buyer": {"type": "array", "items": {"type": "string"},
                                         "description": "Those of entry and exit that only a buyer's "
                                                        "confirmation in the deal room meets."}},
            },
        },
    },
    "Field": {
        "type": "object", "required": ["key", "label", "type", "choices"],
        "properties": {"key": {"type": "string"}, "label": {"type": "string"},
                       "type": {"enum": list(FIELD_TYPES)},
                       "choices": {"type": ["array", "null"], "items": {"type": "string"}}},
    },
    "Pipeline": {
        "type": "object", "required": ["id", "name", "stages", "fields"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                       "allow_skip": {"type": "boolean"},
                       "stages": {"type": "array", "items": ref("Stage")},
                       "fields": {"type": "array", "items": ref("Field")}},
    },
    "Deal": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "title", "pipeline_id", "stage_id", "status", "owner_email", "amount", "currency",
                     "facts", "facts_meta", "version", "stage_entered_at", "created_at", "closed_at", "contact_email",
                     "expected_close_date"],
        "properties": {
            "id": ID, "title": {"type": "string"}, "pipeline_id": ID,
            "stage_id": ID, "status": {"enum": ["open", "won", "lost"]},
            "owner_email": {"type": "string"},
            "amount": {"type": ["string", "null"], "pattern": "^[0-9]+\\.[0-9]{2}$", "examples": ["12500.00"]},
            "currency": {"type": "string", "minLength": 3, "maxLength": 3},
            "facts": {"type": "object", "additionalProperties": FACT_VALUE},
            "facts_meta": {"type": "object", "description": "Where each fact came from.",
                           "additionalProperties": {
                               "type": "object", "required": ["source", "by", "at"],
                               "properties": {"source": {"enum": ["rep", "buyer", "form", "import", "api", "override"]},
                                              "by": {"type": "string"}, "at": TIME,
                                              "reason": {"type": "string"}}}},
            "version": {"type": "integer"}, "stage_entered_at": TIME, "created_at": TIME,
            "closed_at": NULLABLE_TIME,
            "contact_email": {"type": ["string", "null"], "description": "The deal's contact (its person)."},
            "expected_close_date": {"type": ["string", "null"], "format": "date"},
        },
    },
    "DealCreate": {
        "type": "object", "required": ["pipeline_id", "title"], "additionalProperties": False,
        "properties": {
            "pipeline_id": ID, "title": TITLE, "amount": AMOUNT,
            "currency": nullable({"type": "string", "pattern": CURRENCY_PATTERN,
                                  "description": "ISO 4217 code; default: the organisation's currency."}),
            "owner_email": nullable({**EMAIL, "description": "A user of your organisation (managers' and "
                                                           "admins' keys); default: the key's user."}),
            "contact_email": nullable({**EMAIL, "description": "The deal's contact (its person), found by email in "
                                                             "your organisation, added there if new."}),
            "expected_close_date": CLOSE_DATE,
            "facts": nullable(FACTS),
            "stage_id": nullable({**ID, "description": "Default: the pipeline's first open stage."}),
            "created_at": nullable({**TIME_IN, "description": "In the past; for history moved from another CRM."}),
            "stage_entered_at": nullable({**TIME_IN, "description": "In the past, not before created_at."}),
            "reason": {**REASON, "description": "Required when creating straight into a lost stage."},
            "override_reason": OVERRIDE_REASON,
        },
    },
    "DealPatch": {
        "type": "object", "required": ["version"], "additionalProperties": False,
        "properties": {"version": VERSION, "title": TITLE, "amount": AMOUNT, "facts": FACTS,
                       "expected_close_date": CLOSE_DATE},
    },
    "DealMove": {
        "type": "object", "required": ["stage_id"], "additionalProperties": False,
        "properties": {
            "stage_id": ID, "version": nullable(VERSION), "facts": nullable(FACTS),
            "reason": {**REASON, "description": "Required when moving to a lost stage."},
            "loss_reason_id": nullable(ID),
            "override_reason": OVERRIDE_REASON,
            "at": nullable({**TIME_IN, "description": "Admin keys only: when the move happened (past, not "
                                                      "before the deal's latest transition)."}),
        },
    },
    "Transition": {
        "type": "object",
        "required": ["from_stage_id", "to_stage_id", "kind", "at", "user_email", "facts", "criteria"],
        "properties": {
            "from_stage_id": {"type": ["integer", "null"]}, "to_stage_id": {"type": "integer"},
            "kind": {"enum": ["create", "forward", "backward", "skip", "close", "reopen", "override"]},
            "at": TIME, "user_email": {"type": ["string", "null"]},
            "facts": {"type": "object", "additionalProperties": FACT_VALUE},
            "criteria": {"type": "array", "items": {"type": "object"}},
            "reason": {"type": ["string", "null"]}, "override": {"type": "boolean"},
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "kind", "title", "deal_id", "contact_id", "owner_email", "due_at", "done_at"],
        "properties": {
            "id": ID, "kind": {"type": "string"}, "title": {"type": "string", "maxLength": MAX_LONG_TEXT},
            "deal_id": {"type": ["integer", "null"]}, "contact_id": {"type": ["integer", "null"]},
            "owner_email": {"type": ["string", "null"]}, "due_at": NULLABLE_TIME, "done_at": NULLABLE_TIME,
        },
    },
}

# A deal answer's id (and version) feed the operations on that deal, so stateful testing (and
# a reader) can chain them: create, then read, edit, move and list its history. A listed
# pipeline's id feeds deal creation.
DEAL_LINKS = {
    "GetDeal": {"operationId": "getDeal", "parameters": {"deal_id": "$response.body#/id"}},
    "UpdateDeal": {"operationId": "updateDeal", "parameters": {"deal_id": "$response.body#/id"},
                   "requestBody": {"version": "$response.body#/version"}},
    "MoveDeal": {"operationId": "moveDeal", "parameters": {"deal_id": "$response.body#/id"},
                 "requestBody": {"version": "$response.body#/version"}},
    "ListTransitions": {"operationId": "listTransitions", "parameters": {"deal_id": "$response.body#/id"}},
}
PIPELINE_LINKS = {
    "CreateDeal": {"operationId": "createDeal",
                   "requestBody": {"pipeline_id": "$response.body#/0/id", "stage_id": "$response.body#/0/stages/0/id"},
                   "description": "Create a deal in the first listed pipeline's first stage."},
}
# The first deal of a page feeds the operations on a deal too.
LISTED_DEAL_LINKS = {name: {**link, "parameters": {"deal_id": "$response.body#/items/0/id"},
                            **({"requestBody": {"version": "$response.body#/items/0/version"}}
                               if "requestBody" in link else {})}
                     for name, link in DEAL_LINKS.items()}


def _deal_answer(description: str) -> dict:
    return {**json_response(ref("Deal"), description), "links": DEAL_LINKS}


DEAL_404 = error("404", "No such deal in your organisation.")
CONFLICT = error("409", "The version sent is not the deal's current version.", "Conflict")

PATHS = {
    "/organization": {"get": {
        "operationId": "getOrganization", "summary": "The key's organisation: name, slug, time zone, currency.",
        "responses": {"200": json_response(ref("Organization"), "The organisation.")},
    }},
    "/pipelines": {"get": {
        "operationId": "listPipelines", "summary": "Active pipelines with stages, requirements and fields.",
        "responses": {"200": {**json_response({"type": "array", "items": ref("Pipeline")}, "Pipelines."),
                              "links": PIPELINE_LINKS}},
    }},
    "/deals": {
        "get": {
            "operationId": "listDeals", "summary": "Deals by id, 50 a page.",
            "parameters": [query_id("pipeline_id", "Only this pipeline."), query_id("stage_id", "Only this stage."),
                           query("status", {"enum": ["open", "won", "lost"]}, "Only this status."),
                           query_email("owner_email", "Only this owner's deals."), PAGE],
            "responses": {"200": {**json_response(page_of("Deal"), "One page of deals."),
                                  "links": LISTED_DEAL_LINKS},
                          "422": error("422", "A filter is not valid.", "Invalid")},
        },
        "post": {
            "operationId": "createDeal",
            "summary": "Create a deal; the gate applies as for a skip from the pipeline's start.",
            "requestBody": body("DealCreate"),
            "responses": {"201": {**_deal_answer("The new deal."), "headers": {
                              "Location": {"schema": {"type": "string"}, "description": "The deal's URL."}}},
                          "403": error("403", "The key's user may not create deals in this pipeline, or a "
                                              "rep's key sent override_reason."),
                          "404": error("404", "The pipeline or stage is not in your organisation.")},
        },
    },
    "/deals/{deal_id}": {
        "get": {
            "operationId": "getDeal", "summary": "One deal.", "parameters": [DEAL_ID],
            "responses": {"200": _deal_answer("The deal."), "404": DEAL_404},
        },
        "patch": {
            "operationId": "updateDeal",
            "summary": "Edit title, amount, company, expected close date and facts at the version you read.",
            "parameters": [DEAL_ID], "requestBody": body("DealPatch"),
            "responses": {"200": _deal_answer("The updated deal."),
                          "403": error("403", "The key's user may not edit this deal."),
                          "404": DEAL_404, "409": CONFLICT},
        },
    },
    "/deals/{deal_id}/move": {"post": {
        "operationId": "moveDeal", "summary": "Move a deal to a stage through the gate.",
        "parameters": [DEAL_ID], "requestBody": body("DealMove"),
        "responses": {"200": _deal_answer("The moved deal."),
                      "403": error("403", "The key's user may not move this deal, 'at' without an admin key, "
                                          "or override_reason with a rep's key."),
                      "404": error("404", "No such deal or stage in your organisation."),
                      "409": CONFLICT},
    }},
    "/deals/{deal_id}/transitions": {"get": {
        "operationId": "listTransitions", "summary": "A deal's stage history with the criteria checked.",
        "parameters": [DEAL_ID],
        "responses": {"200": json_response({"type": "array", "items": ref("Transition")},
                                           "Transitions, oldest first."),
                      "404": DEAL_404},
    }},
    "/tasks": {"get": {
        "operationId": "listTasks", "summary": "Tasks by id, 50 a page.",
        "parameters": [query_email("owner_email", "Only this owner's tasks."),
                       query("status", {"enum": ["open", "done"]}, "Open or done tasks."),
                       query_id("deal_id", "Only this deal's tasks."), PAGE,
                       *openapi_leads.TASK_FILTERS],
        "responses": {"200": json_response(page_of("Task"), "One page of tasks."),
                      "422": error("422", "A filter is not valid.", "Invalid")},
    }},
    "/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This document.", "security": [],
        "responses": {"200": json_response({"type": "object"}, "The OpenAPI document.")},
    }},
}


def _area(module) -> None:
    """Join an area's operations and schemas to the document (names must not clash)."""
    clash = (set(module.PATHS) & set(PATHS)) | (set(module.SCHEMAS) & set(SCHEMAS))
    assert not clash, f"{module.__name__} redefines {sorted(clash)}"
    PATHS.update(module.PATHS)
    SCHEMAS.update(module.SCHEMAS)


# AREAS: one line per area, e.g. `from app.api import openapi_leads; _area(openapi_leads)`.
_area(openapi_leads)
_area(openapi_sequences)
_area(openapi_metrics)
_area(openapi_rooms)
_area(openapi_criteria)
_area(openapi_webhooks)


def _complete(operation: dict) -> dict:
    """Add the answers every operation of its kind can give, unless it documents its own."""
    responses = dict(operation["responses"])
    secured = operation.get("security") != []
    if secured:
        responses.setdefault("401", error("401", "No API key, or a key that is not valid, revoked or whose "
                                                 "user is deactivated."))
        responses.setdefault("429", RATE_LIMITED)
    if "requestBody" in operation:
        responses.setdefault("400", error("400", "The body is not JSON or not a JSON object."))
        responses.setdefault("413", error("413", "The body is too large."))
        responses.setdefault("422", UNPROCESSABLE)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        responses.setdefault("404", error("404", "Not found in your organisation."))
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        responses.setdefault("422", error("422", "A query parameter is not valid.", "Invalid"))
    return {**operation, "responses": dict(sorted(responses.items()))}


def document(server_url: str = "/api/v1") -> dict:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stagegate API", "version": "1",
                 "description": "Stage-gated pipeline CRM. Errors are {error, message, ...details}. "
                                "No endpoint answers 500; a refused request writes nothing."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": {path: {method: _complete(op) for method, op in item.items()} for path, item in PATHS.items()},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API key from the admin area or "
                                                              "`flask create-api-key`."}},
            "schemas": openapi_board.merge(SCHEMAS),
        },
    }


@bp.get("/openapi.json")
@public
def openapi():
    """Serve the OpenAPI document (no key needed)."""
    return jsonify(document(request.script_root + "/api/v1"))
