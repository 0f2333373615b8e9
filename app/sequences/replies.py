"""Inbound mail: replies stop sequences, auto-replies do not, bounces and unsubscribes suppress.

One entry point, handle_inbound(), for the webhook (POST /api/v1/inbound-email) and IMAP
polling; an InboundEmail row keyed by the message makes a retry or a re-poll act once.
"""

import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.deals.service import Invalid
from app.extensions import db
from app.models import Activity, Contact, Enrollment, InboundEmail, StepSend, Task, org_zone, utcnow
from app.models.sequences import OPEN_STATUSES
from app.sequences.service import end_enrollment, notify, suppress
from app.timezones import to_utc

MAX_INBOUND_BYTES = 20 * 1024 * 1024
OOO_DEFAULT = timedelta(days=7)
OOO_LONGEST = timedelta(days=60)
AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_MSGID = re.compile(r"<[^<>\s]{1,250}>")
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


def parse_message(raw: bytes) -> EmailMessage:
    """Parse raw RFC 5322 bytes; Invalid when it is not a message at all."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise Invalid({"message": "is empty: send the raw RFC 5322 message as the body"}, "The message is empty.")
    if len(raw) > MAX_INBOUND_BYTES:
        raise Invalid({"message": f"is larger than {MAX_INBOUND_BYTES // (1024 * 1024)} MB"}, "The message is too large.")
    try:
        message = BytesParser(policy=policy.default).parsebytes(bytes(raw))
    except Exception as exc:  # noqa: BLE001 - any parser failure is the sender's malformed input
        raise Invalid({"message": f"could not be read as an email ({type(exc).__name__})"}) from None
    if not any(message.get(h) for h in ("From", "Message-ID", "Subject", "Content-Type", "Return-Path")) \
            or not message.keys():
        raise Invalid({"message": "has no email headers (From, Message-ID, Subject...): "
                                  "send the raw RFC 5322 message"}, "That is not an email message.")
    return message


def _clean(text: str) -> str:
    """Undecodable bytes (kept by the parser as lone surrogates) become U+FFFD, so the database takes it."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _header(message, name: str) -> str:
    try:
        value = message.get(name)
        return _clean(str(value)) if value is not None else ""
    except Exception:  # noqa: BLE001 - a header the parser cannot decode counts as absent
        raw = message.get_all(name, failobj=[None])[0] if hasattr(message, "get_all") else None
        return _clean(str(raw or ""))


def _text_body(message) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
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


def message_key(message, raw: bytes) -> str:
    message_id = _header(message, "Message-ID").strip()
    return hashlib.sha256((message_id or "").encode("utf-8", "replace") if message_id else bytes(raw)).hexdigest()


def is_bounce(message) -> bool:
    return message.get_content_type() == "multipart/report" and \
        (message.get_param("report-type") or "").lower() == "delivery-status"


def is_auto_reply(message) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None:
        return True
    return _header(message, "Precedence").strip().lower() in AUTO_PRECEDENCE


def referenced_ids(message) -> list[str]:
    found = []
    for name in ("In-Reply-To", "References"):
        found += _MSGID.findall(_header(message, name))
    return found[-50:]


def _bounce_details(message) -> tuple[list[str], list[str]]:
    """Failed recipients and the original message's ids, from a delivery status report."""
    failed, ids = [], []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                action = str(block.get("Action", "")).strip().lower()
                recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
                if action == "failed" and ";" in recipient:
                    failed.append(recipient.split(";", 1)[1].strip().strip("<>").lower())
        elif kind in ("text/rfc822-headers", "message/rfc822"):
            try:
                inner = part.get_payload()[0] if kind == "message/rfc822" else \
                    HeaderParser().parsestr(part.get_content())
                ids += _MSGID.findall(str(inner.get("Message-ID", "")))
            except Exception:  # noqa: BLE001
                continue
    return failed, ids


def _enrollment_for_ids(org_id: int, ids: list) -> Enrollment | None:
    if not ids:
        return None
    send = StepSend.query.filter(StepSend.org_id == org_id, StepSend.message_id.in_(ids)) \
        .order_by(StepSend.id.desc()).first()
    return send.enrollment if send else None


def _enrollment_for_sender(org_id: int, address: str) -> Enrollment | None:
    address = (address or "").strip().lower()
    if not address:
        return None
    # Contacts are stored lower-case (contacts.clean_email), so the unique (org, email) index serves this.
    contact_ids = select(Contact.id).where(Contact.org_id == org_id, Contact.email == address)
    rows = Enrollment.query.filter(Enrollment.org_id == org_id, Enrollment.contact_id.in_(contact_ids),
                                   Enrollment.first_sent_at.is_not(None)) \
        .order_by(Enrollment.status.in_(OPEN_STATUSES).desc(), Enrollment.enrolled_at.desc()).limit(1).all()
    return rows[0] if rows else None


def match(org_id: int, message) -> Enrollment | None:
    """By In-Reply-To/References to a Message-ID we sent, else by the sender's address."""
    found = _enrollment_for_ids(org_id, referenced_ids(message))
    if found is None:
        found = _enrollment_for_sender(org_id, parseaddr(_header(message, "From"))[1])
    return found


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
                 source: str = "email", score: bool = True) -> bool:
    """End the enrollment as replied, log the reply, give the owner a task and a notification (no commit)."""
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
    db.session.add(Task(org_id=enrollment.org_id, owner_id=enrollment.owner_id, contact_id=contact.id,
                        deal_id=enrollment.deal_id, kind="reply", title=f"Answer {who}'s reply"[:200],
                        notes=(subject or "")[:2000], due_at=at, unique_key=f"seqreply:{enrollment.id}"))
    notify(enrollment.org_id, enrollment.owner_id, "reply", f"{who} replied to “{enrollment.sequence.name}”.",
           f"/contacts/{contact.id}", f"seqreply:{enrollment.id}")
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


def pause_for_ooo(enrollment: Enrollment, text: str, now: datetime) -> None:
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


def handle_inbound(org_id: int, raw: bytes, now: datetime | None = None) -> dict:
    """Classify and act on one inbound message; the same message twice acts once."""
    now = now or utcnow()
    message = parse_message(raw)
    key = message_key(message, raw)
    seen = InboundEmail.query.filter_by(org_id=org_id, message_key=key).first()
    if seen is not None:
        return _result(seen)
    subject = _header(message, "Subject")[:300]
    sender = parseaddr(_header(message, "From"))[1].lower()[:254]
    enrollment = None
    if is_bounce(message):
        kind = "bounce"
        failed, ids = _bounce_details(message)
        enrollment = _enrollment_for_ids(org_id, ids)
        addresses = set(failed)
        if enrollment is not None and not addresses:
            addresses = {enrollment.contact.email.lower()}
        for address in addresses:
            suppress(org_id, address, "bounced")
        if enrollment is None and failed:
            enrollment = _enrollment_for_sender(org_id, failed[0])
    elif _unsubscribe_request(message, subject):
        kind = "unsubscribe"
        token = subject.split()[-1] if subject.split() else ""
        from app.sequences.sending import read_unsubscribe_token

        parsed = read_unsubscribe_token(token)
        if parsed is not None and parsed[0] == org_id:
            suppress(org_id, parsed[1], "unsubscribed")
    elif is_auto_reply(message):
        kind = "auto_reply"
        enrollment = match(org_id, message)
        if enrollment is not None:
            pause_for_ooo(enrollment, subject + "\n" + _text_body(message), now)
    else:
        enrollment = match(org_id, message)
        kind = "reply" if enrollment is not None else "unmatched"
        if enrollment is not None:
            snippet = _text_body(message).strip()[:500]
            record_reply(enrollment, now, subject=subject, snippet=snippet)
    row = InboundEmail(org_id=org_id, message_key=key, kind=kind, from_email=sender, subject=subject,
                       enrollment_id=enrollment.id if enrollment is not None else None, received_at=now)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:  # the same message handled at the same moment by another request
        db.session.rollback()
        row = InboundEmail.query.filter_by(org_id=org_id, message_key=key).one()
    return _result(row)


def _unsubscribe_request(message, subject: str) -> bool:
    from app.sequences.sending import unsubscribe_mailbox

    target = unsubscribe_mailbox().lower()
    recipients = [a.lower() for _, a in getaddresses([_header(message, "To"), _header(message, "Cc")])]
    return target in recipients and subject.lower().startswith("unsubscribe")


def _result(row: InboundEmail) -> dict:
    result = {"matched": row.enrollment_id is not None, "kind": row.kind}
    if row.enrollment_id is not None:
        result["enrollment_id"] = row.enrollment_id
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
