"""Polling reps' and the organisation's IMAP inboxes for replies; passwords stored encrypted.

An inbox's host is an admin's choice, so it must not reach inside the installation's network:
the host guard (app/netguard.py) refuses loopback, private and link-local addresses at save
and again right before each connection, and the connection goes to the very address the
guard checked (no second DNS answer in between). Every failure to connect reads the same
("Could not reach the mail server ..."), within the same short timeout, so the settings page
tells closed, open and silent ports apart no more than it tells hosts apart.

The periodic sweep claims the inboxes whose turn has come (next_poll_at pushed past a lease
in the same UPDATE, so two ticks never poll one inbox twice) and queues one job per inbox:
a slow or silent inbox delays itself, not the tick or the other organisations' inboxes.
"""

import contextlib
import imaplib
import logging
import socket
import ssl
import time
from datetime import datetime, timedelta

from imapclient import IMAPClient, imap4, tls
from imapclient.exceptions import LoginError
from sqlalchemy import select, update

from app import crypto
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import Mailbox, QuarantinedEmail, User, utcnow
from app.netguard import HostRefused, check_host, resolve
from app.queue import enqueue_after_commit
from app.sequences.quarantine import Arrival, receive
from app.sequences.replies import MAX_INBOUND_BYTES

log = logging.getLogger(__name__)
POLL_EVERY = timedelta(minutes=2)
BACKOFF = timedelta(minutes=10)
# A claimed inbox is not claimed again before this, should its job be lost (the next tick then takes it).
LEASE = timedelta(minutes=15)
POLL_BUDGET = 120  # seconds of reading per poll; the rest waits for the next one
# Messages handed over (and committed) together: a commit waits for the disk, so it is paid per
# batch; bytes bound the memory a batch of large messages takes.
FETCH_BATCH = 200
FETCH_BYTES = 25 * 1024 * 1024
TIMEOUT = 10  # seconds to connect, and for each read: the same for every kind of failure


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
    if not host or len(host) > 253 or any(c.isspace() or c == "\x00" for c in host):
        errors["host"] = "is required (e.g. imap.example.com)"
    try:
        port = int(values.get("port") or 993)
        if not 1 <= port <= 65535:
            raise ValueError
    except (TypeError, ValueError):
        errors["port"] = "must be a port number (993 for IMAPS)"
        port = 993
    if "host" not in errors:
        try:
            check_host(host, port)
        except HostRefused as exc:
            errors["host"] = f"is refused: {str(exc).rstrip('.')}"
    security = values.get("security") or "ssl"
    if security not in ("ssl", "starttls", "none"):
        errors["security"] = "must be ssl, starttls or none"
    username = str(values.get("username") or "").strip()
    if not username or len(username) > 254 or "\x00" in username:
        errors["username"] = "is required"
    password = values.get("password") or ""
    if mailbox is None and not password:
        errors["password"] = "is required"
    folder = str(values.get("folder") or "INBOX").replace("\x00", "").strip()[:120] or "INBOX"
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


def delete_mailbox(mailbox: Mailbox) -> None:
    """Stop polling an inbox and forget its password; messages it set aside stay listed."""
    db.session.execute(update(QuarantinedEmail).where(QuarantinedEmail.mailbox_id == mailbox.id)
                       .values(mailbox_id=None))  # SQLite does not enforce the foreign key's SET NULL
    db.session.delete(mailbox)
    db.session.commit()


# ---------------------------------------------------------------- connecting


class Unreachable(Exception):
    """Any failure to connect: refused, timed out, TLS, DNS, not an IMAP server."""


def unreachable_text(mailbox: Mailbox) -> str:
    return f"Could not reach the mail server {mailbox.host}:{mailbox.port}. Check the host, port and security."


def _open_socket(addresses: list, port: int, timeout: float) -> socket.socket:
    """Connect to the first of the checked addresses that answers."""
    error = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address")


class _PlainIMAP4(imap4.IMAP4WithTimeout):
    def __init__(self, addresses, host, port, timeout):
        self._addresses = addresses
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout=None):
        return _open_socket(self._addresses, self.port, timeout or self._timeout)


class _TLSIMAP4(tls.IMAP4_TLS):
    def __init__(self, addresses, host, port, ssl_context, timeout):
        self._addresses = addresses
        super().__init__(host, port, ssl_context, timeout)

    def _create_socket(self, timeout=None):
        sock = _open_socket(self._addresses, self.port, timeout or self._timeout)
        return tls.wrap_socket(sock, self.ssl_context, self.host)  # the certificate is checked for the host name


class _CheckedClient(IMAPClient):
    """An IMAPClient whose socket goes to the addresses the host guard checked, not to a fresh lookup."""

    def __init__(self, addresses: list, *args, **kwargs):
        self._addresses = addresses
        super().__init__(*args, **kwargs)

    def _create_IMAP4(self):  # noqa: N802 - IMAPClient's name
        if self.ssl:
            return _TLSIMAP4(self._addresses, self.host, self.port, self.ssl_context, self._timeout.connect)
        return _PlainIMAP4(self._addresses, self.host, self.port, self._timeout.connect)


def _checked_addresses(mailbox: Mailbox) -> list:
    """The addresses the guard allowed (the only ones connected to); a name that no longer resolves
    is Unreachable like any other failure to connect, an internal address is HostRefused."""
    try:
        return check_host(mailbox.host, mailbox.port)
    except HostRefused:
        try:
            resolve(mailbox.host, mailbox.port)
        except HostRefused:
            raise Unreachable() from None
        raise


def connect(mailbox: Mailbox) -> IMAPClient:
    """Log in to the inbox; Unreachable, HostRefused or LoginError."""
    addresses = _checked_addresses(mailbox)
    context = ssl.create_default_context()
    try:
        client = _CheckedClient(addresses, mailbox.host, port=mailbox.port, ssl=mailbox.security == "ssl",
                                ssl_context=context if mailbox.security == "ssl" else None, timeout=TIMEOUT)
        if mailbox.security == "starttls":
            client.starttls(context)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
        log.info("IMAP connect to mailbox %s failed: %r", mailbox.id, exc)
        raise Unreachable() from None
    try:
        client.login(mailbox.username, decrypt(mailbox.password_encrypted))
    except (OSError, imaplib.IMAP4.abort) as exc:  # the connection died before the server answered
        with contextlib.suppress(Exception):
            client.shutdown()
        log.info("IMAP login to mailbox %s cut off: %r", mailbox.id, exc)
        raise Unreachable() from None
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return client


def _error_text(mailbox: Mailbox, exc: Exception) -> str:
    """What the settings page says about a failed poll: never which kind of network failure it was."""
    if isinstance(exc, Unreachable | OSError | ssl.SSLError | imaplib.IMAP4.abort):
        return unreachable_text(mailbox)
    if isinstance(exc, HostRefused):
        return str(exc)
    if isinstance(exc, LoginError):
        return "The mail server refused the username or password."
    if isinstance(exc, Invalid):  # the stored password cannot be decrypted
        return "The saved password cannot be read (SECRET_KEY changed?): remove the inbox and add it again."
    if isinstance(exc, _FolderMissing):
        return f"The mail server has no folder named {mailbox.folder!r}."
    log.exception("polling mailbox %s", mailbox.id)
    return f"Checking this inbox failed ({type(exc).__name__}); it is tried again in 10 minutes."


class _FolderMissing(Exception):
    pass


# ---------------------------------------------------------------- polling


def _advance(mailbox_id: int, uid: int) -> None:
    """Remember the last UID read, in the transaction that commits its message's outcome."""
    db.session.execute(update(Mailbox).where(Mailbox.id == mailbox_id, Mailbox.last_uid < uid).values(last_uid=uid))


def _read(client: IMAPClient, mailbox: Mailbox, now: datetime) -> tuple[int, bool]:
    """Hand every new message (by UID, read-only) to receive(); return (read, more left)."""
    mailbox_id, org_id = mailbox.id, mailbox.org_id
    try:
        info = client.select_folder(mailbox.folder, readonly=True)
    except IMAPClient.Error:
        raise _FolderMissing() from None
    validity = info.get(b"UIDVALIDITY")
    if mailbox.uid_validity is not None and validity is not None and validity != mailbox.uid_validity:
        mailbox.last_uid = 0  # the folder was rebuilt; handled messages are recognised by their key
    mailbox.uid_validity = validity
    last_uid = mailbox.last_uid
    db.session.commit()
    uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    deadline = time.monotonic() + POLL_BUDGET
    read = 0
    for chunk in _batches(client, uids):
        if time.monotonic() > deadline:
            return read, True
        read += _read_batch(client, org_id, mailbox_id, chunk, now)
    return read, False


def _batches(client: IMAPClient, uids: list):
    """(uid, too large) in batches of at most FETCH_BATCH messages and FETCH_BYTES (by RFC822.SIZE)."""
    for start in range(0, len(uids), FETCH_BATCH):
        sizes = client.fetch(uids[start:start + FETCH_BATCH], ["RFC822.SIZE"])
        batch, total = [], 0
        for uid in uids[start:start + FETCH_BATCH]:
            size = sizes.get(uid, {}).get(b"RFC822.SIZE", 0)
            too_large = size > MAX_INBOUND_BYTES
            weight = 0 if too_large else size  # of one too large only the headers are fetched
            if batch and total + weight > FETCH_BYTES:
                yield batch
                batch, total = [], 0
            batch.append((uid, too_large))
            total += weight
        if batch:
            yield batch


def _read_batch(client: IMAPClient, org_id: int, mailbox_id: int, batch: list, now: datetime) -> int:
    """Fetch a batch and hand it to receive() in one transaction with the last UID it reaches."""
    large = {uid for uid, too_large in batch if too_large}
    small = [uid for uid, too_large in batch if not too_large]
    bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
    heads = client.fetch(sorted(large), ["BODY.PEEK[HEADER]"]) if large else {}
    present = [(uid, Arrival(heads[uid].get(b"BODY[HEADER]") or b"", too_large=True) if uid in large
                else Arrival(bodies.get(uid, {}).get(b"BODY[]") or b""))
               for uid, _ in batch if uid in heads or bodies.get(uid, {}).get(b"BODY[]")]
    if present:
        receive(org_id, [arrival for _, arrival in present], source="imap", mailbox_id=mailbox_id, now=now,
                done=lambda i: _advance(mailbox_id, present[i][0]))
    last = batch[-1][0]
    if not present or present[-1][0] != last:
        _advance(mailbox_id, last)  # expunged meanwhile: nothing left to read up to here
        db.session.commit()
    return len(present)


def poll(mailbox_id: int, now: datetime | None = None) -> dict:
    """Read an inbox's new messages; what cannot be handled is set aside and the poll moves past it."""
    now = now or utcnow()
    mailbox = db.session.get(Mailbox, mailbox_id)
    if mailbox is None:
        return {"read": 0}
    read, more = 0, False
    try:
        client = connect(mailbox)
        try:
            read, more = _read(client, mailbox, now)
        finally:
            with contextlib.suppress(Exception):
                client.logout()
        error, next_poll = "", now if more else now + POLL_EVERY
    except Exception as exc:  # noqa: BLE001 - any failure is shown on the settings page and retried later
        db.session.rollback()
        mailbox = db.session.get(Mailbox, mailbox_id)
        if mailbox is None:
            return {"read": read}
        error, next_poll = _error_text(mailbox, exc)[:300], now + BACKOFF
    db.session.execute(update(Mailbox).where(Mailbox.id == mailbox_id)
                       .values(last_error=error, next_poll_at=next_poll, last_polled_at=now))
    db.session.commit()
    return {"read": read}


def claim_due(now: datetime) -> list:
    """Claim the inboxes whose turn has come: their next_poll_at moves past the lease in one UPDATE."""
    due = select(Mailbox.id).where(Mailbox.next_poll_at <= now).order_by(Mailbox.next_poll_at).limit(500)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = db.session.execute(update(Mailbox).where(Mailbox.id.in_(due.scalar_subquery()))
                                 .values(next_poll_at=now + LEASE).returning(Mailbox.id)
                                 .execution_options(synchronize_session=False))
    return sorted(claimed.scalars())


def sweep_mailboxes(now: datetime | None = None, *, inline: bool = True) -> dict:
    """Claim the due inboxes; poll each now (`flask run-due`, tests) or queue one job per inbox (the worker)."""
    now = now or utcnow()
    ids = claim_due(now)
    if not inline:
        for mailbox_id in ids:
            enqueue_after_commit("app.jobs.poll_mailbox", mailbox_id)
        db.session.commit()
        return {"queued": len(ids)}
    db.session.commit()
    read = sum(poll(mailbox_id, now)["read"] for mailbox_id in ids)
    return {"polled": len(ids), "read": read}
