"""The OpenAPI 3.1 document of the whole API, served at /api/v1/openapi.json."""

from flask import jsonify, request

from app.api import bp, openapi_leads, openapi_sequences
from app.api.auth import public
from app.models import FIELD_TYPES


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, schema: str = "Error") -> dict:
    return _json(_ref(schema), description)


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


DEAL_ID = {"name": "deal_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
PAGE = _query("page", {"type": "integer", "minimum": 1}, "Page number (50 items a page).")
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset."}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
FACTS = {
    "type": "object",
    "description": "Deal facts by field key: text/long_text/email/url/choice are strings, number a number, "
                   "money a decimal string, date YYYY-MM-DD, checkbox true/false, contact the contact's email.",
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}
COMMON_ERRORS = {
    "401": _error("No API key, or a key that is not valid, revoked or whose user is deactivated."),
    "429": {**_error("Too many requests for this key."),
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}},
}
BODY_ERRORS = {
    "400": _error("The body is not JSON or not a JSON object."),
    "422": _json({"oneOf": [_ref("Invalid"), _ref("GateRefused")]},
                 "Invalid fields (error 'invalid'), or the gate refused (error 'gate')."),
}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string", "examples": ["unauthorized", "not_found", "bad_request",
                                                               "forbidden", "conflict", "rate_limited"]},
                       "message": {"type": "string"}},
    },
    "Invalid": {
        "type": "object", "required": ["error", "message", "fields"],
        "properties": {"error": {"const": "invalid"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "string"}}},
    },
    "GateRefused": {
        "type": "object", "required": ["error", "message", "missing", "fields"],
        "properties": {
            "error": {"const": "gate"}, "message": {"type": "string"},
            "missing": {"type": "array", "items": {
                "type": "object", "required": ["field", "label", "when", "stage_id"],
                "properties": {"field": {"type": "string"}, "label": {"type": "string"},
                               "when": {"enum": ["entry", "exit"]}, "stage_id": {"type": "integer"}}}},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Conflict": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"const": "conflict"}, "message": {"type": "string"},
                       "deal_id": {"type": "integer"}},
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
                               "exit": {"type": "array", "items": {"type": "string"}}},
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
                       "stages": {"type": "array", "items": _ref("Stage")},
                       "fields": {"type": "array", "items": _ref("Field")}},
    },
    "Deal": {
        "type": "object",
        "required": ["id", "title", "pipeline_id", "stage_id", "status", "owner_email", "amount", "currency",
                     "facts", "version", "stage_entered_at", "created_at", "closed_at"],
        "properties": {
            "id": {"type": "integer"}, "title": {"type": "string"}, "pipeline_id": {"type": "integer"},
            "stage_id": {"type": "integer"}, "status": {"enum": ["open", "won", "lost"]},
            "owner_email": {"type": "string", "format": "email"},
            "amount": {"type": ["string", "null"], "examples": ["12500.00"]},
            "currency": {"type": "string", "minLength": 3, "maxLength": 3}, "facts": FACTS,
            "version": {"type": "integer"}, "stage_entered_at": TIME, "created_at": TIME,
            "closed_at": NULLABLE_TIME,
        },
    },
    "DealCreate": {
        "type": "object", "required": ["pipeline_id", "title"], "additionalProperties": False,
        "properties": {
            "pipeline_id": {"type": "integer"}, "title": {"type": "string", "maxLength": 200},
            "amount": {"type": ["string", "number", "null"]}, "currency": {"type": "string"},
            "owner_email": {"type": "string"}, "contact_email": {"type": "string"}, "facts": FACTS,
            "stage_id": {"type": "integer", "description": "Default: the pipeline's first open stage."},
            "created_at": {**TIME, "description": "In the past; for history moved from another CRM."},
            "stage_entered_at": {**TIME, "description": "In the past, not before created_at."},
            "reason": {"type": "string", "description": "Required when creating straight into a lost stage."},
        },
    },
    "DealPatch": {
        "type": "object", "required": ["version"], "additionalProperties": False,
        "properties": {"version": {"type": "integer"}, "title": {"type": "string"},
                       "amount": {"type": ["string", "number", "null"]}, "facts": FACTS},
    },
    "DealMove": {
        "type": "object", "required": ["stage_id"], "additionalProperties": False,
        "properties": {
            "stage_id": {"type": "integer"}, "version": {"type": "integer"}, "facts": FACTS,
            "reason": {"type": "string", "description": "Required when moving to a lost stage."},
            "loss_reason_id": {"type": "integer"},
            "at": {**TIME, "description": "Admin keys only: when the move happened (past, not before "
                                          "the deal's latest transition)."},
        },
    },
    "Transition": {
        "type": "object",
        "required": ["from_stage_id", "to_stage_id", "kind", "at", "user_email", "facts", "criteria"],
        "properties": {
            "from_stage_id": {"type": ["integer", "null"]}, "to_stage_id": {"type": "integer"},
            "kind": {"enum": ["create", "forward", "backward", "skip", "close", "reopen", "override"]},
            "at": TIME, "user_email": {"type": ["string", "null"]}, "facts": FACTS,
            "criteria": {"type": "array", "items": {"type": "object"}},
            "reason": {"type": "string"}, "override": {"type": "boolean"},
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "kind", "title", "deal_id", "contact_id", "owner_email", "due_at", "done_at"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "title": {"type": "string"},
            "deal_id": {"type": ["integer", "null"]}, "contact_id": {"type": ["integer", "null"]},
            "owner_email": {"type": "string"}, "due_at": NULLABLE_TIME, "done_at": NULLABLE_TIME,
        },
    },
}


def _page_of(item: str) -> dict:
    return {"type": "object", "required": ["items", "next_page"],
            "properties": {"items": {"type": "array", "items": _ref(item)},
                           "next_page": {"type": ["integer", "null"]}}}


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


PATHS = {
    "/pipelines": {"get": {
        "operationId": "listPipelines", "summary": "Active pipelines with stages, requirements and fields.",
        "responses": {"200": _json({"type": "array", "items": _ref("Pipeline")}, "Pipelines."), **COMMON_ERRORS},
    }},
    "/deals": {
        "get": {
            "operationId": "listDeals", "summary": "Deals by id, 50 a page.",
            "parameters": [_query("pipeline_id", {"type": "integer"}, "Only this pipeline."),
                           _query("stage_id", {"type": "integer"}, "Only this stage."),
                           _query("status", {"enum": ["open", "won", "lost"]}, "Only this status."),
                           _query("owner_email", {"type": "string"}, "Only this owner's deals."), PAGE],
            "responses": {"200": _json(_page_of("Deal"), "One page of deals."),
                          "422": _error("A filter is not valid.", "Invalid"), **COMMON_ERRORS},
        },
        "post": {
            "operationId": "createDeal", "summary": "Create a deal; the stage's entry requirements apply.",
            "requestBody": _body("DealCreate"),
            "responses": {"201": _json(_ref("Deal"), "The new deal."), **BODY_ERRORS,
                          "404": _error("The pipeline or stage is not in your organisation."), **COMMON_ERRORS},
        },
    },
    "/deals/{deal_id}": {
        "get": {
            "operationId": "getDeal", "summary": "One deal.", "parameters": [DEAL_ID],
            "responses": {"200": _json(_ref("Deal"), "The deal."), "404": _error("No such deal."),
                          **COMMON_ERRORS},
        },
        "patch": {
            "operationId": "updateDeal", "summary": "Edit title, amount and facts at the version you read.",
            "parameters": [DEAL_ID], "requestBody": _body("DealPatch"),
            "responses": {"200": _json(_ref("Deal"), "The updated deal."), **BODY_ERRORS,
                          "403": _error("The key's user may not edit this deal."),
                          "404": _error("No such deal."),
                          "409": _error("The version sent is not the deal's current version.", "Conflict"),
                          **COMMON_ERRORS},
        },
    },
    "/deals/{deal_id}/move": {"post": {
        "operationId": "moveDeal", "summary": "Move a deal to a stage through the gate.",
        "parameters": [DEAL_ID], "requestBody": _body("DealMove"),
        "responses": {"200": _json(_ref("Deal"), "The moved deal."), **BODY_ERRORS,
                      "403": _error("The key's user may not move this deal, or 'at' without an admin key."),
                      "404": _error("No such deal or stage."),
                      "409": _error("The version sent is not the deal's current version.", "Conflict"),
                      **COMMON_ERRORS},
    }},
    "/deals/{deal_id}/transitions": {"get": {
        "operationId": "listTransitions", "summary": "A deal's stage history with the criteria checked.",
        "parameters": [DEAL_ID],
        "responses": {"200": _json({"type": "array", "items": _ref("Transition")}, "Transitions, oldest first."),
                      "404": _error("No such deal."), **COMMON_ERRORS},
    }},
    "/tasks": {"get": {
        "operationId": "listTasks", "summary": "Tasks by id, 50 a page.",
        "parameters": [_query("owner_email", {"type": "string"}, "Only this owner's tasks."),
                       _query("status", {"enum": ["open", "done"]}, "Open or done tasks."),
                       _query("deal_id", {"type": "integer"}, "Only this deal's tasks."), PAGE,
                       *openapi_leads.TASK_FILTERS],
        "responses": {"200": _json(_page_of("Task"), "One page of tasks."),
                      "422": _error("A filter is not valid.", "Invalid"), **COMMON_ERRORS},
    }},
    "/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This document.", "security": [],
        "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
    }},
}

from app.api import openapi_metrics  # noqa: E402

PATHS.update(openapi_metrics.PATHS)
SCHEMAS.update(openapi_metrics.SCHEMAS)


PATHS.update(openapi_sequences.PATHS)
SCHEMAS.update(openapi_sequences.SCHEMAS)
PATHS.update(openapi_leads.PATHS)
SCHEMAS.update(openapi_leads.SCHEMAS)


def document(server_url: str = "/api/v1") -> dict:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stagegate API", "version": "1",
                 "description": "Stage-gated pipeline CRM. Errors are {error, message, ...details}."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API key from the admin area or "
                                                              "`flask create-api-key`."}},
            "schemas": SCHEMAS,
        },
    }


@bp.get("/openapi.json")
@public
def openapi():
    """Serve the OpenAPI document (no key needed)."""
    return jsonify(document(request.script_root + "/api/v1"))
