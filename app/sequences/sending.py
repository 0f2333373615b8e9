"""Running due steps: at most once, by construction.

For each due enrollment: claim the step (a StepSend row `sending`, unique per enrollment
and step, committed in the same transaction that re-checks the enrollment is still active),
send, then mark it `sent`. A claim that never got its mark (the process died) becomes
`unknown` on a later sweep; nothing ever sends it again on its own.
"""

import os
import random
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from urllib.parse import quote, urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Activity, Enrollment, SequenceStep, StepSend, Task, org_zone, utcnow
from app.sequences import merge
from app.sequences.mailer import NotSent, Refused, Unknown, make_mailer
from app.sequences.service import (
    advance,
    end_enrollment,
    footer_lines,
    footer_text,
    in_window,
    notify,
    resume_bulk_jobs,
    step_at,
    suppress,
    why_not_enrollable,
    window_start,
)
from app.tasks.service import today_bounds

STALE_CLAIM = timedelta(minutes=5)  # a send still `sending` after this was cut off
RETRY_AFTER = timedelta(minutes=10)
SWEEP_LIMIT = 2000


def _dialect() -> str:
    return db.session.get_bind().dialect.name


# ---------------------------------------------------------------- unsubscribe tokens and addresses


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(org_id: int, email: str) -> str:
    return _serializer().dumps([org_id, email.strip().lower()])


def read_unsubscribe_token(token: str):
    """Return (org_id, email) from a token, or None when it is not one of ours."""
    try:
        org_id, email = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(org_id, int) or not isinstance(email, str):
        return None
    return org_id, email


def base_url() -> str:
    return current_app.config.get("BASE_URL", "http://localhost:5000").rstrip("/")


def mail_domain() -> str:
    return urlsplit(base_url()).hostname or "localhost"


def unsubscribe_mailbox() -> str:
    return current_app.config.get("UNSUBSCRIBE_MAILTO") or f"unsubscribe@{mail_domain()}"


def outbox_dir() -> str:
    return os.path.join(current_app.instance_path, "outbox")


# ---------------------------------------------------------------- building a message


def build_message(enrollment: Enrollment, step: SequenceStep, message_id: str, earlier_ids: list,
                  footer: tuple | None = None) -> EmailMessage:
    """The email for one step, with its Message-ID, threading and RFC 8058 one-click unsubscribe."""
    contact, owner = enrollment.contact, enrollment.owner
    values = merge.values_for(contact, owner)
    token = unsubscribe_token(enrollment.org_id, contact.email)
    link = f"{base_url()}/u/{token}"
    message = EmailMessage()
    message["From"] = formataddr((owner.name, owner.email))
    message["To"] = formataddr((contact.name, contact.email))
    message["Subject"] = merge.render(step.subject, values)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    if earlier_ids:  # follow-ups thread under the first email
        message["In-Reply-To"] = earlier_ids[-1]
        message["References"] = " ".join(earlier_ids[-10:])
    message["List-Unsubscribe"] = f"<{link}>, <mailto:{unsubscribe_mailbox()}?subject={quote('unsubscribe ' + token)}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    body = merge.render(step.body, values).rstrip() + "\n\n" + footer_text(enrollment.org_id, link, footer) + "\n"
    message.set_content(body)
    return message


# ---------------------------------------------------------------- the sweep


def sweep_due(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> dict:
    """Run every step due by `now`: call out cut-off sends, wake paused ones, then claim-send-mark each."""
    now = now or utcnow()
    counts = {"unknown": mark_unknown(now), "resumed": resume_paused(now)}
    bulk = resume_bulk_jobs(now)
    if bulk:
        counts["bulk_jobs"] = bulk
    ids = list(db.session.execute(
        select(Enrollment.id).where(Enrollment.status == "active", Enrollment.next_due_at <= now)
        .order_by(Enrollment.next_due_at, Enrollment.id).limit(limit)).scalars())
    db.session.rollback()
    if not ids:
        return counts
    mailer = make_mailer(current_app.config.get("SMTP_URL", ""), outbox_dir())
    cache: dict = {}  # per sweep: each organisation's zone and footer, each rep's sends today
    try:
        for enrollment_id in ids:
            outcome = run_step(enrollment_id, now, mailer, cache)
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        mailer.close()
    return counts


def mark_unknown(now: datetime) -> int:
    """Sends claimed long ago and never marked: call them unknown, pause, and tell the owner."""
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


def _claim(enrollment_id: int, now: datetime) -> Enrollment | None:
    """Lock the enrollment if it is still active and due (skipping one a reply holds right now)."""
    query = select(Enrollment).where(Enrollment.id == enrollment_id, Enrollment.status == "active",
                                     Enrollment.next_due_at <= now)
    if _dialect() == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.execute(query).scalar_one_or_none()


def sent_today(sender_id: int, org_id: int, now: datetime, zone=None) -> int:
    start, end = today_bounds(zone or org_zone(org_id), now)
    return db.session.query(func.count(StepSend.id)).filter(
        StepSend.sender_id == sender_id, StepSend.claimed_at >= start, StepSend.claimed_at < end,
        StepSend.status.in_(("sending", "sent", "unknown"))).scalar() or 0


def _cached(cache: dict, key, compute):
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def run_step(enrollment_id: int, now: datetime, mailer, cache: dict | None = None) -> str:
    """Run one enrollment's due step; return what happened."""
    cache = {} if cache is None else cache
    enrollment = _claim(enrollment_id, now)
    if enrollment is None:
        db.session.rollback()
        return "skipped"
    sequence = enrollment.sequence
    step = step_at(sequence, enrollment.position)
    if step is None:
        advance(enrollment, sequence, now)
        db.session.commit()
        return "finished"
    if step.type != "email":
        return _make_task(enrollment, step, now)
    contact = enrollment.contact
    reason = why_not_enrollable(contact)
    if reason:
        end_enrollment(enrollment, "bounced" if reason == "bounced" else "unsubscribed", now)
        db.session.commit()
        return "suppressed"
    zone = _cached(cache, ("zone", enrollment.org_id), lambda: org_zone(enrollment.org_id))
    if not in_window(sequence, now, zone):
        enrollment.next_due_at = window_start(sequence, now, zone) + _spacing(sequence)
        db.session.commit()
        return "deferred"
    day = today_bounds(zone, now)[0]
    sent_key = ("sent", enrollment.owner_id, day)
    if _cached(cache, sent_key, lambda: sent_today(enrollment.owner_id, enrollment.org_id, now, zone)) \
            >= sequence.daily_cap:
        _, tomorrow = today_bounds(zone, now)
        enrollment.next_due_at = window_start(sequence, tomorrow, zone) + _spacing(sequence)
        db.session.commit()
        return "capped"
    earlier = [s.message_id for s in enrollment.sends if s.status == "sent" and s.message_id] \
        if enrollment.position > 1 else []
    message_id = make_msgid(idstring=f"sg{enrollment.id}.{step.id}", domain=mail_domain())
    send = StepSend(org_id=enrollment.org_id, enrollment_id=enrollment.id, step_id=step.id, position=step.position,
                    sender_id=enrollment.owner_id, status="sending", message_id=message_id,
                    to_email=contact.email, claimed_at=now)
    try:
        footer = _cached(cache, ("footer", enrollment.org_id), lambda: footer_lines(enrollment.org_id))
        message = build_message(enrollment, step, message_id, earlier, footer)
    except (ValueError, TypeError) as exc:  # e.g. an address the email library cannot write
        send.status, send.error = "skipped", f"Could not build the message: {exc}"[:300]
        db.session.add(send)
        advance(enrollment, sequence, now)
        db.session.commit()
        return "failed"
    sender = enrollment.owner.email
    # Re-check inside the claiming transaction (SQLite has no FOR UPDATE): a reply that
    # committed a moment ago makes this touch no row, and nothing is sent.
    still_active = db.session.execute(
        update(Enrollment).where(Enrollment.id == enrollment.id, Enrollment.status == "active",
                                 Enrollment.position == step.position)
        .values(position=Enrollment.position).execution_options(synchronize_session=False)).rowcount
    if not still_active:
        db.session.rollback()
        return "skipped"
    db.session.add(send)
    try:
        db.session.commit()  # the claim: from here on this step is never sent again
    except IntegrityError:
        db.session.rollback()
        return "skipped"
    send_id = send.id
    cache[sent_key] += 1
    try:
        mailer.send(message, sender, contact.email)
    except NotSent as exc:
        cache[sent_key] -= 1  # nothing left: it does not count against the cap
        return _release(send_id, enrollment_id, now, str(exc))
    except Refused as exc:
        return _refused(send_id, now, str(exc))
    except Unknown as exc:
        return _unknown(send_id, str(exc))
    _mark_sent(send_id, now)
    return "sent"


def _spacing(sequence) -> timedelta:
    return timedelta(seconds=random.randint(0, sequence.spacing_minutes * 60)) if sequence.spacing_minutes else timedelta()


def _locked_enrollment(enrollment_id: int) -> Enrollment:
    query = select(Enrollment).where(Enrollment.id == enrollment_id)
    if _dialect() == "postgresql":
        query = query.with_for_update()
    return db.session.execute(query).scalar_one()


def _mark_sent(send_id: int, now: datetime) -> None:
    send = db.session.get(StepSend, send_id)
    enrollment = _locked_enrollment(send.enrollment_id)
    send.status, send.sent_at = "sent", now
    if enrollment.first_sent_at is None:
        enrollment.first_sent_at = now
    # A reply may have ended it while the message was on the wire: then it stays ended.
    if enrollment.status == "active" and enrollment.position == send.position:
        advance(enrollment, enrollment.sequence, now)
    step = send.step
    db.session.add(Activity(
        org_id=send.org_id, contact_id=enrollment.contact_id, deal_id=enrollment.deal_id,
        user_id=enrollment.owner_id, kind="email", at=now, unique_key=f"seqsend:{send.id}",
        body=f"Sequence “{enrollment.sequence.name}”, step {step.position}: "
             f"{merge.render(step.subject, merge.values_for(enrollment.contact, enrollment.owner))}"[:2000],
    ))
    db.session.commit()


def _release(send_id: int, enrollment_id: int, now: datetime, error: str) -> str:
    """Nothing left: drop the claim and try again later."""
    db.session.rollback()
    StepSend.query.filter_by(id=send_id, status="sending").delete()
    enrollment = _locked_enrollment(enrollment_id)
    if enrollment.status == "active":
        enrollment.next_due_at = now + RETRY_AFTER
    current_app.logger.warning("sequence send %s not sent, retrying later: %s", send_id, error)
    db.session.commit()
    return "retry"


def _refused(send_id: int, now: datetime, error: str) -> str:
    """The server refused the address: a bounce. Suppress it and end its enrollments."""
    send = db.session.get(StepSend, send_id)
    send.status, send.error = "skipped", f"Refused: {error}"[:300]
    suppress(send.org_id, send.to_email, "bounced")
    db.session.commit()
    return "bounced"


def _unknown(send_id: int, error: str) -> str:
    send = db.session.get(StepSend, send_id)
    send.status, send.error = "unknown", error[:300]
    enrollment = _locked_enrollment(send.enrollment_id)
    if enrollment.status == "active" and enrollment.position == send.position:
        enrollment.status, enrollment.pause_reason, enrollment.next_due_at = "paused", "unknown send", None
    notify(send.org_id, enrollment.owner_id, "sequence",
           f"An email to {send.to_email} may not have gone out (the connection broke). Check and resume.",
           f"/sequences/{enrollment.sequence_id}", f"unknown:{send.id}")
    db.session.commit()
    return "unknown"


def _make_task(enrollment: Enrollment, step: SequenceStep, now: datetime) -> str:
    """Call and LinkedIn steps become a task on the rep's list at their due time."""
    contact = enrollment.contact
    key = f"seqstep:{enrollment.id}:{step.id}"
    verb = "Call" if step.type == "call" else "Connect on LinkedIn with"
    title = f"{verb} {contact.name or contact.email} ({enrollment.sequence.name}, step {step.position})"[:200]
    notes = merge.render(step.body, merge.values_for(contact, enrollment.owner))[:2000]
    task = Task(org_id=enrollment.org_id, owner_id=enrollment.owner_id, contact_id=contact.id,
                deal_id=enrollment.deal_id, kind=step.type, title=title, notes=notes, due_at=now, unique_key=key)
    db.session.add(task)
    db.session.flush()
    db.session.add(StepSend(org_id=enrollment.org_id, enrollment_id=enrollment.id, step_id=step.id,
                            position=step.position, sender_id=enrollment.owner_id, status="task",
                            to_email=contact.email, task_id=task.id, claimed_at=now, sent_at=now))
    advance(enrollment, enrollment.sequence, now)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return "skipped"
    return "task"
