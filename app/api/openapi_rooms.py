"""OpenAPI paths and schemas of the deal room API (merged into app/api/openapi.py)."""

from app.api.openapi_base import (
                EMAIL,
                ID,
                NULLABLE_TIME,
                error,
                json_response,
                nullable,
                path_id,
                ref,
                text,
)
from app.rooms.service import MAX_STEP_TITLE

DEAL_ID = path_id("deal_id", "A deal of your organisation.")
NO_ROOM = error("404", "No such deal in your organisation, or its room is not open yet.")
DAY = nullable({"type": "string", "format": "date", "minLength": 10, "maxLength": 10,
                "pattern": "^(19[7-9][0-9]|20[0-9][0-9]|2100)-[0-9]{2}-[0-9]{2}$",
                "description": "YYYY-MM-DD, a real day from 1970 to 2100; null or absent: no date."})

SCHEMAS = {
    "RoomStep": {
        "type": "object", "required": ["id", "title", "side", "due_on", "status"],
        "properties": {
            "id": ID, "title": {"type": "string"}, "side": {"enum": ["buyer", "seller"]},
            "due_on": {"type": ["string", "null"], "format": "date"}, "status": {"enum": ["open", "done"]},
            "requirement": {"type": "string", "description": "The fact a buyer's confirmation writes."},
            "confirmed_by": {"type": ["string", "null"], "description": "The invitee's email."},
            "confirmed_at": NULLABLE_TIME,
        },
    },
    "Room": {
        "type": "object", "required": ["id", "deal_id", "steps"],
        "properties": {"id": ID, "deal_id": ID, "steps": {"type": "array", "items": ref("RoomStep")}},
    },
    "RoomStepCreate": {
        "type": "object", "required": ["title"], "additionalProperties": False,
        "properties": {
            "title": text(MAX_STEP_TITLE, min_length=1, blank=False),
            "side": nullable({"enum": ["buyer", "seller"], "description": "Default buyer."}),
            "due_on": DAY,
            # A key of the deal's own pipeline: any other text, however short, is a 422 naming it.
            "requirement": nullable({**text(64), "format": "field-key",
                                     "description": "A field key of the deal's pipeline (`fields` in GET /pipelines; "
                                                    "buyer steps only): confirming the step writes that fact."}),
        },
    },
    "RoomInviteCreate": {
        "type": "object", "required": ["contact_email"], "additionalProperties": False,
        "properties": {"contact_email": EMAIL,
                       "send": nullable({"type": "boolean", "description": "Email the link (default false)."})},
    },
    "RoomInvitation": {
        "type": "object", "required": ["url", "contact_email", "expires_at"],
        "properties": {"url": {"type": "string"}, "contact_email": {"type": "string"},
                       "expires_at": {**NULLABLE_TIME, "description": "Null while the deal is open; 30 days "
                                                                      "after it closed otherwise."}},
    },
    "RoomInviteRevoked": {
        "type": "object", "required": ["contact_email", "revoked_at"],
        "properties": {"contact_email": {"type": "string"}, "revoked_at": NULLABLE_TIME},
    },
}

PATHS = {
    "/deals/{deal_id}/room": {
        "post": {
            "operationId": "openDealRoom", "summary": "Open the deal's room (201), or return it if open (200).",
            "parameters": [DEAL_ID],
            "responses": {"201": json_response(ref("Room"), "The room, opened now with a step per buyer "
                                                             "requirement of the pipeline."),
                          "200": json_response(ref("Room"), "The room, already open."),
                          "403": error("403", "Only the deal's owner or a manager changes its room."),
                          "404": error("404", "No such deal in your organisation.")},
        },
        "get": {
            "operationId": "getDealRoom", "summary": "The deal's room and its steps.", "parameters": [DEAL_ID],
            "responses": {"200": json_response(ref("Room"), "The room."), "404": NO_ROOM},
        },
    },
    "/deals/{deal_id}/room/steps": {"post": {
        "operationId": "addDealRoomStep", "summary": "Add a step to the room's plan.", "parameters": [DEAL_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("RoomStepCreate")}}},
        "responses": {"201": json_response(ref("RoomStep"), "The step."),
                      "403": error("403", "Only the deal's owner or a manager changes its room."),
                      "404": NO_ROOM},
    }},
    "/deals/{deal_id}/room/invites": {"post": {
        "operationId": "inviteToDealRoom", "summary": "Give a contact a link to the room (a new link ends "
                                                      "their older one).",
        "parameters": [DEAL_ID],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("RoomInviteCreate")}}},
        "responses": {"201": json_response(ref("RoomInvitation"), "The link (shown only here)."),
                      "403": error("403", "Only the deal's owner or a manager changes its room."),
                      "404": NO_ROOM},
    }},
    "/deals/{deal_id}/room/invites/{contact_email}": {"delete": {
        "operationId": "revokeDealRoomInvite", "summary": "Revoke a contact's link to the room.",
        "parameters": [DEAL_ID, {"name": "contact_email", "in": "path", "required": True,
                                 "schema": text(254, min_length=1), "description": "The invitee's email."}],
        "responses": {"200": json_response(ref("RoomInviteRevoked"), "Revoked."),
                      "403": error("403", "Only the deal's owner or a manager changes its room."),
                      "404": error("404", "No such deal in your organisation, its room is not open, or the "
                                          "contact has no invitation to it.")},
    }},
}
