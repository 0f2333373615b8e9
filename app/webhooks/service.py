"""Webhook subscriptions: create (the secret is shown once), list, delete, re-enable, the delivery log, redeliver."""

import secrets
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from app.crypto import encrypt
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import Webhook, WebhookDelivery, utcnow
from app.models.webhooks import EVENT_TYPES
from app.netguard import HostRefused, check_host, internal_hosts_allowed
from app.queue import enqueue_after_commit
from app.webhooks.delivery import WEBHOOK_SECRETS
from app.webhooks.events import JOB

MAX_URL = 2000
MAX_HOOKS = 20  # per organisation
LOG_LENGTH = 100


def clean_url(url) -> str:
    """An https URL (http too when internal hosts are allowed) whose host resolves to public addresses."""
    if not isinstance(url, str) or not url.strip():
        raise Invalid({"url": "is required"})
    url = url.strip()
    if len(url) > MAX_URL:
        raise Invalid({"url": f"must be at most {MAX_URL} characters"})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid({"url": "is not a valid URL"}) from None
    allow_internal = internal_hosts_allowed()
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid({"url": "must be an https:// URL"})
    if parts.scheme == "http" and not allow_internal:
        raise Invalid({"url": "must be an https:// URL (plain http is allowed only with ALLOW_INTERNAL_HOSTS=1)"})
    if parts.username or parts.password:
        raise Invalid({"url": "must not hold a user name or password"})
    try:
        check_host(parts.hostname, port or (443 if parts.scheme == "https" else 80), allow_internal=allow_internal)
    except HostRefused as exc:
        raise Invalid({"url": str(exc)}) from None
    return url


def clean_events(events) -> list:
    if not isinstance(events, list) or not events:
        raise Invalid({"events": "must be a non-empty list of event types"})
    bad = [e for e in events if e not in EVENT_TYPES]
    if bad:
        raise Invalid({"events": f"unknown event type(s): {', '.join(map(str, bad))[:200]}; "
                                 f"known: {', '.join(EVENT_TYPES)}"})
    return [e for e in EVENT_TYPES if e in events]


def create_webhook(actor, url, events) -> tuple[Webhook, str]:
    """Subscribe the actor's organisation (admins only); return the subscription and its secret (shown only now)."""
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin can add webhooks.")
    errors = {}
    try:
        url = clean_url(url)
    except Invalid as exc:
        errors.update(exc.fields)
    try:
        events = clean_events(events)
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(errors)
    if db.session.query(Webhook.id).filter_by(org_id=actor.org_id).count() >= MAX_HOOKS:
        raise Invalid({"url": f"an organisation has at most {MAX_HOOKS} webhooks; delete one first"})
    secret = "whsec_" + secrets.token_hex(24)
    hook = Webhook(org_id=actor.org_id, url=url, events="," + ",".join(events) + ",",
                   secret=encrypt(secret, WEBHOOK_SECRETS), active=True, created_by_id=actor.id)
    db.session.add(hook)
    db.session.commit()
    return hook, secret


def webhooks(org_id: int) -> list:
    return db.session.execute(select(Webhook).where(Webhook.org_id == org_id).order_by(Webhook.id)).scalars().all()


def delete_webhook(hook: Webhook, actor) -> None:
    """Remove the subscription and its delivery log; what it had not delivered is never sent."""
    if not actor.has_role("admin") or actor.org_id != hook.org_id:
        raise Forbidden("Only an admin can delete webhooks.")
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    db.session.delete(hook)
    db.session.commit()


def enable_webhook(hook: Webhook, actor) -> None:
    """Turn a disabled subscription back on: what it had not delivered goes out again, in order."""
    if not actor.has_role("admin") or actor.org_id != hook.org_id:
        raise Forbidden("Only an admin can enable webhooks.")
    hook.active, hook.disabled_reason, hook.failing_since = True, "", None
    enqueue_after_commit(JOB)
    db.session.commit()


def deliveries(hook: Webhook, limit: int = LOG_LENGTH) -> list:
    """The subscription's delivery log, newest first."""
    return db.session.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
                              .order_by(WebhookDelivery.id.desc()).limit(limit)).scalars().all()


def redeliver(hook: Webhook, delivery: WebhookDelivery, actor) -> WebhookDelivery:
    """Send a delivered or failed event again, after what the subscription has queued (same event id)."""
    if not actor.has_role("admin") or actor.org_id != hook.org_id:
        raise Forbidden("Only an admin can redeliver webhooks.")
    if delivery.webhook_id != hook.id:
        raise Invalid({"delivery_id": "is not a delivery of this webhook"})
    now = utcnow()
    again = WebhookDelivery(org_id=hook.org_id, webhook_id=hook.id, event_id=delivery.event_id,
                            event_type=delivery.event_type, body=delivery.body, status="pending",
                            next_attempt_at=now, created_at=now, redelivery_of=delivery.id)
    db.session.add(again)
    enqueue_after_commit(JOB)
    db.session.commit()
    return again


def delivery_json(row: WebhookDelivery) -> dict:
    from app.models import iso

    return {"id": row.id, "event_id": row.event_id, "type": row.event_type, "status": row.status,
            "attempts": row.attempts, "created_at": iso(row.created_at), "attempted_at": iso(row.attempted_at),
            "next_attempt_at": iso(row.next_attempt_at), "response_code": row.response_code,
            "response_body": row.response_body, "error": row.error, "redelivery_of": row.redelivery_of}


def webhook_json(hook: Webhook) -> dict:
    return {"id": hook.id, "url": hook.url, "events": hook.event_list, "active": hook.active,
            "disabled_reason": hook.disabled_reason or None}
