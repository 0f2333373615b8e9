"""What the SMS provider posts back: inbound texts (replies, STOP/START/HELP) and delivery status callbacks.

Every request is checked against Twilio's X-Twilio-Signature: base64(HMAC-SHA1(auth token, the full
URL as the provider called it + each form parameter's name and value, sorted by name)). Behind a
proxy the URL is rebuilt on the configured public BASE_URL, never on the Host header.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app import phones
from app.extensions import db
from app.models import Contact, Enrollment, InboundEmail, StepSend, utcnow
from app.models.sequences import OPEN_STATUSES
from app.models.sms import SmsSettings
from app.sequences import sms
from app.sequences.replies import record_reply
from app.sequences.service import end_enrollment

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_IN = {"START", "UNSTOP"}
HELP = {"HELP"}
FINAL = ("delivered", "undelivered", "failed")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
EMPTY = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>"


class BadSignature(Exception):
    """The request was not signed with the auth token of any organisation it could be for: nothing is written."""


@dataclass(frozen=True)
class Answer:
    kind: str  # stop | start | help | reply | unmatched | duplicate | status | ignored
    twiml: str = EMPTY


def signature(url: str, params: list, token: str) -> str:
    """Twilio's request signature for `url` and the POSTed form `params` ([(name, value)])."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(token.encode("utf-8"), data.encode("utf-8", "surrogatepass"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed(url: str, params: list, token: str, given: str) -> bool:
    if not token or not given or len(given) > 200:
        return False
    return hmac.compare_digest(signature(url, params, token).encode(), given.encode("utf-8", "replace"))


def keyword(body: str) -> str:
    """The one word a text is, upper case, with surrounding whitespace and punctuation trimmed."""
    return _EDGES.sub("", body or "").upper()


def _storable(text: str, limit: int) -> str:
    return "".join(ch for ch in (text or "") if ch != "\x00" and not 0xD800 <= ord(ch) <= 0xDFFF)[:limit]


def _candidates(org_ids: list, to_number: str) -> list:
    """(org_id, auth token) pairs the request may come from: the secret's organisation, or by the number texted."""
    if org_ids:
        return [(org_ids[0], sms.sms_config(org_ids[0]).auth_token)]
    rows = db.session.execute(select(SmsSettings.org_id).where(SmsSettings.provider != "",
                                                               SmsSettings.from_number == to_number)).scalars().all()
    if rows:
        return [(org_id, sms.sms_config(org_id).auth_token) for org_id in rows]
    return [(None, sms.sms_config(None).auth_token)]  # the installation's account: every organisation


def _verify(org_ids: list, to_number: str, url: str, params: list, given: str) -> list:
    """The organisations whose token signed the request; BadSignature when none did."""
    matched = [org_id for org_id, token in _candidates(org_ids, to_number) if signed(url, params, token, given)]
    if not matched:
        raise BadSignature()
    return matched


def _contacts(org_id: int | None, phone: str) -> list:
    """Who texts from `phone`: contacts whose number is stored as it, or who were texted at it."""
    texted = select(Enrollment.contact_id).join(StepSend, StepSend.enrollment_id == Enrollment.id).where(
        StepSend.to_phone == phone)
    query = select(Contact).where(or_(Contact.phone == phone, Contact.id.in_(texted)))
    if org_id is not None:
        query = query.where(Contact.org_id == org_id)
    return db.session.execute(query.order_by(Contact.id)).scalars().all()


def _open_enrollments(contacts: list) -> list:
    if not contacts:
        return []
    return Enrollment.query.filter(Enrollment.contact_id.in_([c.id for c in contacts]),
                                   Enrollment.status.in_(OPEN_STATUSES)).order_by(Enrollment.id).all()


def handle_inbound(org_ids: list, url: str, form: list, given: str, now: datetime | None = None) -> Answer:
    """An inbound text: STOP opts the number out and ends its enrollments, START opts back in, HELP answers
    with the organisation's name, anything else is a reply that ends the sender's enrollments."""
    now = now or utcnow()
    params = dict(form)
    matched = _verify(org_ids, phones.e164(params.get("To", "")) or "", url, form, given)
    phone = phones.e164(params.get("From", ""))
    sid = _storable(params.get("MessageSid", "") or params.get("SmsSid", ""), 64)
    body = _storable(params.get("Body", ""), 1600)
    if phone is None or not sid:
        return Answer("ignored")
    word = keyword(body)
    kind = "stop" if word in OPT_OUT else "start" if word in OPT_IN else "help" if word in HELP else "reply"
    contacts = [c for org_id in matched for c in _contacts(org_id, phone)]
    orgs = sorted({c.org_id for c in contacts} | {o for o in matched if o is not None})
    key = hashlib.sha256(f"sms:{sid}".encode()).hexdigest()
    try:
        for org_id in orgs:
            db.session.add(InboundEmail(org_id=org_id, message_key=key, kind=f"sms_{kind}", from_email=phone,
                                        subject=body[:300]))
        db.session.flush()
    except IntegrityError:  # the provider sent it again: it was handled the first time
        db.session.rollback()
        return Answer("duplicate", _help(orgs) if kind == "help" else EMPTY)
    if kind == "stop":
        for org_id in orgs:
            sms.mark_number(org_id, phone, now, opted_out=True)
        for enrollment in _open_enrollments(contacts):
            end_enrollment(enrollment, "unsubscribed", now)
    elif kind == "start":
        for org_id in orgs:
            sms.mark_number(org_id, phone, now, opted_out=False)
    elif kind == "reply":
        enrollments = _open_enrollments(contacts)
        for enrollment in enrollments:
            record_reply(enrollment, now, snippet=body[:500], source="text message")
        if not enrollments:
            kind = "unmatched"
    db.session.commit()
    return Answer(kind, _help(orgs) if kind == "help" else EMPTY)


def _help(orgs: list) -> str:
    name = sms.org_name(orgs[0]) if orgs else ""
    text = f"{name}: reply STOP to stop texts, START to get them again." if name else \
        "Reply STOP to stop texts, START to get them again."
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{escape(text)}</Message></Response>")


def _send_for(org_ids: list, sid: str, send_id: str):
    """The send a report is about: by the provider's id, or by ours (in the callback URL) while the provider's
    id is not written down yet (the report came before the sweep recorded the send)."""
    if not sid:
        return None
    query = select(StepSend).where(StepSend.provider_sid == sid)
    if org_ids:
        query = query.where(StepSend.org_id == org_ids[0])
    send = db.session.execute(query).scalars().first()
    if send is None and send_id.isdigit() and len(send_id) < 10:
        send = db.session.get(StepSend, int(send_id))
        if send is None or send.provider_sid is not None or not send.to_phone or \
                (org_ids and send.org_id != org_ids[0]):
            return None
        if db.session.get_bind().dialect.name == "postgresql":  # wait for the sweep's record, if it is writing
            db.session.execute(select(StepSend.id).where(StepSend.id == send.id).with_for_update())
            db.session.refresh(send)
            if send.provider_sid is not None and send.provider_sid != sid:
                return None
    return send


def handle_status(org_ids: list, url: str, form: list, given: str, now: datetime | None = None,
                  send_id: str = "") -> Answer:
    """A delivery report: the step's send records it; an undeliverable number is marked so later texts skip it."""
    now = now or utcnow()
    params = dict(form)
    sid = _storable(params.get("MessageSid", "") or params.get("SmsSid", ""), 64)
    send = _send_for(org_ids, sid, send_id)
    if org_ids:
        _verify(org_ids, "", url, form, given)
    elif send is not None:
        _verify([send.org_id], "", url, form, given)
    else:
        _verify([], "", url, form, given)
    status = _storable(params.get("MessageStatus", "") or params.get("SmsStatus", ""), 20).lower()
    if send is None or status not in ("queued", "sending", "sent", "delivered", "undelivered", "failed"):
        return Answer("ignored")
    if send.delivery in FINAL and status not in FINAL:
        return Answer("status")  # a late "sent" after the final word changes nothing
    code = _storable(params.get("ErrorCode", ""), 10)
    send.delivery = "sent" if status == "sending" else status
    if status == "delivered":
        send.error = ""
        sms.mark_number(send.org_id, send.to_phone, now, delivered=True)
    elif status in ("undelivered", "failed"):
        reason = f"{status}{f' (error {code})' if code else ''}"
        send.error = f"The provider reports the text {reason}."[:300]
        if send.to_phone:
            sms.mark_number(send.org_id, send.to_phone, now, failed=reason, unreachable=code in sms.UNREACHABLE_CODES)
    db.session.commit()
    return Answer("status")
