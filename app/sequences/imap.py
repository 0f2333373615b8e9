"""Polling reps' and the organisation's IMAP inboxes for replies; passwords stored encrypted."""

import contextlib
import ssl
from datetime import datetime, timedelta

from imapclient import IMAPClient

from app import crypto
from app.deals.service import Forbidden, Invalid
from app.extensions import db
from app.models import Mailbox, User, utcnow
from app.sequences.replies import MAX_INBOUND_BYTES, handle_inbound

POLL_EVERY = timedelta(minutes=2)
BACKOFF = timedelta(minutes=10)
FETCH_BATCH = 50
TIMEOUT = 20


def encrypt(password: str) -> str:
    return crypto.encrypt(password, crypto.MAILBOX_PASSWORDS)


def decrypt(token: str) -> str:
    try:
        return crypto.decrypt(token, crypto.MAILBOX_PASSWORDS)
    except crypto.Unreadable:
        raise Invalid({"password": "cannot be read (SECRET_KEY changed?): enter it again"}) from None


def save_mailbox(actor, values: dict, mailbox: Mailbox | None = None) -> Mailbox:
    """Add or change an IMAP inbox to poll: admins for anyone, a rep for their own."""
    errors = {}
    user_id = values.get("user_id") or None
    if user_id is not None:
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            user_id = -1
        owner = db.session.get(User, user_id) if 0 < user_id < 2**31 else None
        if owner is None or owner.org_id != actor.org_id:
            errors["user_id"] = "is not a person in your organisation"
        elif owner.id != actor.id and not actor.has_role("admin"):
            raise Forbidden("Only admins set up someone else's inbox.")
    elif not actor.has_role("admin"):
        raise Forbidden("Only admins set up the organisation's shared inbox.")
    host = str(values.get("host") or "").strip()
    if not host or len(host) > 253 or any(c.isspace() for c in host):
        errors["host"] = "is required (e.g. imap.example.com)"
    try:
        port = int(values.get("port") or 993)
        if not 1 <= port <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        errors["port"] = "must be a port number (993 for IMAPS)"
        port = 993
    security = values.get("security") or "ssl"
    if security not in ("ssl", "starttls", "none"):
        errors["security"] = "must be ssl, starttls or none"
    username = str(values.get("username") or "").strip()
    if not username or len(username) > 254:
        errors["username"] = "is required"
    password = values.get("password") or ""
    if mailbox is None and not password:
        errors["password"] = "is required"
    folder = str(values.get("folder") or "INBOX").strip()[:120] or "INBOX"
    if errors:
        raise Invalid(errors, "The inbox was not saved.")
    if mailbox is None:
        mailbox = Mailbox(org_id=actor.org_id)
        db.session.add(mailbox)
    mailbox.user_id, mailbox.host, mailbox.port, mailbox.security = user_id, host, port, security
    mailbox.username, mailbox.folder = username, folder
    if password:
        mailbox.password_encrypted = encrypt(password)
    mailbox.next_poll_at = utcnow()
    mailbox.last_error = ""
    db.session.commit()
    return mailbox


def _connect(mailbox: Mailbox) -> IMAPClient:
    context = ssl.create_default_context()
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=mailbox.security == "ssl",
                        ssl_context=context if mailbox.security == "ssl" else None, timeout=TIMEOUT)
    if mailbox.security == "starttls":
        client.starttls(context)
    client.login(mailbox.username, decrypt(mailbox.password_encrypted))
    return client


def poll(mailbox_id: int, now: datetime | None = None) -> dict:
    """Read new messages (by UID, read-only) and hand each to handle_inbound; remember the last UID."""
    now = now or utcnow()
    mailbox = db.session.get(Mailbox, mailbox_id)
    if mailbox is None:
        return {"read": 0}
    read = 0
    try:
        client = _connect(mailbox)
        try:
            info = client.select_folder(mailbox.folder, readonly=True)
            validity = info.get(b"UIDVALIDITY")
            if mailbox.uid_validity is not None and validity is not None and validity != mailbox.uid_validity:
                mailbox.last_uid = 0  # the folder was rebuilt; handled messages are recognised by their key
            mailbox.uid_validity = validity
            uids = sorted(u for u in client.search(["UID", f"{mailbox.last_uid + 1}:*"]) if u > mailbox.last_uid)
            for start in range(0, len(uids), FETCH_BATCH):
                chunk = uids[start:start + FETCH_BATCH]
                sizes = client.fetch(chunk, ["RFC822.SIZE"])
                wanted = [u for u in chunk if sizes.get(u, {}).get(b"RFC822.SIZE", 0) <= MAX_INBOUND_BYTES]
                bodies = client.fetch(wanted, ["BODY.PEEK[]"]) if wanted else {}
                for uid in chunk:
                    raw = bodies.get(uid, {}).get(b"BODY[]")
                    if raw:
                        try:
                            handle_inbound(mailbox.org_id, raw, now)
                        except Invalid:
                            db.session.rollback()  # a malformed message is skipped, not retried forever
                        read += 1
                    mailbox = db.session.get(Mailbox, mailbox_id)
                    mailbox.last_uid = uid
                    db.session.commit()
        finally:
            with contextlib.suppress(Exception):
                client.logout()
        mailbox.last_error = ""
        mailbox.next_poll_at = now + POLL_EVERY
    except Exception as exc:  # noqa: BLE001 - any failure is shown on the settings page and retried later
        db.session.rollback()
        mailbox = db.session.get(Mailbox, mailbox_id)
        mailbox.last_error = f"{type(exc).__name__}: {exc}"[:300]
        mailbox.next_poll_at = now + BACKOFF
    mailbox.last_polled_at = now
    db.session.commit()
    return {"read": read}


def sweep_mailboxes(now: datetime | None = None) -> dict:
    """Poll every inbox whose turn has come."""
    now = now or utcnow()
    ids = [m for (m,) in db.session.query(Mailbox.id).filter(Mailbox.next_poll_at <= now).order_by(Mailbox.id)]
    db.session.rollback()
    read = sum(poll(mailbox_id, now)["read"] for mailbox_id in ids)
    return {"polled": len(ids), "read": read}
