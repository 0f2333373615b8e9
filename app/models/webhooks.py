"""Webhook subscriptions and their outbox: one delivery row per event and subscription.

A delivery row is written in the transaction of the change that causes the event, with its
body already serialised (so every try sends the same bytes and the same event `id`); the
worker claims and posts it. Deliveries of one subscription go out in `id` order.
"""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

EVENT_TYPES = (
    "deal.created", "deal.moved", "deal.updated", "deal.won", "deal.lost",
    "lead.created", "lead.status_changed", "task.created", "task.done",
    "enrollment.replied", "enrollment.bounced", "contact.unsubscribed",
    "room.step_confirmed", "room.meeting_booked",
)
# What happened to one delivery (WebhookDelivery.status):
#   pending    written with the change; waits for its turn (the subscription's earlier deliveries) and the worker
#   sending    claimed and committed by a worker before the POST; a worker that dies leaves it, a later sweep retries it
#   retrying   a network error, a timeout, 429 or 5xx; tried again at next_attempt_at
#   delivered  the endpoint answered 2xx
#   failed     another 4xx, a redirect (never followed), an address refused, or retried for a day
UNDELIVERED = ("pending", "sending", "retrying")
DELIVERY_STATUSES = UNDELIVERED + ("delivered", "failed")


class Webhook(TenantMixin, db.Model):
    """An organisation's subscription: where to POST which events, signed with its own secret."""

    id = db.Column(db.Integer, primary_key=True)
    url = db.Column(db.String(2000), nullable=False)
    # ",deal.created,deal.moved," : one LIKE finds the subscriptions of an event type
    events = db.Column(db.String(400), nullable=False)
    secret = db.Column(db.String(400), nullable=False)  # app.crypto.encrypt(..., WEBHOOK_SECRETS)
    active = db.Column(db.Boolean, nullable=False, default=True)
    disabled_reason = db.Column(db.String(300), nullable=False, default="")
    failing_since = db.Column(db.DateTime)  # first failed try since the last delivered one
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.Index("ix_webhook_org_active", "org_id", "active"),)

    @property
    def event_list(self) -> list:
        return [e for e in self.events.split(",") if e]


class WebhookDelivery(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    webhook_id = db.Column(db.Integer, db.ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False)
    event_id = db.Column(db.String(40), nullable=False)  # the body's "id": the same on every try and redelivery
    event_type = db.Column(db.String(40), nullable=False)
    body = db.Column(db.Text, nullable=False)
    status = db.Column(db.String(10), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime)  # pending or retrying: when it may go
    claimed_at = db.Column(db.DateTime)
    attempted_at = db.Column(db.DateTime)  # the last try
    response_code = db.Column(db.Integer)
    response_body = db.Column(db.String(500), nullable=False, default="")
    error = db.Column(db.String(300), nullable=False, default="")
    redelivery_of = db.Column(db.Integer)  # the delivery an admin asked to send again
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.Index("ix_webhook_delivery_hook_status", "webhook_id", "status", "id"),
        db.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        db.CheckConstraint("status in ('pending','sending','retrying','delivered','failed')", name="status"),
    )
