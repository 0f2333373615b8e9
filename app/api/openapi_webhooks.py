"""OpenAPI paths and schemas of the webhooks API (merged into app/api/openapi.py)."""

from app.api.openapi_base import ID, NULLABLE_TIME, error, json_response, path_id, ref
from app.models.webhooks import DELIVERY_STATUSES, EVENT_TYPES
from app.webhooks.service import MAX_URL

WEBHOOK_ID = path_id("webhook_id", "A webhook of your organisation.")
DELIVERY_ID = path_id("delivery_id", "A delivery of this webhook.")
ADMINS = error("403", "Webhooks need an admin's API key.")
NO_WEBHOOK = error("404", "No such webhook in your organisation.")
EVENTS = {"type": "array", "minItems": 1, "maxItems": len(EVENT_TYPES), "items": {"enum": list(EVENT_TYPES)}}
URL = {"type": "string", "format": "uri", "maxLength": MAX_URL,
       "pattern": "^https?://[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*"
                  "(?::[1-9][0-9]{0,3})?(?:/[A-Za-z0-9._~/-]*)?$",
       "description": "https (plain http only where the installation sets ALLOW_INTERNAL_HOSTS=1). A host that "
                      "does not resolve, or resolves to a loopback, private or link-local address, is a 422 "
                      "naming `url` (unless ALLOW_INTERNAL_HOSTS=1)."}

SCHEMAS = {
    "Webhook": {
        "type": "object", "required": ["id", "url", "events", "active", "disabled_reason"],
        "properties": {"id": ID, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
                       "active": {"type": "boolean", "description": "False once it failed for a day (admins "
                                                                   "are told); re-enable it in Settings."},
                       "disabled_reason": {"type": ["string", "null"]}},
    },
    "WebhookCreated": {
        "type": "object", "required": ["id", "url", "events", "secret"],
        "properties": {"id": ID, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
                       "active": {"type": "boolean"}, "disabled_reason": {"type": ["string", "null"]},
                       "secret": {"type": "string", "description": "Signs every delivery (Stagegate-Signature); "
                                                                   "shown only in this answer."}},
    },
    "WebhookCreate": {
        "type": "object", "required": ["url", "events"], "additionalProperties": False,
        "properties": {"url": URL, "events": EVENTS},
    },
    "WebhookDelivery": {
        "type": "object",
        "required": ["id", "event_id", "type", "status", "attempts", "created_at", "attempted_at",
                     "next_attempt_at", "response_code", "response_body", "error", "redelivery_of"],
        "properties": {
            "id": ID, "event_id": {"type": "string", "description": "The body's `id`: the same on every try."},
            "type": {"enum": list(EVENT_TYPES)}, "status": {"enum": list(DELIVERY_STATUSES)},
            "attempts": {"type": "integer", "minimum": 0}, "created_at": NULLABLE_TIME,
            "attempted_at": NULLABLE_TIME, "next_attempt_at": NULLABLE_TIME,
            "response_code": {"type": ["integer", "null"]},
            "response_body": {"type": "string", "description": "The first 500 bytes of the endpoint's answer."},
            "error": {"type": "string"}, "redelivery_of": {"type": ["integer", "null"]},
        },
    },
    "WebhookDeleted": {"type": "object", "required": ["id", "deleted"],
                       "properties": {"id": ID, "deleted": {"const": True}}},
    "WebhookList": {"type": "object", "required": ["items"],
                    "properties": {"items": {"type": "array", "items": ref("Webhook")}}},
    "WebhookDeliveryList": {"type": "object", "required": ["items"],
                            "properties": {"items": {"type": "array", "items": ref("WebhookDelivery")}}},
}

PATHS = {
    "/webhooks": {
        "post": {
            "operationId": "createWebhook", "summary": "Subscribe a URL to events (admins' keys).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("WebhookCreate")}}},
            "responses": {"201": json_response(ref("WebhookCreated"), "The subscription with its secret."),
                          "403": ADMINS},
        },
        "get": {
            "operationId": "listWebhooks", "summary": "The organisation's webhooks (admins' keys).",
            "responses": {"200": json_response(ref("WebhookList"), "Every subscription."), "403": ADMINS},
        },
    },
    "/webhooks/{webhook_id}": {"delete": {
        "operationId": "deleteWebhook", "summary": "Delete a webhook and its delivery log (admins' keys).",
        "parameters": [WEBHOOK_ID],
        "responses": {"200": json_response(ref("WebhookDeleted"), "Deleted; events it had not delivered are "
                                                                  "dropped."), "403": ADMINS, "404": NO_WEBHOOK},
    }},
    "/webhooks/{webhook_id}/deliveries": {"get": {
        "operationId": "listWebhookDeliveries", "summary": "The webhook's latest 100 deliveries, newest first.",
        "parameters": [WEBHOOK_ID],
        "responses": {"200": json_response(ref("WebhookDeliveryList"), "The delivery log."), "403": ADMINS,
                      "404": NO_WEBHOOK},
    }},
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {"post": {
        "operationId": "redeliverWebhook", "summary": "Send a delivery's event again, with the same event id, "
                                                      "after what the webhook has queued.",
        "parameters": [WEBHOOK_ID, DELIVERY_ID],
        "responses": {"201": json_response(ref("WebhookDelivery"), "The new delivery (pending)."), "403": ADMINS,
                      "404": error("404", "No such webhook in your organisation, or no such delivery of it.")},
    }},
}
