"""Emit a webhook event: outbox rows written in the caller's transaction (no commit).

The services where a change happens (deals, leads, tasks, sequences, rooms) call `emit`;
this module imports none of them, so each can import it. With no subscription for the event
it costs one indexed query per event type and transaction, and builds nothing (`data` may be a
function, called only then).
"""

import json
import uuid
from collections.abc import Callable

from sqlalchemy import select

from app.extensions import db
from app.models import Webhook, WebhookDelivery, iso, utcnow
from app.models.webhooks import EVENT_TYPES
from app.queue import enqueue_after_commit
from app.webhooks.shapes import task_json

JOB = "app.jobs.deliver_webhooks"
_WAKE = "webhooks_wake_queued"
_MEMO = "webhooks_subscribers"


def emit(org_id: int, event_type: str, data: dict | Callable[[], dict]) -> int:
    """Queue `event_type` with `data` to each of the organisation's active subscriptions to it; return how many."""
    assert event_type in EVENT_TYPES, event_type
    hook_ids = _subscribers(org_id, event_type)
    if not hook_ids:
        return 0
    now = utcnow()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = json.dumps({"id": event_id, "type": event_type, "created_at": iso(now),
                       "data": data() if callable(data) else data}, separators=(",", ":"), default=str)
    for hook_id in sorted(hook_ids):
        db.session.add(WebhookDelivery(org_id=org_id, webhook_id=hook_id, event_id=event_id, event_type=event_type,
                                       body=body, status="pending", next_attempt_at=now, created_at=now))
    _wake_after_commit()
    return len(hook_ids)


def _subscribers(org_id: int, event_type: str) -> list:
    """The organisation's active subscriptions to `event_type`: one indexed query per transaction (a batch of
    200 leads asks once), forgotten at its commit or rollback."""
    session = db.session()
    memo = session.info.get(_MEMO)
    if memo is None:
        memo = session.info[_MEMO] = {}
        _on_transaction_end(session, lambda: session.info.pop(_MEMO, None))
    key = (org_id, event_type)
    if key not in memo:
        memo[key] = db.session.execute(
            select(Webhook.id).where(Webhook.org_id == org_id, Webhook.active.is_(True),
                                     Webhook.events.contains(f",{event_type},", autoescape=True))).scalars().all()
    return memo[key]


def subscribed_orgs(event_type: str) -> list:
    """The organisations with an active subscription to `event_type` (for set-based writers, such as the
    stale-reminder sweep, that insert many rows of many organisations in one statement)."""
    return db.session.execute(
        select(Webhook.org_id).distinct().where(Webhook.active.is_(True),
                                                Webhook.events.contains(f",{event_type},", autoescape=True))
    ).scalars().all()


def _on_transaction_end(session, forget) -> None:
    db.event.listen(session, "after_commit", lambda *_: forget(), once=True)
    db.event.listen(session, "after_soft_rollback", lambda *_: forget(), once=True)


def _wake_after_commit() -> None:
    """Wake the worker once per transaction (the sweep finds the rows anyway if Redis is down)."""
    session = db.session()
    if session.info.get(_WAKE):
        return
    session.info[_WAKE] = True
    _on_transaction_end(session, lambda: session.info.pop(_WAKE, None))
    enqueue_after_commit(JOB)


def task_created(task) -> None:
    """task.created for a task added to the session (flushed only when someone subscribes)."""
    emit(task.org_id, "task.created", lambda: {"task": task_json(flushed(task))})


def task_done(task) -> None:
    emit(task.org_id, "task.done", lambda: {"task": task_json(flushed(task))})


def flushed(row):
    """`row` with its id (flushed when it has none yet)."""
    if row.id is None:
        db.session.flush()
    return row
