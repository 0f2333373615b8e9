"""One-off emails (meeting invitations): queued in the caller's transaction, sent by the worker.

Sequence steps have their own send engine (app/sequences/sending.py); this is the smallest
general path beside it, with the same delivery truth over the same transport: a message is
claimed and committed (`sending`) before the SMTP conversation, so it is sent at most once;
a 250 after the message is `sent`; a 4xx is retried (5 min, 30 min, 2 h, then `failed`); a
5xx is `bounced` (the address is suppressed only when it does not exist); a failure of the
installation (no relay, relay down, real sending off) blames nobody and tries again later;
a broken conversation is `unknown` and never resent on its own. Each row is built whole when
queued (`message` holds its bytes), so what goes out is what the change that queued it said.

A message that carries a bearer link (a deal-room invitation) is `sealed`: its bytes are kept
encrypted while it waits and emptied once its outcome is known.

Unsubscribing stops outreach, not this: an invitation to a meeting the buyer booked is
transactional. An address suppressed because it bounced is skipped.
"""

from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update

from app.crypto import Unreadable, seal, unseal
from app.extensions import db
from app.models import OutboundEmail, Suppression, utcnow
from app.queue import enqueue_after_commit
from app.sequences.mail_settings import org_transport, sending_config
from app.sequences.mailer import (
    Deferred,
    InstallationFailure,
    Refused,
    SendFailure,
    Unknown,
    wire_bytes,
)
from app.sequences.sending import RETRY_AFTER, STALE_CLAIM
from app.sequences.service import notify, suppress

JOB = "app.jobs.send_one_off_emails"
HELD_RETRY = timedelta(minutes=10)  # the relay is down or sending is off: look again this much later
BATCH = 50


def queue_email(org_id: int, key: str, message: EmailMessage, sender, to_email: str, link: str = "",
                kind: str = "booking", sealed: bool = False) -> OutboundEmail | None:
    """Queue `message` to `to_email` once per `key` (no commit); the worker is woken after the commit.

    `sealed` keeps the message encrypted until it is sent and empties it afterwards. Returns the new
    row, or None when this key was queued before.
    """
    if db.session.execute(select(OutboundEmail.id).where(OutboundEmail.key == key)).first():
        return None
    data = wire_bytes(message)
    row = OutboundEmail(org_id=org_id, kind=kind, key=key, sender_id=sender.id, from_email=sender.email,
                        to_email=to_email, subject=str(message["Subject"] or "")[:300],
                        message=seal(data) if sealed else data, sealed=sealed, message_id=message["Message-ID"],
                        link=link[:200], status="queued", next_attempt_at=utcnow())
    db.session.add(row)
    enqueue_after_commit(JOB)
    return row


def send_due(now: datetime | None = None, limit: int = 500) -> dict:
    """Send every queued or retrying one-off email that is due; call cut-off sends unknown."""
    now = now or utcnow()
    counts = {"unknown": _mark_cut_off(now)}
    rows = db.session.execute(
        select(OutboundEmail.id, OutboundEmail.org_id)
        .where(OutboundEmail.status.in_(("queued", "retrying")), OutboundEmail.next_attempt_at <= now)
        .order_by(OutboundEmail.next_attempt_at, OutboundEmail.id).limit(limit)).all()
    db.session.rollback()
    by_org: dict = {}
    for row_id, org_id in rows:
        by_org.setdefault(org_id, []).append(row_id)
    for org_id, ids in by_org.items():
        _send_org(org_id, ids, now, counts)
    return counts


def _send_org(org_id: int, ids: list, now: datetime, counts: dict) -> None:
    mailer = org_transport(org_id, sending_config(org_id))
    db.session.rollback()
    try:
        for row_id in ids:
            outcome = _send_one(mailer, row_id, now)
            if outcome:
                counts[outcome] = counts.get(outcome, 0) + 1
            if outcome == "held":  # the relay takes nothing now: the rest wait too
                _hold_rest(ids[ids.index(row_id) + 1:], now)
                break
    finally:
        mailer.close()


def _claim(row_id: int, now: datetime) -> OutboundEmail | None:
    """Take the row for this worker (`sending`, committed) unless another worker or an earlier run has it."""
    taken = db.session.execute(
        update(OutboundEmail).where(OutboundEmail.id == row_id, OutboundEmail.status.in_(("queued", "retrying")),
                                    OutboundEmail.next_attempt_at <= now)
        .values(status="sending", claimed_at=now, attempts=OutboundEmail.attempts + 1, next_attempt_at=None)
        .execution_options(synchronize_session=False)).rowcount
    if not taken:
        db.session.rollback()
        return None
    row = db.session.get(OutboundEmail, row_id)
    if _bounced_before(row):
        row.status, row.error = "skipped", "This address bounced before, so nothing was sent."
    db.session.commit()  # the claim: from here on this message is never sent again on its own
    return row


def _bounced_before(row: OutboundEmail) -> bool:
    return db.session.execute(select(Suppression.id).where(
        Suppression.org_id == row.org_id, Suppression.email == row.to_email.strip().lower(),
        Suppression.reason == "bounced")).first() is not None


def _send_one(mailer, row_id: int, now: datetime) -> str | None:
    row = _claim(row_id, now)
    if row is None:
        return None
    if row.status == "skipped":
        _forget(row)
        db.session.commit()
        return "skipped"
    try:
        data = unseal(row.message) if row.sealed else row.message
    except Unreadable:
        row.status, row.error = "failed", "Not sent: the message could not be read (SECRET_KEY changed)."
        _forget(row)
        _tell_sender(row, f"An email to {row.to_email} (“{row.subject}”) was not sent: {row.error}")
        db.session.commit()
        return "failed"
    try:
        result = mailer.send(_Raw(data, row.message_id), row.from_email, row.to_email)
    except SendFailure as exc:
        result = exc
    outcome = _record(row, result, now)
    if row.status not in ("queued", "retrying"):
        _forget(row)
    db.session.commit()
    return outcome


def _forget(row: OutboundEmail) -> None:
    """A sealed message's bytes are needed only until its outcome is known: empty them."""
    if row.sealed:
        row.message = b""


def _record(row: OutboundEmail, result, now: datetime) -> str:
    """Write down what the relay answered (no commit); return the outcome's name."""
    if isinstance(result, str):
        row.status, row.sent_at, row.relay_reply, row.error = "sent", now, result[:300], ""
        return "sent"
    row.relay_reply = result.reply[:300]
    if isinstance(result, InstallationFailure):
        row.status, row.attempts = "queued", row.attempts - 1  # nobody's fault: not a try of this message
        row.next_attempt_at, row.error = now + HELD_RETRY, f"Waiting: {result.reply}"[:300]
        return "held"
    if isinstance(result, Deferred):
        if row.attempts <= len(RETRY_AFTER):
            row.status, row.next_attempt_at = "retrying", now + RETRY_AFTER[row.attempts - 1]
            row.error = f"Refused for now at {result.stage}; trying again."
            return "retrying"
        row.status, row.error = "failed", f"Still refused at {result.stage} after {row.attempts} tries; not sent."
        _tell_sender(row, f"An email to {row.to_email} (“{row.subject}”) could not be delivered: {result.reply}")
        return "failed"
    if isinstance(result, Refused):
        row.status = "bounced"
        row.error = f"The recipient's server refused this message ({result.stage})."
        if result.address_gone:
            suppress(row.org_id, row.to_email, "bounced")
        _tell_sender(row, f"An email to {row.to_email} (“{row.subject}”) bounced: {result.reply}")
        return "bounced"
    assert isinstance(result, Unknown)
    row.status, row.error = "unknown", result.reply[:300]
    _tell_sender(row, f"An email to {row.to_email} (“{row.subject}”) may not have gone out "
                      "(the connection broke). Check with them.")
    return "unknown"


def _hold_rest(ids: list, now: datetime) -> None:
    if ids:
        db.session.execute(update(OutboundEmail).where(OutboundEmail.id.in_(ids), OutboundEmail.status == "queued",
                                                       OutboundEmail.next_attempt_at <= now)
                           .values(next_attempt_at=now + HELD_RETRY).execution_options(synchronize_session=False))
        db.session.commit()


def _tell_sender(row: OutboundEmail, text: str) -> None:
    if row.sender_id:
        notify(row.org_id, row.sender_id, "email", text, row.link or "/", f"oneoff:{row.id}:{row.status}")


def _mark_cut_off(now: datetime) -> int:
    """Sends claimed long ago and never recorded (the worker died mid-send): unknown, and the sender is told."""
    rows = db.session.execute(select(OutboundEmail).where(OutboundEmail.status == "sending",
                                                          OutboundEmail.claimed_at < now - STALE_CLAIM)).scalars().all()
    for row in rows:
        row.status = "unknown"
        _forget(row)
        row.error = "The send was cut off (the worker stopped); it may or may not have been delivered."
        _tell_sender(row, f"An email to {row.to_email} (“{row.subject}”) may not have gone out (the send was cut off).")
    db.session.commit()
    return len(rows)


class _Raw:
    """A stored message as the transports take it: `wire_bytes` gives back the bytes as queued."""

    def __init__(self, data: bytes, message_id: str):
        self.data = data
        self.message_id = message_id

    def __getitem__(self, name: str):
        return self.message_id if name == "Message-ID" else None

    def as_bytes(self, policy=None) -> bytes:
        return self.data
