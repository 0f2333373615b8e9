"""API: webhook subscriptions and their delivery log (admins' keys), through the webhooks service."""

from flask import abort, jsonify

from app.api import bp
from app.api.parse import check_keys, json_object, raise_if
from app.errors import Forbidden
from app.models import Webhook, WebhookDelivery
from app.tenancy import current_actor, get_or_404
from app.webhooks import service

CREATE_KEYS = {"url", "events"}


def _admin():
    actor = current_actor()
    if not actor.has_role("admin"):
        raise Forbidden("Webhooks need an admin's API key.")
    return actor


@bp.post("/webhooks")
def create_webhook():
    """Subscribe a URL to events; the answer holds the signing secret, shown only here."""
    actor = _admin()
    body = json_object()
    errors = {}
    check_keys(body, CREATE_KEYS, errors)
    raise_if(errors)
    hook, secret = service.create_webhook(actor, body.get("url"), body.get("events"))
    return jsonify({**service.webhook_json(hook), "secret": secret}), 201


@bp.get("/webhooks")
def list_webhooks():
    """The organisation's webhook subscriptions."""
    actor = _admin()
    return jsonify({"items": [service.webhook_json(h) for h in service.webhooks(actor.org_id)]})


@bp.delete("/webhooks/<int:webhook_id>")
def delete_webhook(webhook_id):
    """Delete a subscription and its delivery log."""
    actor = _admin()
    hook = get_or_404(Webhook, webhook_id)
    hook_id = hook.id
    service.delete_webhook(hook, actor)
    return jsonify({"id": hook_id, "deleted": True})


@bp.get("/webhooks/<int:webhook_id>/deliveries")
def webhook_deliveries(webhook_id):
    """The subscription's latest deliveries, newest first."""
    _admin()
    hook = get_or_404(Webhook, webhook_id)
    return jsonify({"items": [service.delivery_json(d) for d in service.deliveries(hook)]})


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
def redeliver(webhook_id, delivery_id):
    """Send one delivery's event again (same event id), after what the subscription has queued."""
    actor = _admin()
    hook = get_or_404(Webhook, webhook_id)
    delivery = get_or_404(WebhookDelivery, delivery_id)
    if delivery.webhook_id != hook.id:
        abort(404)
    return jsonify(service.delivery_json(service.redeliver(hook, delivery, actor))), 201
