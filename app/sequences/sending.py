"""Running due steps: at most once, by construction, a small batch at a time over one connection.

The sweep groups due enrollments by organisation (each has one transport and one base URL)
and works through them BATCH at a time. One transaction claims a batch: each email step gets
its StepSend row `sending` (unique per enrollment and step), its enrollment leaves the due
list, and its sender's daily counter takes a slot (`sent + 1 WHERE sent < cap`, the row
lock queueing concurrent workers). Then the batch's messages go out over one SMTP
connection, and one transaction records what the relay answered to each. A crash between
the two leaves at most that batch `sending`: a later sweep calls it `unknown` and tells the
owners, and nothing ever sends it again on its own.

What the relay answers decides (app/sequences/mailer.py): a 250 after the message is `sent`;
a 4xx is retried (5 min, 30 min, 2 h, then `failed`); a 5xx is `bounced` (the address is
suppressed only when it does not exist); a failure of the installation holds sending (a
SenderPause), gives the claims and their cap slots back and blames no recipient.
"""

import base64
import hashlib
import hmac
import random
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from urllib.parse import quote, urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, bindparam, case, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app import phones
from app.extensions import db
from app.models import (
    Activity,
    Contact,
    Enrollment,
    SenderDay,
    SenderPause,
    Sequence,
    SequenceStep,
    StepSend,
    Suppression,
    Task,
    org_zone,
    utcnow,
)
from app.sequences import merge, sms
from app.sequences.mail_settings import SendingConfig, org_transport, sending_config
from app.sequences.mailer import (
    SMTP_POLICY,
    Deferred,
    InstallationFailure,
    Refused,
    SendFailure,
    Unknown,
)
from app.sequences.service import (
    advance,
    end_enrollment,
    footer_lines,
    footer_text,
    hold_sending,
    in_window,
    mark_sender_inactive,
    notify,
    preferred_sender,
    resume_bulk_jobs,
    step_at,
    suppress,
    window_start,
)
from app.statements import dialect_insert
from app.tasks.service import local_day, today_bounds
from app.webhooks.events import task_created

STALE_CLAIM = timedelta(minutes=5)  # a send still `sending` after this was cut off
BATCH = 20  # claimed in one transaction, sent over one connection, recorded in one transaction
# No new message of a batch starts after this, so a claim is recorded long before STALE_CLAIM
# (each SMTP step may still wait TIMEOUT for a slow relay).
BATCH_SECONDS = 60
RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))  # after a 4xx; then failed
SWEEP_LIMIT = 2000
# While a relay is set but real sending is off (Settings → Email sending lists what is missing),
# a due email is looked at again this much later: no claim, no count, no churn on every tick.
HELD_RECHECK = timedelta(minutes=10)
_COUNTED = ("sending", "sent", "unknown", "bounced")  # what used a day's slot before counters existed


def _dialect() -> str:
    return db.session.get_bind().dialect.name


# ---------------------------------------------------------------- where mail goes, unsubscribe links


def transport_for(org_id: int, config: SendingConfig | None = None):
    """The transport an organisation's email goes through: its relay, the installation's, or the outbox."""
    return org_transport(org_id, config)


def base_url(org_id: int | None = None) -> str:
    """The public address unsubscribe links are built on: the organisation's, else BASE_URL."""
    if org_id is not None:
        return sending_config(org_id).base_url
    return (current_app.config.get("BASE_URL") or "http://localhost:5000").rstrip("/")


def mail_domain(org_id: int | None = None) -> str:
    return urlsplit(base_url(org_id)).hostname or "localhost"


def unsubscribe_mailbox(org_id: int | None = None) -> str:
    """Where "unsubscribe" emails go: the organisation's mailbox, else UNSUBSCRIBE_MAILTO, else unsubscribe@<host>."""
    if org_id is not None:
        return sending_config(org_id).unsubscribe_mailto
    return current_app.config.get("UNSUBSCRIBE_MAILTO") or f"unsubscribe@{mail_domain()}"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(org_id: int, email: str) -> str:
    """The first, long token (a signed organisation and address): links already sent keep working."""
    return _serializer().dumps([org_id, email.strip().lower()])


_MAC_CHARS = 11  # 64 bits of HMAC-SHA256, base64url
_SHORT_TOKEN = re.compile(r"[0-9a-z]{1,6}[A-Za-z0-9_-]{11}")  # a send id below 2**31 in base 36, then the MAC


def _mac(send_id: int) -> str:
    key = hashlib.sha256(b"stagegate unsubscribe v2\0" + current_app.config["SECRET_KEY"].encode()).digest()
    digest = hmac.new(key, str(send_id).encode(), hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def send_token(send_id: int) -> str:
    """A short unsubscribe token for one message: its send's id in base 36 and a MAC (fits a folded header)."""
    digits, n = "", send_id
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if not n:
            return digits + _mac(send_id)


def read_unsubscribe_token(token: str):
    """Return (org_id, email) from a token (short or long form), or None when it is not one of ours."""
    if _SHORT_TOKEN.fullmatch(token):
        send_id = int(token[:-_MAC_CHARS], 36)
        if send_id >= 2**31 or not hmac.compare_digest(token[-_MAC_CHARS:], _mac(send_id)):
            return None
        row = db.session.execute(select(StepSend.org_id, StepSend.to_email).where(StepSend.id == send_id)).first()
        return (row.org_id, row.to_email.strip().lower()) if row else None
    try:
        org_id, email = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(org_id, int) or not isinstance(email, str):
        return None
    return org_id, email


def list_unsubscribe(link: str, token: str, mailbox: str) -> str:
    """RFC 2369/8058 header value: plain ASCII, folded after the comma when one line would pass 78."""
    mailto = f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"
    one_line = f"<{link}>, <{mailto}>"
    if len("List-Unsubscribe: ") + len(one_line) <= 78:
        return one_line
    return f"<{link}>,\r\n <{mailto}>"


# ---------------------------------------------------------------- building a message


def build_message(enrollment: Enrollment, step: SequenceStep, message_id: str, earlier_ids: list, token: str,
                  footer: tuple | None = None, base: str | None = None, mailbox: str | None = None) -> EmailMessage:
    """The email for one step, from its sender, with threading and RFC 8058 one-click unsubscribe."""
    contact, sender = enrollment.contact, enrollment.owner
    values = merge.values_for(contact, sender)
    link = f"{base or base_url(enrollment.org_id)}/u/{token}"
    message = EmailMessage(policy=SMTP_POLICY)
    _put(message, "From", formataddr((sender.name, sender.email)))
    _put(message, "To", formataddr((contact.name, contact.email)))
    _put(message, "Subject", merge.render(step.subject, values))
    _put(message, "Date", formatdate(usegmt=True))
    _put(message, "Message-ID", message_id)
    if earlier_ids:  # follow-ups thread under the first email
        # One msg-id, never folded: folding it puts it on a line of its own, which some parsers read back
        # with a leading space (a long id, as a five-digit pid and a large deal id make, reached 79 columns).
        if _one_line(earlier_ids[-1]):
            message.set_raw("In-Reply-To", earlier_ids[-1])
        else:
            _put(message, "In-Reply-To", earlier_ids[-1])
        _put(message, "References", " ".join(earlier_ids[-10:]))
    # Set as written: the email package would turn a long unbreakable link into an RFC 2047 encoded-word.
    message.set_raw("List-Unsubscribe", list_unsubscribe(link, token, mailbox or unsubscribe_mailbox(enrollment.org_id)))
    message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    body = merge.render(step.body, values).rstrip() + "\n\n" + footer_text(enrollment.org_id, link, footer) + "\n"
    if body.isascii() and "\x00" not in body and max(len(line) for line in body.splitlines()) <= 998:
        for name, value in _PLAIN_TEXT:
            message.set_raw(name, value)
        message.set_payload(body)
    else:  # the library picks the encoding (quoted-printable or base64)
        message.set_content(body)
    return message


# A 7-bit text body's headers, parsed once: the generator reads Content-Type for every message.
_PLAIN_TEXT = tuple((name, SMTP_POLICY.header_factory(name, value)) for name, value in (
    ("MIME-Version", "1.0"), ("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "7bit")))


def _one_line(value: str) -> bool:
    """A header value safe to write as it is on one line (printable ASCII, far below SMTP's 998)."""
    return value.isascii() and value.isprintable() and len(value) <= 900


def _put(message: EmailMessage, name: str, value: str) -> None:
    """Set a header; a short printable ASCII value as written, anything else through the email package.

    The package parses every header it is given (most of the cost of building a message);
    a value that needs no encoding and no folding comes out the same either way.
    """
    if value.isascii() and value.isprintable() and len(name) + 2 + len(value) <= 78:
        message.set_raw(name, value)
    else:
        message[name] = value


# ---------------------------------------------------------------- the sweep


@dataclass
class _OrgRun:
    """One organisation's part of a sweep: what every claim of it shares."""

    org_id: int
    zone: object
    day: date  # today in the organisation's calendar: the daily cap's day
    bounds: tuple  # that day's start and end, as naive UTC
    footer: tuple
    base: str
    domain: str
    mailbox: str  # the unsubscribe mailto's address
    held: bool  # a relay is set but real sending is off (no postal or https address): emails wait
    open_pauses: bool
    counters: set = field(default_factory=set)  # senders whose counter row for the day exists
    texts_held: bool = False  # an SMS provider is chosen but its account is incomplete: texts wait


@dataclass
class _Claim:
    """A claimed send, as plain values: the batch's ORM rows expire at the claim's commit."""

    send_id: int
    enrollment_id: int
    sender_id: int
    sender_email: str
    to_email: str
    position: int
    due_at: datetime | None  # the enrollment's due time before the claim (given back on release)
    retried: bool  # a `retrying` row taken again (a release puts it back) rather than a new row
    summary: str  # the timeline entry's text
    contact_id: int
    deal_id: int | None
    sequence_id: int
    message: EmailMessage | None = None
    to_phone: str = ""  # a text step: the number (E.164), and `text` its body
    text: str | None = None


def _held(now: datetime):
    """An open SenderPause covers the enrollment's sender (or every sender) and its retry time has not come."""
    return exists().where(
        SenderPause.org_id == Enrollment.org_id, SenderPause.cleared_at.is_(None),
        or_(SenderPause.user_id.is_(None), SenderPause.user_id == Enrollment.owner_id),
        or_(SenderPause.retry_at.is_(None), SenderPause.retry_at > now))


def _due(now: datetime):
    return and_(Enrollment.status == "active", Enrollment.next_due_at <= now, ~_held(now))


def sweep_due(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> dict:
    """Run every step due by `now`: call out cut-off sends, wake paused ones, then claim-send-record in batches."""
    now = now or utcnow()
    counts = {"unknown": mark_unknown(now), "resumed": resume_paused(now)}
    bulk = resume_bulk_jobs(now)
    if bulk:
        counts["bulk_jobs"] = bulk
    rows = db.session.execute(select(Enrollment.id, Enrollment.org_id).where(_due(now))
                              .order_by(Enrollment.next_due_at, Enrollment.id).limit(limit)).all()
    db.session.rollback()
    by_org: dict = {}
    for enrollment_id, org_id in rows:
        by_org.setdefault(org_id, []).append(enrollment_id)
    for org_id, ids in by_org.items():
        _sweep_org(org_id, ids, now, counts)
    return counts


def _sweep_org(org_id: int, ids: list, now: datetime, counts: dict) -> None:
    zone = org_zone(org_id)
    config = sending_config(org_id)
    run = _OrgRun(org_id=org_id, zone=zone, day=local_day(now, zone), bounds=today_bounds(zone, now),
                  footer=footer_lines(org_id), base=config.base_url, domain=config.mail_domain,
                  mailbox=config.unsubscribe_mailto, held=config.held,
                  open_pauses=db.session.query(exists().where(SenderPause.org_id == org_id,
                                                              SenderPause.cleared_at.is_(None))).scalar())
    texter = sms.texter_for(org_id)
    run.texts_held = texter is None
    db.session.rollback()
    mailer = transport_for(org_id, config)
    try:
        for start in range(0, len(ids), BATCH):
            claims = _claim_batch(ids[start:start + BATCH], now, run, counts)
            if claims:
                _record(claims, _deliver(mailer, claims, texter), now, run, counts)
    finally:
        mailer.close()


def _tally(counts: dict, outcomes) -> None:
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1


def _claim_batch(ids: list, now: datetime, run: _OrgRun, counts: dict) -> list:
    """Claim a batch in one transaction; should one row clash, claim them one at a time instead."""
    outcomes: list = []
    try:
        claims = _claim(ids, now, run, outcomes)
        db.session.commit()  # the claim: from here on these steps are never sent again
    except IntegrityError:
        db.session.rollback()
        run.counters.clear()
        if len(ids) == 1:
            _tally(counts, ["skipped"])
            return []
        return [c for one in ids for c in _claim_batch([one], now, run, counts)]
    _tally(counts, outcomes)
    return claims


def _claim(ids: list, now: datetime, run: _OrgRun, outcomes: list) -> list:
    if _dialect() == "sqlite":
        # Take the writer lock first, so everything read below is current until the commit.
        db.session.execute(update(Enrollment).where(Enrollment.id.in_(ids)).values(position=Enrollment.position)
                           .execution_options(synchronize_session=False))
    # The rows each claim reads come with it: one statement for the people, two for the sequence and the sends.
    query = (select(Enrollment).where(Enrollment.id.in_(ids), _due(now))
             .order_by(Enrollment.next_due_at, Enrollment.id)
             .options(joinedload(Enrollment.contact, innerjoin=True).joinedload(Contact.company),
                      joinedload(Enrollment.contact, innerjoin=True).joinedload(Contact.owner),
                      joinedload(Enrollment.owner, innerjoin=True), joinedload(Enrollment.enrolled_by),
                      selectinload(Enrollment.sequence).selectinload(Sequence.steps),
                      selectinload(Enrollment.sends)))
    if _dialect() == "postgresql":  # skip rows another worker (or a reply) holds right now
        query = query.with_for_update(skip_locked=True, of=Enrollment)
    enrollments = db.session.execute(query).scalars().all()
    outcomes += ["skipped"] * (len(ids) - len(enrollments))
    emails = {e.contact.email.strip().lower() for e in enrollments}
    suppressed = dict(db.session.execute(select(Suppression.email, Suppression.reason).where(
        Suppression.org_id == run.org_id, Suppression.email.in_(emails))).all()) if emails else {}
    ready = []
    for enrollment in enrollments:
        outcome, step, retry = _prepare(enrollment, now, run, suppressed)
        if outcome == "send":
            ready.append((enrollment, step, retry))
        else:
            outcomes.append(outcome)
    claims = []
    groups: dict = {}
    for enrollment, step, retry in ready:
        groups.setdefault((enrollment.owner_id, enrollment.sequence.daily_cap), []).append((enrollment, step, retry))
    # Counter rows in one order, so two workers' claims never wait on each other in a circle.
    for (sender_id, cap), group in sorted(groups.items(), key=lambda item: item[0]):
        granted = _take_slots(sender_id, cap, len(group), run)
        with db.session.no_autoflush:
            for enrollment, _step, _retry in group[granted:]:
                enrollment.next_due_at = window_start(enrollment.sequence, run.bounds[1], run.zone) + \
                    _spacing(enrollment.sequence)
                outcomes.append("capped")
            for enrollment, step, retry in group[:granted]:
                claims.append((enrollment, step, _claim_send(enrollment, step, retry, now, run)))
    if claims:  # off the due list while their messages are on their way (one statement for the batch)
        db.session.execute(update(Enrollment).where(Enrollment.id.in_([e.id for e, _, _ in claims]))
                           .values(next_due_at=None).execution_options(synchronize_session=False))
    db.session.flush()  # the sends' ids: each message's unsubscribe token names its send
    built = []
    for enrollment, step, (send, claim) in claims:
        if step.type == "sms":
            claim.text = merge.render(step.body, merge.values_for(enrollment.contact, enrollment.owner)).strip()
            claim.text = claim.text[:sms.MAX_TEXT]
            claim.send_id = send.id
            built.append(claim)
            continue
        earlier = [s.message_id for s in enrollment.sends if s.status == "sent" and s.message_id]
        try:
            claim.message = build_message(enrollment, step, send.message_id, earlier, send_token(send.id),
                                          run.footer, run.base, run.mailbox)
        except (ValueError, TypeError) as exc:  # e.g. an address the email library cannot write
            send.status, send.error = "skipped", f"Could not build the message: {exc}"[:300]
            advance(enrollment, enrollment.sequence, now, run.zone)
            _give_back([claim.sender_id], run)
            outcomes.append("skipped")
            continue
        claim.send_id = send.id
        built.append(claim)
    return built


def _prepare(enrollment: Enrollment, now: datetime, run: _OrgRun, suppressed: dict):
    """Settle everything short of sending; return ("send", step, retrying row) or (what happened, None, None)."""
    sequence = enrollment.sequence
    step = step_at(sequence, enrollment.position)
    if step is None:
        advance(enrollment, sequence, now, run.zone)
        return "finished", None, None
    done = next((s for s in enrollment.sends if s.step_id == step.id), None)
    if done is not None and done.status != "retrying":
        # This step already ran (a restore or a bug pointed the enrollment back at it): never twice.
        if done.status in ("unknown", "failed"):  # the owner decides, as when it happened
            enrollment.status, enrollment.pause_reason, enrollment.next_due_at = "paused", f"{done.status} send", None
        elif done.status != "sending":  # (a claim of the code before batches, still on its way: leave it)
            advance(enrollment, sequence, now, run.zone)
        return "skipped", None, None
    sender = _sender(enrollment)
    if not sender.active:
        mark_sender_inactive(enrollment, sender)
        return "paused", None, None
    if step.type == "sms":
        return _prepare_text(enrollment, step, done, now, run)
    if step.type != "email":
        _make_task(enrollment, step, now, run)
        return "task", None, None
    contact = enrollment.contact
    reason = "unsubscribed" if contact.unsubscribed else suppressed.get((contact.email or "").strip().lower())
    if reason:
        end_enrollment(enrollment, "bounced" if reason == "bounced" else "unsubscribed", now)
        return "suppressed", None, None
    if not in_window(sequence, now, run.zone):
        enrollment.next_due_at = window_start(sequence, now, run.zone) + _spacing(sequence)
        return "deferred", None, None
    if run.held:  # the settings page lists what is missing; nothing is claimed, so nothing is counted
        enrollment.next_due_at = now + HELD_RECHECK
        return "held", None, None
    return "send", step, done


def _prepare_text(enrollment: Enrollment, step: SequenceStep, retry: StepSend | None, now: datetime, run: _OrgRun):
    """A text step: skipped (and listed) without a number that may be texted; else inside the window and quiet hours."""
    phone, reason = sms.why_not_textable(enrollment.contact)
    if phone is None:
        send = retry or StepSend(org_id=enrollment.org_id, enrollment_id=enrollment.id, step_id=step.id,
                                 position=step.position)
        send.status, send.error, send.claimed_at, send.next_attempt_at = "skipped", reason[:300], now, None
        send.sender_id, send.to_email = enrollment.owner_id, enrollment.contact.email or ""
        db.session.add(send)
        advance(enrollment, enrollment.sequence, now, run.zone)
        return "skipped", None, None
    if run.texts_held:  # Settings → SMS says what is missing; nothing is claimed, so nothing is counted
        enrollment.next_due_at = now + HELD_RECHECK
        return "held", None, None
    at = text_time(enrollment.sequence, enrollment.contact, now, run.zone)
    if at > now:
        enrollment.next_due_at = at
        return "deferred", None, None
    return "send", step, retry


def text_time(sequence: Sequence, contact: Contact, at: datetime, zone) -> datetime:
    """The first moment at or after `at` inside the sequence's window and the contact's 08:00-21:00."""
    their_zone = sms.contact_zone(contact, zone)
    for _ in range(30):
        allowed = sms.quiet_until(window_start(sequence, at, zone), their_zone)
        if allowed == at:
            break
        at = allowed
    return at


def _sender(enrollment: Enrollment):
    """Who sends the next step: the contact's owner (else the enroller) until the first email has gone out."""
    if enrollment.first_sent_at is None:
        chosen = preferred_sender(enrollment.contact, enrollment.enrolled_by or enrollment.owner)
        if chosen.id != enrollment.owner_id:
            enrollment.owner_id, enrollment.owner = chosen.id, chosen
    return enrollment.owner


def _claim_send(enrollment: Enrollment, step: SequenceStep, retry: StepSend | None, now: datetime,
                run: _OrgRun) -> tuple:
    contact = enrollment.contact
    texting = step.type == "sms"
    if retry is None:
        send = StepSend(org_id=enrollment.org_id, enrollment_id=enrollment.id, step_id=step.id,
                        position=step.position, message_id=None if texting else
                        make_msgid(idstring=f"sg{enrollment.id}.{step.id}", domain=run.domain))
        db.session.add(send)
    else:
        send = retry
    send.status, send.claimed_at, send.next_attempt_at = "sending", now, None
    send.sender_id, send.to_email, send.attempts = enrollment.owner_id, contact.email or "", (send.attempts or 0) + 1
    phone = phones.e164(contact.phone) if texting else None
    if phone:
        send.to_phone = phone
    claim = _Claim(
        send_id=0, enrollment_id=enrollment.id, sender_id=enrollment.owner_id,
        sender_email=enrollment.owner.email, to_email=contact.email, position=step.position,
        due_at=enrollment.next_due_at, retried=retry is not None, contact_id=contact.id,
        deal_id=enrollment.deal_id, sequence_id=enrollment.sequence_id, to_phone=phone or "",
        summary=f"Sequence “{enrollment.sequence.name}”, step {step.position}: "
                f"{merge.render(step.body if texting else step.subject, merge.values_for(contact, enrollment.owner))}"
                [:2000])
    return send, claim


def _take_slots(sender_id: int, cap: int, wanted: int, run: _OrgRun) -> int:
    """Count up to `wanted` emails against the sender's day without passing `cap`; return how many were granted.

    `sent = sent + k WHERE sent + k <= cap`: the row lock orders concurrent workers, and each
    sees the count the one before it committed.
    """
    if sender_id not in run.counters:
        run.counters.add(sender_id)
        _ensure_counter(sender_id, run)

    def take(k: int) -> bool:
        return bool(db.session.execute(
            update(SenderDay).where(SenderDay.user_id == sender_id, SenderDay.day == run.day, SenderDay.sent + k <= cap)
            .values(sent=SenderDay.sent + k).execution_options(synchronize_session=False)).rowcount)

    if take(wanted):
        return wanted
    granted = 0  # fewer slots left than wanted: take them one at a time
    while granted < wanted - 1 and take(1):
        granted += 1
    return granted


def _ensure_counter(sender_id: int, run: _OrgRun) -> None:
    """The sender's row for the day; a new one starts from what was claimed today before it existed."""
    if db.session.query(exists().where(SenderDay.user_id == sender_id, SenderDay.day == run.day)).scalar():
        return
    start, end = run.bounds
    already = db.session.query(func.count(StepSend.id)).filter(
        StepSend.sender_id == sender_id, StepSend.claimed_at >= start, StepSend.claimed_at < end,
        StepSend.status.in_(_COUNTED)).scalar() or 0
    db.session.execute(dialect_insert(SenderDay.__table__)
                       .values(org_id=run.org_id, user_id=sender_id, day=run.day, sent=already)
                       .on_conflict_do_nothing(index_elements=["user_id", "day"]))


def _give_back(sender_ids: list, run: _OrgRun) -> None:
    """A message that never left does not count against its sender's day."""
    for sender_id in sorted(sender_ids):
        db.session.execute(update(SenderDay).where(SenderDay.user_id == sender_id, SenderDay.day == run.day,
                                                   SenderDay.sent > 0)
                           .values(sent=SenderDay.sent - 1).execution_options(synchronize_session=False))


def _deliver(mailer, claims: list, texter=None) -> list:
    """Send the batch over one connection; return, per claim, the relay's 250 answer, a SendFailure or None (held).

    A text goes to the SMS provider instead; its answer is the provider's message id.
    """
    started = time.monotonic()
    held_senders: set = set()
    relay_down = False
    results = []
    for claim in claims:
        if claim.text is not None:
            if time.monotonic() - started > BATCH_SECONDS or texter is None:
                results.append(None)
                continue
            try:
                results.append(texter.send(claim.to_phone, claim.text, claim.send_id))
            except SendFailure as exc:
                results.append(exc)
            continue
        if relay_down or claim.sender_id in held_senders or time.monotonic() - started > BATCH_SECONDS:
            results.append(None)
            continue
        try:
            results.append(mailer.send(claim.message, claim.sender_email, claim.to_email))
        except SendFailure as exc:
            results.append(exc)
            if isinstance(exc, InstallationFailure) and not exc.whole_relay:
                held_senders.add(claim.sender_id)
            elif isinstance(exc, InstallationFailure) or isinstance(exc, Unknown) and exc.stalled:
                relay_down = True
    return results


def _record(claims: list, results: list, now: datetime, run: _OrgRun, counts: dict) -> None:
    """Write down what the relay answered to each claim of the batch, in one transaction."""
    if _dialect() == "postgresql":
        # Only the claim must be on disk before a message leaves (that is what makes it at most
        # once); if the database itself crashed before this record reached the disk, the claims
        # would stay `sending` and become `unknown`, never resent. So this commit skips the wait.
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    query = (select(Enrollment).where(Enrollment.id.in_([c.enrollment_id for c in claims])).order_by(Enrollment.id)
             .options(selectinload(Enrollment.sequence).selectinload(Sequence.steps)))
    if _dialect() == "postgresql":  # a reply recorded meanwhile waits, then finds the step done
        query = query.with_for_update(of=Enrollment)
    enrollments = {e.id: e for e in db.session.execute(query).scalars()}
    delivered = [(c, r) for c, r in zip(claims, results, strict=True) if isinstance(r, str)]
    others = [(c, r) for c, r in zip(claims, results, strict=True) if not isinstance(r, str)]
    if delivered:  # the usual case, written in bulk: each send's row, then its timeline entry
        emails = [(c, reply) for c, reply in delivered if c.text is None]
        if emails:
            db.session.execute(update(StepSend), [
                {"id": c.send_id, "status": "sent", "sent_at": now, "relay_reply": reply[:300], "error": ""}
                for c, reply in emails])
        texts = [(c, sid) for c, sid in delivered if c.text is not None]
        if texts:  # the provider's id: its status callbacks name it (one may have come first: its word stands)
            table = StepSend.__table__
            db.session.execute(
                update(table).where(table.c.id == bindparam("send_id"))
                .values(status="sent", sent_at=now, relay_reply=bindparam("sid"), provider_sid=bindparam("sid"),
                        delivery=case((table.c.delivery == "", "sent"), else_=table.c.delivery)),
                [{"send_id": c.send_id, "sid": sid} for c, sid in texts])
        db.session.execute(insert(Activity), [
            {"org_id": run.org_id, "contact_id": c.contact_id, "deal_id": c.deal_id, "user_id": c.sender_id,
             "kind": "email" if c.text is None else "sms", "at": now, "unique_key": f"seqsend:{c.send_id}",
             "body": c.summary}
            for c, _ in delivered])
    for claim, _ in delivered:
        _advance_sent(enrollments[claim.enrollment_id], claim, now, run)
    sends = {s.id: s for s in StepSend.query.filter(StepSend.id.in_([c.send_id for c, _ in others]))} \
        if others else {}
    give_back, outcomes = [], ["sent"] * len(delivered)
    through = {c.sender_id for c, _ in delivered}
    for claim, result in others:
        send, enrollment = sends[claim.send_id], enrollments[claim.enrollment_id]
        current = enrollment.status == "active" and enrollment.position == claim.position
        if result is None or isinstance(result, InstallationFailure):
            _release(send, enrollment, claim, current)
            give_back.append(claim.sender_id)
            outcomes.append("held")
            if result is not None:
                _hold(result, claim, now, run)
        elif isinstance(result, Deferred):
            outcomes.append(_deferred(send, enrollment, result, current, now))
            give_back.append(claim.sender_id)
        elif isinstance(result, Refused) and claim.text is not None:
            _refused_text(send, enrollment, claim, result, current, now, run)
            outcomes.append("bounced")
        elif isinstance(result, Refused):
            _bounced(send, enrollment, result, now)
            outcomes.append("bounced")
        else:
            _unknown(send, enrollment, result.reply, current)
            outcomes.append("unknown")
            if result.stalled:
                _hold(InstallationFailure(f"The relay stopped answering after a message ({result.reply})",
                                          result.stage, "timeout", permanent=False), claim, now, run)
    if through and run.open_pauses:  # the relay takes this sender's mail again: a pause that could pass has
        db.session.execute(update(SenderPause).where(
            SenderPause.org_id == run.org_id, SenderPause.cleared_at.is_(None), SenderPause.retry_at.is_not(None),
            or_(SenderPause.user_id.is_(None), SenderPause.user_id.in_(through)))
            .values(cleared_at=now, open_key=None).execution_options(synchronize_session=False))
    _give_back(give_back, run)  # last: counter rows are the only locks a claim may wait for
    db.session.commit()
    _tally(counts, outcomes)


def _advance_sent(enrollment, claim, now: datetime, run: _OrgRun) -> None:
    if enrollment.first_sent_at is None:
        enrollment.first_sent_at = now
    # A reply may have ended it while the message was on the wire: then it stays ended.
    if enrollment.status == "active" and enrollment.position == claim.position:
        advance(enrollment, enrollment.sequence, now, run.zone)


def _release(send, enrollment, claim, current: bool) -> None:
    """Nothing left: undo the claim; the enrollment stays due (a pause, if any, holds it)."""
    if claim.retried:
        send.status, send.attempts, send.next_attempt_at = "retrying", send.attempts - 1, claim.due_at
    else:
        db.session.delete(send)
    if current and enrollment.next_due_at is None:
        enrollment.next_due_at = claim.due_at


def _hold(failure: InstallationFailure, claim, now: datetime, run: _OrgRun) -> None:
    hold_sending(run.org_id, None if failure.whole_relay else claim.sender_id, failure.kind, failure.reply,
                 failure.permanent, now, claim.sender_id)
    run.open_pauses = True
    current_app.logger.warning("sequence sending held for org %s: %s", run.org_id, failure.reply)


def _deferred(send, enrollment, result: Deferred, current: bool, now: datetime) -> str:
    """A 4xx: try again after 5 min, 30 min, 2 h; after that the step failed and the owner decides."""
    send.relay_reply = result.reply
    if send.attempts <= len(RETRY_AFTER):
        send.status, send.next_attempt_at = "retrying", now + RETRY_AFTER[send.attempts - 1]
        send.error = f"Refused for now at {result.stage}; trying again."
        if current:
            enrollment.next_due_at = send.next_attempt_at
        return "retrying"
    send.status = "failed"
    send.error = f"Still refused at {result.stage} after {send.attempts} tries; not sent."
    if current:
        enrollment.status, enrollment.pause_reason, enrollment.next_due_at = "paused", "email failed", None
    notify(send.org_id, enrollment.owner_id, "sequence",
           f"Your {'text' if send.to_phone else 'email'} to {send.to_phone or send.to_email} could not be "
           f"delivered after {send.attempts} tries "
           f"({result.reply}). Try again or stop the sequence for them.",
           f"/sequences/{enrollment.sequence_id}", f"failed:{send.id}:{send.attempts}")
    return "failed"


def _bounced(send, enrollment, result: Refused, now: datetime) -> None:
    """A 5xx: this step bounced. Only an address that does not exist is suppressed."""
    send.status, send.relay_reply = "bounced", result.reply
    if result.address_gone:
        send.error = f"The recipient's server says the address does not exist ({result.stage})."
        suppress(send.org_id, send.to_email, "bounced")
        return
    send.error = f"The recipient's server refused this message ({result.stage}); the address is not suppressed."
    end_enrollment(enrollment, "bounced", now)
    notify(send.org_id, enrollment.owner_id, "sequence",
           f"Your email to {send.to_email} was refused: {result.reply}. The sequence stopped for them.",
           f"/sequences/{enrollment.sequence_id}", f"refused:{send.id}")


def _refused_text(send, enrollment, claim, result: Refused, current: bool, now: datetime, run: _OrgRun) -> None:
    """The provider refused the number: remember why (later text steps skip it) and go on to the next step."""
    send.status, send.relay_reply, send.delivery = "bounced", result.reply, "failed"
    opted_out = any(code in result.reply for code in sms.OPTED_OUT_CODES)
    send.error = "The number opted out of texts (STOP)." if opted_out else \
        "The provider refused the number; later text steps skip it." if result.address_gone else \
        "The provider refused this text."
    if result.address_gone:
        sms.mark_number(send.org_id, claim.to_phone, now, opted_out=True if opted_out else None,
                        failed=None if opted_out else result.reply, unreachable=True)
    if current:
        advance(enrollment, enrollment.sequence, now, run.zone)
    notify(send.org_id, enrollment.owner_id, "sequence",
           f"Your text to {claim.to_phone} was refused: {result.reply}", f"/sequences/{enrollment.sequence_id}",
           f"refused:{send.id}")


def _unknown(send, enrollment, error: str, current: bool) -> None:
    send.status, send.error = "unknown", error[:300]
    if current:
        enrollment.status, enrollment.pause_reason, enrollment.next_due_at = "paused", "unknown send", None
    notify(send.org_id, enrollment.owner_id, "sequence",
           f"{'A text' if send.to_phone else 'An email'} to {send.to_phone or send.to_email} may not have gone out "
           f"(the connection broke). Check and resume.",
           f"/sequences/{enrollment.sequence_id}", f"unknown:{send.id}")


def mark_unknown(now: datetime) -> int:
    """Sends claimed long ago and never recorded: call them unknown, pause, and tell the owner."""
    stale = StepSend.query.filter(StepSend.status == "sending", StepSend.claimed_at < now - STALE_CLAIM).all()
    for send in stale:
        send.status = "unknown"
        send.error = "The send was cut off (the worker stopped); it may or may not have been delivered."
        enrollment = send.enrollment
        if enrollment.status == "active" and enrollment.position == send.position:
            enrollment.status = "paused"
            enrollment.pause_reason = "unknown send"
            enrollment.next_due_at = None
        notify(send.org_id, enrollment.owner_id, "sequence",
               f"An email to {send.to_email} may not have gone out (the send was cut off). Check and resume.",
               f"/sequences/{enrollment.sequence_id}", f"unknown:{send.id}")
    db.session.commit()
    return len(stale)


def resume_paused(now: datetime) -> int:
    """Out-of-office pauses end on their date; the next step then runs in the window."""
    rows = Enrollment.query.filter(Enrollment.status == "paused", Enrollment.paused_until.is_not(None),
                                   Enrollment.paused_until <= now).all()
    for enrollment in rows:
        enrollment.status = "active"
        enrollment.pause_reason = ""
        enrollment.next_due_at = max(enrollment.next_due_at or now, enrollment.paused_until)
        enrollment.paused_until = None
    db.session.commit()
    return len(rows)


def _spacing(sequence) -> timedelta:
    return timedelta(seconds=random.randint(0, sequence.spacing_minutes * 60)) if sequence.spacing_minutes else timedelta()


def _make_task(enrollment: Enrollment, step: SequenceStep, now: datetime, run: _OrgRun) -> None:
    """Call and LinkedIn steps become a task on the sender's list at their due time (no commit)."""
    contact = enrollment.contact
    key = f"seqstep:{enrollment.id}:{step.id}"
    verb = "Call" if step.type == "call" else "Connect on LinkedIn with"
    title = f"{verb} {contact.name or contact.email} ({enrollment.sequence.name}, step {step.position})"[:200]
    notes = merge.render(step.body, merge.values_for(contact, enrollment.owner))[:2000]
    task = Task(org_id=enrollment.org_id, owner_id=enrollment.owner_id, contact_id=contact.id,
                deal_id=enrollment.deal_id, kind=step.type, title=title, notes=notes, due_at=now, unique_key=key)
    db.session.add(task)
    db.session.flush()
    task_created(task)
    db.session.add(StepSend(org_id=enrollment.org_id, enrollment_id=enrollment.id, step_id=step.id,
                            position=step.position, sender_id=enrollment.owner_id, status="task",
                            to_email=contact.email, task_id=task.id, claimed_at=now, sent_at=now))
    advance(enrollment, enrollment.sequence, now, run.zone)
