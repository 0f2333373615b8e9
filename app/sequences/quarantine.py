"""Inbound mail in, whatever it holds: what cannot be handled is set aside, never blocking the rest.

receive() is the one way in for inbound messages (IMAP polling and the webhook). A batch is
handled in one transaction (one commit for up to 50 messages: a commit waits for the disk).
If anything in it fails, each message is handled again in a transaction of its own, and one
that still fails is kept as a QuarantinedEmail with its reason (an admin retries or drops it
under Sequences → Sending settings) while the messages after it go on. The caller's `done`
runs in the same transaction as the outcomes it covers, so the IMAP poll's last UID never
passes a message whose outcome was not committed.
"""

import logging
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import Invalid
from app.extensions import db
from app.models import Notification, QuarantinedEmail, User, utcnow
from app.sequences.replies import MAX_INBOUND_BYTES, Unhandled, describe, handle_messages
from app.sequences.service import notify

log = logging.getLogger(__name__)
KEEP_BYTES = 2 * 1024 * 1024  # a message set aside keeps its bytes up to this; beyond, its headers only
# Beyond this many held messages an organisation's next ones keep their headers only: a flood of
# broken mail into an inbox must not fill the database.
KEEP_HELD = 500
MAX_HEADER_BYTES = 64 * 1024
QUARANTINED = {"matched": False, "kind": "quarantined"}
TOO_LARGE = f"It is larger than {MAX_INBOUND_BYTES // 2**20} MB, so it was not read; only its headers were kept."


@dataclass
class Arrival:
    """One message as it came in; `too_large` ones (IMAP: headers only) are set aside unread."""

    raw: bytes
    too_large: bool = False


def receive(org_id: int, arrivals: list, *, source: str, mailbox_id: int | None = None, now=None,
            done=None) -> list[dict]:
    """Handle messages and commit; set aside each that fails. One result per message.

    `done(i)` is called before each commit with the index of the last message it covers.
    Invalid (not an email at all) is raised for the webhook's single message, which answers 422.
    """
    now = now or utcnow()
    arrivals = [a if isinstance(a, Arrival) else Arrival(a) for a in arrivals]
    if len(arrivals) == 1:
        return [_receive_one(org_id, arrivals[0], source, mailbox_id, now, done)]
    try:
        results = _handle(org_id, arrivals, source, mailbox_id, now)
        if done is not None:
            done(len(arrivals) - 1)
        db.session.commit()
        return results
    except Exception:  # noqa: BLE001 - one message's failure must not cost the others: one at a time
        db.session.rollback()
    results = []
    for i, arrival in enumerate(arrivals):
        mark = (lambda _last, i=i: done(i)) if done is not None else None
        results.append(_receive_one(org_id, arrival, source, mailbox_id, now, mark))
    return results


def _handle(org_id: int, arrivals: list, source: str, mailbox_id, now) -> list[dict]:
    handled = iter(handle_messages(org_id, [a.raw for a in arrivals if not a.too_large], now))
    return [_set_aside(org_id, a, source, mailbox_id, TOO_LARGE, now) if a.too_large else next(handled)
            for a in arrivals]


def _receive_one(org_id: int, arrival: Arrival, source: str, mailbox_id, now, done) -> dict:
    for attempt in range(2):
        try:
            result = _handle(org_id, [arrival], source, mailbox_id, now)[0]
            break
        except IntegrityError as exc:  # handled at the same moment elsewhere: the second try sees its row
            db.session.rollback()
            if attempt:
                result = _set_aside_alone(org_id, arrival, source, mailbox_id, exc, now)
        except Invalid as exc:
            db.session.rollback()
            if source == "webhook":
                raise
            result = _set_aside_alone(org_id, arrival, source, mailbox_id, exc, now)
            break
        except Exception as exc:  # noqa: BLE001 - whatever fails, the message is kept and the rest go on
            db.session.rollback()
            result = _set_aside_alone(org_id, arrival, source, mailbox_id, exc, now)
            break
    if done is not None:
        done(0)
    db.session.commit()
    return result


def _set_aside_alone(org_id, arrival, source, mailbox_id, exc, now) -> dict:
    return _set_aside(org_id, arrival, source, mailbox_id, reason_for(exc), now)


def reason_for(exc: Exception) -> str:
    """Why a message could not be handled, in words an admin can act on (never SQL or a path)."""
    if isinstance(exc, Unhandled):
        return str(exc)[:300]
    if isinstance(exc, Invalid):
        detail = "; ".join(str(v) for v in (exc.fields or {}).values()) or exc.message
        return f"It is not an email message: it {detail}."[:300]
    log.exception("inbound message set aside")
    if isinstance(exc, DBAPIError):
        return f"The database refused what it holds ({type(exc.orig).__name__})."[:300]
    return f"It could not be read ({type(exc).__name__})."[:300]


def _kept(org_id: int, arrival: Arrival) -> tuple[bytes, bool]:
    """The bytes kept: the message, or its headers when it is too large to keep (or too many are held)."""
    raw = arrival.raw
    if not arrival.too_large and len(raw) <= KEEP_BYTES and held_count(org_id) < KEEP_HELD:
        return raw, False
    end = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    return raw[:min(end, MAX_HEADER_BYTES)] + b"\r\n\r\n", True


def _set_aside(org_id: int, arrival: Arrival, source: str, mailbox_id, reason: str, now) -> dict:
    """Keep the message with its reason (held once per message key); tell the admins once a burst."""
    key, sender, subject = describe(arrival.raw)
    row = QuarantinedEmail.query.filter_by(org_id=org_id, message_key=key).first()
    if row is None:
        kept, headers_only = _kept(org_id, arrival)
        row = QuarantinedEmail(org_id=org_id, mailbox_id=mailbox_id, source=source, message_key=key, raw=kept,
                               headers_only=headers_only, reason=reason, sender=sender, subject=subject,
                               received_at=now)
        db.session.add(row)
        db.session.flush()
        _tell_admins(org_id, row)
    elif row.status == "held":
        row.attempts += 1
        row.reason = reason
    return dict(QUARANTINED)


def _tell_admins(org_id: int, row: QuarantinedEmail) -> None:
    """One notification per admin until they have read it, not one per message."""
    admins = User.query.filter_by(org_id=org_id, role="admin", active=True).all()
    unread = {user_id for (user_id,) in db.session.query(Notification.user_id).filter(
        Notification.org_id == org_id, Notification.kind == "mail_quarantine", Notification.read_at.is_(None))}
    for admin in admins:
        if admin.id not in unread:
            notify(org_id, admin.id, "mail_quarantine",
                   "Incoming mail could not be handled and was set aside: retry or drop it.",
                   "/sequences/quarantine", f"quarantine:{row.id}:{admin.id}")


def held(org_id: int, limit: int = 200) -> list:
    return QuarantinedEmail.query.filter_by(org_id=org_id, status="held") \
        .order_by(QuarantinedEmail.received_at.desc(), QuarantinedEmail.id.desc()).limit(limit).all()


def held_count(org_id: int) -> int:
    return QuarantinedEmail.query.filter_by(org_id=org_id, status="held").count()


def retry(row: QuarantinedEmail) -> tuple[bool, str]:
    """Handle a held message again: (True, its kind) and it leaves the list, or (False, why not)."""
    if row.status != "held":
        return False, "It is no longer held."
    row_id = row.id
    try:
        result = handle_messages(row.org_id, [row.raw])[0]
    except Exception as exc:  # noqa: BLE001 - still failing: say why, keep it held
        db.session.rollback()
        row = db.session.get(QuarantinedEmail, row_id)
        row.attempts += 1
        row.reason = reason_for(exc)
        db.session.commit()
        return False, row.reason
    row.status, row.raw = "handled", b""
    db.session.commit()
    return True, result["kind"]


def drop(row: QuarantinedEmail) -> None:
    """Let a held message go: it leaves the list and its bytes are deleted."""
    row.status, row.raw = "dropped", b""
    db.session.commit()
