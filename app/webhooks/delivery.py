"""Deliver the webhook outbox: claim a due row (committed) before the POST, record the answer after it.

Per subscription, deliveries go out in the order they were written: a row is claimed only
when no earlier row of its subscription is still pending, sending or retrying. The claim is
one_off.py's: an UPDATE from a due status to `sending` that only one worker's statement can
win, committed before the request. A row left `sending` by a worker that died is sent again
after STALE_CLAIM (receivers deduplicate on the event's `id`, which every try keeps).

2xx is delivered. A network error, a timeout, 429 and 5xx are retried with exponential
backoff (Retry-After honoured) while the subscription has been failing for less than a day;
then the subscription is disabled and its organisation's admins are told. A redirect (never
followed) and any other 4xx fail the delivery at once. Each URL is resolved and checked
again (app/netguard.py) right before the connection, which goes to the address checked.
"""

import hashlib
import hmac
import http.client
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from app.crypto import Unreadable, decrypt
from app.extensions import db
from app.models import Notification, User, Webhook, WebhookDelivery, utcnow
from app.models.webhooks import UNDELIVERED
from app.netguard import HostRefused, internal_hosts_allowed, is_public, resolve

WEBHOOK_SECRETS = b"stagegate webhook secrets"
STALE_CLAIM = timedelta(minutes=5)  # a delivery still `sending` after this was cut off: send it again
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=2)
GIVE_UP_AFTER = timedelta(days=1)  # a subscription failing this long is disabled
MAX_RETRY_AFTER = timedelta(hours=6)
KEPT_ANSWER = 500  # bytes of the endpoint's answer kept in the log
USER_AGENT = "Stagegate-Webhooks/1"
BATCH = 50  # rows of one subscription claimed together
COMMIT_EVERY = 10  # outcomes written at least this often within a batch
BATCH_SECONDS = 60.0  # no new try of a batch starts after this (well inside STALE_CLAIM)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Stagegate-Signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def send_due(now: datetime | None = None, limit: int = 1000) -> dict:
    """Deliver what is due, each subscription's rows in order; return counts by outcome."""
    now = now or utcnow()
    counts = {"resent": _release_cut_off(now)}
    hook_ids = db.session.execute(
        select(WebhookDelivery.webhook_id).distinct()
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status.in_(("pending", "retrying")), WebhookDelivery.next_attempt_at <= now,
               Webhook.active.is_(True))
        .order_by(WebhookDelivery.webhook_id)).scalars().all()
    db.session.rollback()
    budget = limit
    for hook_id in hook_ids:
        budget -= _deliver_hook(hook_id, now, counts, budget)
        if budget <= 0:
            break
    return counts


def _deliver_hook(hook_id: int, now: datetime, counts: dict, budget: int) -> int:
    """Send one subscription's due rows in order, a claimed batch at a time, until one is not delivered;
    return how many were tried."""
    hook = db.session.get(Webhook, hook_id)
    if hook is None or not hook.active:
        db.session.rollback()
        return 0
    try:
        secret = decrypt(hook.secret, WEBHOOK_SECRETS)
    except Unreadable:
        _disable(hook, now, "its secret cannot be read with this installation's SECRET_KEY")
        db.session.commit()
        return 0
    client = _Client(hook.url)
    db.session.rollback()
    tried = 0
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False  # the rows and the hook stay as written
    try:
        tried = _deliver_batches(client, hook_id, secret, now, counts, budget)
    except StaleDataError:  # an admin deleted the webhook meanwhile: its rows are gone, nothing to record
        db.session.rollback()
    finally:
        session.expire_on_commit = expire
        db.session.rollback()
        client.close()
    return tried


def _deliver_batches(client, hook_id: int, secret: str, now: datetime, counts: dict, budget: int) -> int:
    """Claim, send and record one batch after another until the budget is spent or a row is not delivered."""
    tried = 0
    while tried < budget:
        rows = _claim_batch(hook_id, now, min(BATCH, budget - tried))
        if not rows:
            break
        hook = db.session.get(Webhook, hook_id)
        stop, started = False, time.monotonic()
        for index, row in enumerate(rows):
            if stop or time.monotonic() - started > BATCH_SECONDS:
                _release(row)  # not tried: back in line, first of what waits
                continue
            outcome = _deliver(client, hook, row, secret, now)
            tried += 1
            counts[outcome] = counts.get(outcome, 0) + 1
            stop = outcome not in ("delivered", "failed") or not hook.active
            if index % COMMIT_EVERY == COMMIT_EVERY - 1:
                db.session.commit()
        db.session.commit()
        if stop:
            break
    return tried


def _claim_batch(hook_id: int, now: datetime, limit: int) -> list:
    """Take the subscription's next due rows, in order, for this worker (`sending`, committed), unless another
    worker is on this subscription: one_off.py's claim (a conditional UPDATE only one worker's statement wins,
    committed before any POST), over the run of rows that may go now."""
    head = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.status, WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.webhook_id == hook_id, WebhookDelivery.status.in_(UNDELIVERED))
        .order_by(WebhookDelivery.id).limit(limit)).all()
    ids = []
    for row_id, status, due_at in head:
        if status == "sending" or due_at is None or due_at > now:
            break  # an earlier row is on its way or waiting: nothing after it may go
        ids.append(row_id)
    if not ids:
        db.session.rollback()
        return []
    sending = aliased(WebhookDelivery)
    taken = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status.in_(("pending", "retrying")),
               WebhookDelivery.next_attempt_at <= now,
               ~exists().where(sending.webhook_id == hook_id, sending.status == "sending"))
        .values(status="sending", claimed_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if taken != len(ids):  # another worker got there first: leave the subscription to it
        db.session.rollback()
        return []
    rows = db.session.execute(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                              .order_by(WebhookDelivery.id)).scalars().all()
    db.session.commit()  # the claim: no other worker posts these rows now
    return rows


def _claim(row_id: int, now: datetime) -> WebhookDelivery | None:
    """Claim one row (the redeliver path and tests): the batch claim of its subscription's rows up to it."""
    row = db.session.get(WebhookDelivery, row_id)
    if row is None:
        return None
    hook_id = row.webhook_id
    db.session.rollback()
    rows = _claim_batch(hook_id, now, BATCH)
    return next((r for r in rows if r.id == row_id), None)


def _release(row: WebhookDelivery) -> None:
    row.status, row.claimed_at = ("retrying" if row.attempts else "pending"), None


def _deliver(client, hook: Webhook, row: WebhookDelivery, secret: str, now: datetime) -> str:
    body = row.body.encode()
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "Stagegate-Timestamp": str(timestamp), "Stagegate-Signature": sign(secret, timestamp, body),
               "Stagegate-Event": row.event_type, "Stagegate-Delivery": str(row.id)}
    answer = client.post(body, headers)
    row.attempts += 1
    return _record(hook, row, answer, now)


class Answer:
    """What one try came to: an HTTP status and the start of the body, or an error (retried or not)."""

    def __init__(self, status: int | None = None, body: bytes = b"", retry_after: str | None = None,
                 error: str = "", retry: bool = True):
        self.status, self.body, self.retry_after, self.error, self.retry = status, body, retry_after, error, retry


def _record(hook: Webhook, row: WebhookDelivery, answer: Answer, now: datetime) -> str:
    """Write down the try's answer (no commit); return the outcome."""
    row.next_attempt_at = None
    row.attempted_at = utcnow()
    row.response_code = answer.status
    row.response_body = answer.body[:KEPT_ANSWER].decode("utf-8", "replace")[:KEPT_ANSWER]
    status = answer.status
    if status is not None and 200 <= status < 300:
        row.status, row.error = "delivered", ""
        hook.failing_since = None
        return "delivered"
    if status is not None and 300 <= status < 400:
        row.status, row.error = "failed", "redirect not followed"
        return "failed"
    retry = answer.retry if status is None else (status == 429 or status >= 500)
    if not retry:
        row.status = "failed"
        row.error = (answer.error or f"the endpoint answered {status}; not retried")[:300]
        return "failed"
    row.error = (answer.error or f"the endpoint answered {status}")[:300]
    hook.failing_since = hook.failing_since or now
    if now - hook.failing_since >= GIVE_UP_AFTER:
        row.status = "failed"
        _disable(hook, now, f"it has failed for a day (last: {row.error})")
        return "failed"
    row.status = "retrying"
    row.next_attempt_at = now + _retry_delay(row.attempts, answer.retry_after, now)
    return "retrying"


def _retry_delay(attempts: int, retry_after: str | None, now: datetime) -> timedelta:
    """Exponential backoff (30 s, 1 min, 2 min, ... at most 2 h), or what the endpoint's Retry-After asks."""
    wanted = _parse_retry_after(retry_after, now)
    if wanted is not None:
        return min(max(wanted, timedelta(seconds=1)), MAX_RETRY_AFTER)
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def _parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when - now


def _disable(hook: Webhook, now: datetime, why: str) -> None:
    """Stop delivering to `hook` and tell its organisation's admins (no commit)."""
    hook.active = False
    hook.disabled_reason = f"Disabled {now:%Y-%m-%d %H:%M} UTC: {why}"[:300]
    admins = db.session.execute(select(User.id).where(User.org_id == hook.org_id, User.role == "admin",
                                                      User.active.is_(True))).scalars().all()
    for user_id in admins:
        key = f"webhook:{hook.id}:disabled:{now:%Y%m%d%H%M%S}:{user_id}"
        if db.session.execute(select(Notification.id).where(Notification.unique_key == key)).first() is None:
            db.session.add(Notification(org_id=hook.org_id, user_id=user_id, kind="webhook",
                                        text=f"Webhook to {hook.url} was disabled: {why}"[:300],
                                        url="/settings/webhooks", unique_key=key))


def _release_cut_off(now: datetime) -> int:
    """Deliveries claimed long ago and never recorded (the worker died mid-POST): due again, same event id."""
    taken = db.session.execute(
        update(WebhookDelivery).where(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < now - STALE_CLAIM)
        .values(status="retrying", next_attempt_at=now, error="the try was cut off (the worker stopped); sent again")
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return taken


class _Client:
    """POSTs to one subscription's URL: resolved and checked before each connection, redirects not followed,
    one kept-alive connection for the subscription's rows of one sweep."""

    def __init__(self, url: str):
        self.url = url
        parts = urlsplit(url)
        self.scheme, self.host = parts.scheme, parts.hostname or ""
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = float(current_app.config.get("WEBHOOK_TIMEOUT", 10))
        self.allow_internal = internal_hosts_allowed()
        self.conn = None

    def _connect(self) -> Answer | None:
        if self.scheme != "https" and not (self.scheme == "http" and self.allow_internal):
            return Answer(error="only https URLs are allowed", retry=False)
        try:
            addresses = resolve(self.host, self.port)
        except HostRefused as exc:
            return Answer(error=str(exc))  # DNS trouble may pass: retried
        if not self.allow_internal and not all(is_public(a) for a in addresses):
            return Answer(error=f"{self.host} resolves to a local or private network address; refused", retry=False)
        if self.scheme == "https":
            self.conn = _PinnedHTTPS(self.host, self.port, addresses[0], self.timeout)
        else:
            self.conn = _PinnedHTTP(self.host, self.port, addresses[0], self.timeout)
        return None

    def post(self, body: bytes, headers: dict) -> Answer:
        reused = self.conn is not None
        if not reused:
            refused = self._connect()
            if refused is not None:
                return refused
        try:
            return self._exchange(body, headers)
        except TimeoutError:
            self.close()
            return Answer(error=f"no answer within {self.timeout:g} s")
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
            self.close()
            if not reused:
                return Answer(error=f"connection failed: {exc.__class__.__name__}: {exc}"[:300])
            return self.post(body, headers)  # the kept-alive connection had gone: once more on a new one
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(error=f"connection failed: {exc.__class__.__name__}: {exc}"[:300])

    def _exchange(self, body: bytes, headers: dict) -> Answer:
        deadline = time.monotonic() + self.timeout
        self.conn.request("POST", self.path, body=body, headers=headers)
        self.conn.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        response = self.conn.getresponse()
        data = response.read(KEPT_ANSWER)
        if response.will_close or not response.isclosed():  # the rest of a long answer is not read
            self.close()
        return Answer(response.status, data, response.getheader("Retry-After"))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address the guard checked, whatever the name resolves to a moment later."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
