"""Inbound mail: replies stop sequences, auto-replies do not, bounces and unsubscribes suppress.

handle_messages() classifies and acts on a batch of raw messages in the caller's transaction:
IMAP polling hands it up to 50 at a time, the webhook one. The lookups the messages need are
made once per batch (not once per message), and an InboundEmail row keyed by the message makes
a retry or a re-poll act once. app/sequences/quarantine.py commits, and sets aside a message
that cannot be handled.

Headers are read as the raw text the message carries and decoded only where needed: the email
package's structured header parser is slow, and raises on some malformed headers (a bare "<"
as Message-ID).
"""

import contextlib
import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from app.errors import Invalid
from app.extensions import db
from app.models import (
    Activity,
    Contact,
    ContactEvent,
    Enrollment,
    InboundEmail,
    Notification,
    StepSend,
    Task,
    org_zone,
    utcnow,
)
from app.models.sequences import OPEN_STATUSES
from app.sequences.service import end_enrollment, suppress
from app.timezones import to_utc
from app.webhooks.events import task_created

MAX_INBOUND_BYTES = 20 * 1024 * 1024
MAX_ADDRESS = 254
OOO_DEFAULT = timedelta(days=7)
OOO_LONGEST = timedelta(days=60)
AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
IDENTIFYING = {"from", "message-id", "subject", "content-type", "return-path"}
_MSGID = re.compile(r"<[^<>\s]{1,250}>")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PARSER = BytesParser(policy=policy.default)
MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
MONTHS.update({name[:3]: n for name, n in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATES = [
    (re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\.?,?(?:\s+(20\d\d))?\b", re.I), ("d", "M", "y")),
    (re.compile(r"\b" + _MONTH + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(20\d\d))?\b", re.I), ("M", "d", "y")),
]


class Unhandled(Exception):
    """A message Stagegate will not act on; the text says why (safe to show an admin)."""


def _text(value: str) -> str:
    """A raw header value as text: unfolded, raw 8-bit bytes read as UTF-8 (else U+FFFD)."""
    return _FOLD.sub("", value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _clean(text: str) -> str:
    """Text the database takes on both engines: no lone surrogates, no NUL or control characters."""
    return _CONTROL.sub("", text.encode("utf-8", "replace").decode("utf-8"))


def _decoded(value: str) -> str:
    """An unstructured header (Subject) with its RFC 2047 encoded words decoded where they can be."""
    if "=?" in value:
        with contextlib.suppress(Exception):  # an undecodable encoded word is kept as written
            value = str(make_header(decode_header(value)))
    return _clean(value)


@lru_cache(maxsize=4096)
def checked_address(text: str) -> tuple[str, str]:
    """(the address normalised and lower-cased, "") or ("", why it is not one): length, NUL, syntax.

    The same on SQLite and PostgreSQL: nothing longer than 254 characters, no NUL or control
    character, nothing email-validator (which contacts are stored through) refuses.
    """
    if len(text) > MAX_ADDRESS:
        return "", f"is {len(text)} characters long (at most {MAX_ADDRESS})"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return "", "holds a NUL or control character"
    try:
        return validate_email(text, check_deliverability=False).normalized.lower(), ""
    except EmailNotValidError as exc:
        return "", f"is not an email address ({str(exc).rstrip('.')})"


def parse_message(raw: bytes) -> EmailMessage:
    """Parse raw RFC 5322 bytes; Invalid when they are empty, too large or unreadable."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise Invalid({"message": "is empty: send the raw RFC 5322 message as the body"}, "The message is empty.")
    if len(raw) > MAX_INBOUND_BYTES:
        raise Invalid({"message": f"is larger than {MAX_INBOUND_BYTES // (1024 * 1024)} MB"}, "The message is too large.")
    try:
        message = _PARSER.parsebytes(bytes(raw))
    except Exception as exc:  # noqa: BLE001 - any parser failure is the sender's malformed input
        raise Invalid({"message": f"could not be read as an email ({type(exc).__name__})"}) from None
    return message


def _fields(part) -> dict:
    """A message's (or a delivery-status block's) raw header values by lower-case name, first one wins."""
    fields = {}
    for name, value in part.raw_items():  # the values as written: no structured parse
        fields.setdefault(name.lower(), value)
    return fields


def _key(message_id: str, raw: bytes) -> str:
    """A message's key: the sha256 of its Message-ID, or of its bytes when it has none."""
    return hashlib.sha256(message_id.encode("utf-8", "replace") if message_id else raw).hexdigest()


def describe(raw: bytes) -> tuple[str, str, str]:
    """(key, From as written, subject) of any bytes, however broken: for a message set aside."""
    raw = bytes(raw or b"")
    try:
        fields = _fields(BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True))
    except Exception:  # noqa: BLE001 - unreadable: its bytes stand for it
        fields = {}

    def field(name):
        value = fields.get(name)
        return _text(value) if isinstance(value, str) else ""

    return (_key(field("message-id").strip(), raw), _clean(field("from"))[:300],
            _decoded(field("subject"))[:300])


class Inbound:
    """One inbound message: the headers an action needs, read once from their raw text."""

    def __init__(self, raw: bytes):
        self.message = parse_message(raw)
        self.raw = bytes(raw)
        self.fields = _fields(self.message)
        if not any(self.field(name).strip() for name in IDENTIFYING):
            raise Invalid({"message": "has no email headers (From, Message-ID, Subject...): "
                                      "send the raw RFC 5322 message"}, "That is not an email message.")
        self.key = _key(self.field("message-id").strip(), self.raw)
        self.subject = _decoded(self.field("subject"))[:300]
        self.sender = checked_address(parseaddr(self.field("from"))[1].strip())[0]

    def field(self, name: str) -> str:
        value = self.fields.get(name)
        return _text(value) if isinstance(value, str) else ""

    def is_bounce(self) -> bool:
        """A delivery status report (multipart/report; report-type=delivery-status)."""
        if "report" not in self.field("content-type").lower():
            return False  # most messages: no need for the structured Content-Type parse
        return self.message.get_content_type() == "multipart/report" and \
            (self.message.get_param("report-type") or "").lower() == "delivery-status"

    def is_auto_reply(self) -> bool:
        auto = self.field("auto-submitted").strip().lower()
        if auto and auto != "no":
            return True
        if "x-autoreply" in self.fields or "x-autorespond" in self.fields:
            return True
        return self.field("precedence").strip().lower() in AUTO_PRECEDENCE

    def referenced_ids(self) -> list[str]:
        return (_MSGID.findall(self.field("in-reply-to")) + _MSGID.findall(self.field("references")))[-50:]

    def recipients(self) -> list[str]:
        """The To and Cc addresses, lower-cased (compared with ours, never stored)."""
        return [a.strip().lower() for _, a in getaddresses([self.field("to"), self.field("cc")])]

    def text_body(self) -> str:
        try:
            part = self.message.get_body(preferencelist=("plain", "html"))
        except Exception:  # noqa: BLE001
            part = None
        if part is None:
            return ""
        try:
            content = part.get_content()
            return _clean(content if isinstance(content, str) else "")[:20_000]
        except Exception:  # noqa: BLE001 - broken charset or transfer encoding: keep what is readable
            payload = part.get_payload(decode=True) or b""
            return _clean(payload.decode("utf-8", "replace"))[:20_000]

    def bounce_details(self) -> tuple[list[str], list[str]]:
        """Failed recipients and the original message's ids; Unhandled when a recipient is not an address."""
        failed, ids = [], []
        for part in self.message.walk():
            kind = part.get_content_type()
            if kind == "message/delivery-status":
                blocks = part.get_payload()
                for block in blocks if isinstance(blocks, list) else []:
                    fields = {name: _text(value) for name, value in _fields(block).items()}
                    recipient = fields.get("final-recipient") or fields.get("original-recipient") or ""
                    if fields.get("action", "").strip().lower() == "failed" and ";" in recipient:
                        text = recipient.split(";", 1)[1].strip().strip("<>")
                        address, problem = checked_address(text)
                        if problem:
                            raise Unhandled(f"The delivery report's failed recipient {problem}.")
                        failed.append(address)
            elif kind in ("text/rfc822-headers", "message/rfc822"):
                try:
                    inner = part.get_payload()[0] if kind == "message/rfc822" else \
                        HeaderParser().parsestr(part.get_content())
                    ids += _MSGID.findall(_text(_fields(inner).get("message-id", "")))
                except Exception:  # noqa: BLE001
                    continue
        return failed, ids


def return_date(text: str, today: date) -> date | None:
    """The first plausible return date an out-of-office gives (after today, within 60 days)."""
    for pattern, order in _DATES:
        for m in pattern.finditer(text[:5000]):
            parts = dict(zip(order, m.groups(), strict=True))
            try:
                month = MONTHS[parts["M"].lower().rstrip(".")] if "M" in parts else int(parts["m"])
                year = int(parts["y"]) if parts.get("y") else today.year
                day = date(year, month, int(parts["d"]))
                if not parts.get("y") and day < today:
                    day = date(year + 1, month, int(parts["d"]))
            except (ValueError, KeyError):
                continue
            if today < day <= today + OOO_LONGEST:
                return day
    return None


def _lock(enrollment: Enrollment) -> Enrollment:
    """Wait for a claim in progress (PostgreSQL) so the reply lands before the next step's claim."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Enrollment.id).where(Enrollment.id == enrollment.id).with_for_update())
        db.session.refresh(enrollment)
    return enrollment


def record_reply(enrollment: Enrollment, at: datetime, *, subject: str = "", snippet: str = "",
                 source: str = "email", score: bool = True, locked: bool = False) -> bool:
    """End the enrollment as replied, log the reply, give the owner a task and a notification (no commit).

    `locked`: the caller already holds the enrollment's row (a batch locks its enrollments at once).
    """
    if not locked:
        _lock(enrollment)
    if enrollment.replied_at is not None:
        return False
    end_enrollment(enrollment, "replied", at)
    enrollment.replied_at = at
    contact = enrollment.contact
    who = contact.name or contact.email
    body = f"Replied to the sequence “{enrollment.sequence.name}”"
    body += f": {subject}" if subject else f" ({source})"
    if snippet:
        body += "\n\n" + snippet
    db.session.add(Activity(org_id=enrollment.org_id, contact_id=contact.id, deal_id=enrollment.deal_id,
                            user_id=enrollment.owner_id, kind="reply", at=at, body=body[:5000],
                            unique_key=f"seqreply:{enrollment.id}"))
    task = Task(org_id=enrollment.org_id, owner_id=enrollment.owner_id, contact_id=contact.id,
                deal_id=enrollment.deal_id, kind="reply", title=f"Answer {who}'s reply"[:200],
                notes=(subject or "")[:2000], due_at=at, unique_key=f"seqreply:{enrollment.id}")
    db.session.add(task)
    task_created(task)
    # Once per enrollment, as the activity and the task above (replied_at is checked under the lock):
    # no lookup first, so a batch's replies are written together.
    db.session.add(Notification(org_id=enrollment.org_id, user_id=enrollment.owner_id, kind="reply",
                                text=f"{who} replied to “{enrollment.sequence.name}”."[:300],
                                url=f"/contacts/{contact.id}", unique_key=f"seqreply:{enrollment.id}"))
    if score:
        _score(contact, at)
    return True


def _score(contact, at) -> None:
    """Give the contact the email_reply points (the leads area's scoring, when it is installed)."""
    try:
        from app.leads.scoring import record_event
    except ImportError:
        return
    record_event(contact, "email_reply", at, commit=False)


def _score_many(org_id: int, contacts: list, at: datetime) -> None:
    """A batch's replies scored in one pass: rules read once, events written together, one rescore."""
    try:
        from app.leads.scoring import load_rules, rescore_many
    except ImportError:
        return
    if not contacts:
        return
    ids = sorted({c.id for c in contacts})
    # Hold the rows as record_event does (in id order, so two batches cannot deadlock), and read them afresh.
    locked = Contact.query.filter(Contact.id.in_(ids)).order_by(Contact.id)
    if db.session.get_bind().dialect.name == "postgresql":
        locked = locked.with_for_update().populate_existing()
    rows = locked.all()
    rules = load_rules(org_id)
    now = utcnow()
    points = rules.engagement.get("email_reply", (0, None))[0]
    db.session.add_all([ContactEvent(org_id=org_id, contact_id=c.id, type="email_reply", at=min(at, now),
                                     points=points) for c in contacts])
    db.session.flush()
    rescore_many(org_id, rows, rules=rules, now=now)


def pause_for_ooo(enrollment: Enrollment, text: str, now: datetime, *, locked: bool = False) -> None:
    if not locked:
        _lock(enrollment)
    if enrollment.status != "active":
        return
    zone = org_zone(enrollment.org_id)
    today = now.replace(tzinfo=UTC).astimezone(zone).date()
    back = return_date(text, today)
    until = to_utc(datetime.combine(back, datetime.min.time()), zone) if back else now + OOO_DEFAULT
    enrollment.status = "paused"
    enrollment.paused_until = until
    enrollment.pause_reason = "out of office"


class _Plan:
    """What one message is and which of our Message-IDs it names (worked out before any lookup)."""

    __slots__ = ("inbound", "kind", "ids", "failed")

    def __init__(self, inbound: Inbound, kind: str, ids: list, failed: list | None = None):
        self.inbound, self.kind, self.ids, self.failed = inbound, kind, ids, failed or []


class _Batch:
    """A batch of messages and the lookups they need, each made once for the whole batch."""

    def __init__(self, org_id: int, inbounds: list, now: datetime):
        from app.sequences.sending import unsubscribe_mailbox

        self.org_id, self.inbounds, self.now = org_id, inbounds, now
        self.unsubscribe_to = unsubscribe_mailbox(org_id).lower()
        self.sends: dict = {}  # our Message-ID -> (send id, enrollment id)
        self.enrollments: dict = {}  # id -> Enrollment
        self.by_address: dict = {}  # contact address -> ids of its enrollments that were sent something
        self.replied: list = []  # contacts whose reply is scored at the end of the batch

    def run(self) -> list[dict]:
        keys = {m.key for m in self.inbounds}
        rows = {key: {"kind": kind, "enrollment_id": enrollment_id} for key, kind, enrollment_id in db.session.execute(
            select(InboundEmail.message_key, InboundEmail.kind, InboundEmail.enrollment_id)
            .where(InboundEmail.org_id == self.org_id, InboundEmail.message_key.in_(keys)))}
        plans = []
        for inbound in self.inbounds:
            if inbound.key not in rows:
                rows[inbound.key] = None  # the same message twice in one batch acts once
                plans.append(self._plan(inbound))
        self._look_up(plans)
        handled = [self._act(plan) for plan in plans]
        _score_many(self.org_id, self.replied, self.now)
        if handled:  # one multi-row INSERT (the ORM would send one per row to get each id back)
            db.session.execute(insert(InboundEmail.__table__), handled)
        rows.update((values["message_key"], values) for values in handled)
        db.session.flush()
        return [_result(rows[m.key]) for m in self.inbounds]

    def _plan(self, inbound: Inbound) -> _Plan:
        if inbound.is_bounce():
            failed, ids = inbound.bounce_details()
            return _Plan(inbound, "bounce", ids, failed)
        if self.unsubscribe_to in inbound.recipients() and inbound.subject.lower().startswith("unsubscribe"):
            return _Plan(inbound, "unsubscribe", [])
        return _Plan(inbound, "auto_reply" if inbound.is_auto_reply() else "reply", inbound.referenced_ids())

    def _look_up(self, plans: list) -> None:
        """Our sends the messages refer to, the enrollments of the addresses they come from, loaded at once.

        On PostgreSQL the enrollments are held (in id order) for the batch's transaction: a step's
        claim in progress is waited for, so the reply lands before the next step's claim.
        """
        ids = {i for plan in plans for i in plan.ids}
        if ids:
            # By the unique Message-ID alone, the organisation checked here: a filter on org_id lets
            # PostgreSQL (with stale statistics) read every send of the organisation instead.
            for send_id, message_id, enrollment_id, org_id in db.session.execute(
                    select(StepSend.id, StepSend.message_id, StepSend.enrollment_id, StepSend.org_id)
                    .where(StepSend.message_id.in_(ids))):
                if org_id == self.org_id:
                    self.sends[message_id] = (send_id, enrollment_id)
        wanted = {send[1] for send in self.sends.values()}
        addresses = {self._address(plan) for plan in plans if self._send(plan) is None} - {""}
        if addresses:
            # Contacts are stored lower-case (contacts.clean_email), so the unique (org, email) index serves
            # this; their enrollments are found by contact_id (the load below checks the organisation).
            for enrollment_id, email in db.session.execute(
                    select(Enrollment.id, Contact.email).join(Contact, Contact.id == Enrollment.contact_id)
                    .where(Contact.org_id == self.org_id, Contact.email.in_(addresses),
                           Enrollment.first_sent_at.is_not(None))):
                self.by_address.setdefault(email, []).append(enrollment_id)
                wanted.add(enrollment_id)
        if wanted:
            load = Enrollment.query.filter(Enrollment.id.in_(wanted)).options(selectinload(Enrollment.contact)) \
                .order_by(Enrollment.id)
            if db.session.get_bind().dialect.name == "postgresql":
                load = load.with_for_update(of=Enrollment).populate_existing()
            self.enrollments = {e.id: e for e in load if e.org_id == self.org_id}

    @staticmethod
    def _address(plan: _Plan) -> str:
        """The address a message is matched by when it names none of our Message-IDs."""
        if plan.kind == "bounce":
            return plan.failed[0] if plan.failed else ""
        return plan.inbound.sender if plan.kind in ("reply", "auto_reply") else ""

    def _send(self, plan: _Plan) -> tuple | None:
        """The latest of our sends the message names, as (send id, enrollment id)."""
        sends = [self.sends[i] for i in plan.ids if i in self.sends]
        return max(sends) if sends else None

    def _by_ids(self, plan: _Plan) -> Enrollment | None:
        send = self._send(plan)
        return self.enrollments.get(send[1]) if send else None

    def _by_address(self, address: str) -> Enrollment | None:
        """The address's open enrollment (else its latest), as it stands now in this batch."""
        candidates = [self.enrollments[i] for i in self.by_address.get(address, ()) if i in self.enrollments]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (e.status in OPEN_STATUSES, e.enrolled_at, e.id))

    def _match(self, plan: _Plan) -> Enrollment | None:
        """By In-Reply-To/References to a Message-ID we sent, else by the sender's address."""
        found = self._by_ids(plan)
        return found if found is not None else self._by_address(self._address(plan))

    def _act(self, plan: _Plan) -> dict:
        """Do what the message calls for; return its InboundEmail row's values."""
        inbound, kind, enrollment = plan.inbound, plan.kind, None
        if kind == "bounce":
            enrollment = self._by_ids(plan)
            addresses = set(plan.failed)
            if enrollment is not None and not addresses:
                addresses = {enrollment.contact.email.lower()}
            for address in sorted(addresses):
                suppress(self.org_id, address, "bounced")
            if enrollment is None:
                enrollment = self._by_address(self._address(plan))
        elif kind == "unsubscribe":
            from app.sequences.sending import read_unsubscribe_token

            words = inbound.subject.split()
            parsed = read_unsubscribe_token(words[-1] if words else "")
            if parsed is not None and parsed[0] == self.org_id:
                suppress(self.org_id, parsed[1], "unsubscribed")
        elif kind == "auto_reply":
            enrollment = self._match(plan)
            if enrollment is not None:
                pause_for_ooo(enrollment, inbound.subject + "\n" + inbound.text_body(), self.now, locked=True)
        else:
            enrollment = self._match(plan)
            kind = "reply" if enrollment is not None else "unmatched"
            if enrollment is not None and record_reply(enrollment, self.now, subject=inbound.subject,
                                                       snippet=inbound.text_body().strip()[:500], score=False,
                                                       locked=True):
                self.replied.append(enrollment.contact)
        return {"org_id": self.org_id, "message_key": inbound.key, "kind": kind, "from_email": inbound.sender,
                "subject": inbound.subject, "enrollment_id": enrollment.id if enrollment is not None else None,
                "received_at": self.now}


def handle_messages(org_id: int, raws: list, now: datetime | None = None) -> list[dict]:
    """Classify and act on messages in the caller's transaction (flushed, not committed); one result each.

    The same message twice acts once. Raises Invalid (not an email at all), Unhandled (a message
    not to act on, saying why) or whatever the database raises: the caller rolls back and sets
    the message aside (app/sequences/quarantine.py).
    """
    return _Batch(org_id, [Inbound(raw) for raw in raws], now or utcnow()).run()


def _result(row: dict) -> dict:
    result = {"matched": row["enrollment_id"] is not None, "kind": row["kind"]}
    if row["enrollment_id"] is not None:
        result["enrollment_id"] = row["enrollment_id"]
    return result


def mark_replied(enrollment: Enrollment, actor, now: datetime | None = None) -> Enrollment:
    """A rep says the prospect replied (by phone, from another inbox...)."""
    from app.sequences.service import check_can_work

    check_can_work(enrollment, actor)
    record_reply(enrollment, now or utcnow(), source=f"marked by {actor.name}")
    db.session.commit()
    return enrollment


def replied_by_event(contact: Contact, at: datetime | None = None, *, commit: bool = True) -> int:
    """An `email_reply` event (POST /api/v1/events) ends the contact's open enrollments as replied."""
    at = at or utcnow()
    count = 0
    for enrollment in Enrollment.query.filter(Enrollment.org_id == contact.org_id,
                                              Enrollment.contact_id == contact.id,
                                              Enrollment.status.in_(OPEN_STATUSES)).all():
        count += record_reply(enrollment, at, source="reported by an integration", score=False)
    if commit:
        db.session.commit()
    return count
