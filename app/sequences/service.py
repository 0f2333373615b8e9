"""Sequences: building them, enrolling contacts, scheduling steps, ending enrollments, stats.

Plain functions with explicit arguments; each owns its transaction and raises Invalid
(naming each bad field), Forbidden, or AlreadyEnrolled.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError

from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import (
    BulkEnrollJob,
    Contact,
    Enrollment,
    Notification,
    OutreachSettings,
    SenderPause,
    Sequence,
    SequenceStep,
    StepSend,
    Suppression,
    User,
    org_zone,
    utcnow,
)
from app.models.sequences import OPEN_STATUSES, STEP_TYPES
from app.sequences import merge
from app.text import clean_int, clean_text
from app.timezones import to_utc
from app.webhooks.events import emit
from app.webhooks.shapes import contact_json

MAX_STEPS = 20
MAX_WAIT_DAYS = 365
MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_NAME = 120
# The texts a step of each type cannot do without (the API's document states the same per type).
STEP_TEXT_REQUIRED = {"email": ("subject", "body"), "sms": ("body",)}
DEFAULT_CAP = 40
BULK_LIMIT = 5000
# The article's cold-email reply-rate bands.
BANDS = {"average": (0.05, 0.06), "top": 0.10}


class AlreadyEnrolled(Exception):
    def __init__(self, enrollment: Enrollment):
        super().__init__("This contact is already in this sequence.")
        self.enrollment = enrollment
        self.message = "This contact is already in this sequence."


class CompanyWarning(Exception):
    """Someone else at the contact's company is already in an active enrollment: confirm first."""

    def __init__(self, others: list):
        names = ", ".join(e.contact.name or e.contact.email for e in others[:3])
        super().__init__(f"{names} at the same company is already being contacted by a sequence.")
        self.message = str(self)
        self.others = others


# ---------------------------------------------------------------- building


def _int(values: dict, name: str, errors: dict, low: int, high: int, default: int, label: str = "") -> int:
    """`values[name]` as a whole number (app.text.clean_int), its error filed under `label` when given."""
    return clean_int(values.get(name, default), label or name, errors, low, high, default)


def clean_steps(raw_steps, errors: dict) -> list[dict]:
    """Check each step; errors are keyed steps[i].field (i from 0, as the API sends them)."""
    if not isinstance(raw_steps, list) or not raw_steps:
        errors["steps"] = "must list at least one step"
        return []
    if len(raw_steps) > MAX_STEPS:
        errors["steps"] = f"must have at most {MAX_STEPS} steps"
        return []
    steps = []
    for i, raw in enumerate(raw_steps):
        key = f"steps[{i}]"
        if not isinstance(raw, dict):
            errors[key] = "must be an object with type and wait_days"
            continue
        unknown = [k for k in raw if k not in ("type", "wait_days", "subject", "body")]
        for k in unknown:
            errors[f"{key}.{str(k)[:40]}"] = "is not a step field"
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in STEP_TYPES:
            errors[f"{key}.type"] = "must be email, sms, call or linkedin"
        wait = _int(raw, "wait_days", errors, 0, MAX_WAIT_DAYS, 0 if i == 0 else 2, label=f"{key}.wait_days")
        required = STEP_TEXT_REQUIRED.get(kind, ()) if isinstance(kind, str) else ()
        subject = clean_text(raw.get("subject"), f"{key}.subject", errors, MAX_SUBJECT, required="subject" in required,
                             replacement_ok=True)
        body = clean_text(raw.get("body"), f"{key}.body", errors, MAX_BODY, required="body" in required,
                          replacement_ok=True)
        for field, text in (("subject", subject), ("body", body)):
            found = merge.problems(text)
            if found and f"{key}.{field}" not in errors:
                errors[f"{key}.{field}"] = " ".join(found)
        if kind == "email" and "\n" in subject:
            errors[f"{key}.subject"] = "must be one line"
        steps.append({"type": kind, "wait_days": wait, "subject": subject, "body": body})
    return steps


def _settings_values(values: dict, errors: dict) -> dict:
    days = values.get("send_days", "12345")
    if isinstance(days, list):
        days = "".join(str(d) for d in days)
    if not isinstance(days, str) or not days or any(c not in "1234567" for c in days) or len(set(days)) != len(days):
        errors["send_days"] = "pick at least one weekday"
        days = "12345"
    start = _int(values, "send_start_hour", errors, 0, 23, 8)
    end = _int(values, "send_end_hour", errors, 1, 24, 18)
    if start >= end and "send_start_hour" not in errors and "send_end_hour" not in errors:
        errors["send_end_hour"] = "must be after the window's start"
    return {
        "send_days": "".join(sorted(days)), "send_start_hour": start, "send_end_hour": end,
        "daily_cap": _int(values, "daily_cap", errors, 1, 1000, DEFAULT_CAP),
        "spacing_minutes": _int(values, "spacing_minutes", errors, 0, 60, 5),
    }


def _check_builder(actor) -> None:
    if not actor.has_role("manager"):
        raise Forbidden("Only managers and admins build sequences.")


def save_sequence(actor, values: dict, sequence: Sequence | None = None) -> Sequence:
    """Create or update a sequence with its steps and send window (managers and admins)."""
    _check_builder(actor)
    errors: dict = {}
    name = clean_text(values.get("name"), "name", errors, MAX_NAME, required=True, replacement_ok=True)
    settings = _settings_values(values, errors)
    steps = clean_steps(values.get("steps"), errors)
    if errors:
        raise Invalid(errors, "The sequence was not saved: fix the fields named.")
    if sequence is None:
        sequence = Sequence(org_id=actor.org_id, created_by_id=actor.id)
        db.session.add(sequence)
    sequence.name = name
    for key, value in settings.items():
        setattr(sequence, key, value)
    existing = {s.position: s for s in sequence.steps}
    for position, data in enumerate(steps, start=1):
        step = existing.pop(position, None)
        if step is None:
            step = SequenceStep(org_id=actor.org_id, position=position)
            sequence.steps.append(step)
        step.type, step.wait_days = data["type"], data["wait_days"]
        step.subject, step.body = data["subject"], data["body"]
    for step in existing.values():
        if db.session.query(StepSend.id).filter_by(step_id=step.id).first():
            raise Invalid({"steps": f"step {step.position} has already run for some contacts; "
                                    "keep it (you can change its text) or make a new sequence"})
        sequence.steps.remove(step)
    db.session.commit()
    return sequence


def sequence_json(sequence: Sequence) -> dict:
    return {
        "id": sequence.id, "name": sequence.name,
        "send_days": sequence.send_days, "send_start_hour": sequence.send_start_hour,
        "send_end_hour": sequence.send_end_hour, "daily_cap": sequence.daily_cap,
        "spacing_minutes": sequence.spacing_minutes,
        "steps": [{"position": s.position, "type": s.type, "wait_days": s.wait_days,
                   "subject": s.subject, "body": s.body} for s in sequence.steps],
    }


@dataclass
class Preview:
    subject: str
    body: str
    problems: dict
    empty: list


def preview(subject: str, body: str, contact: Contact, owner, org_id: int) -> Preview:
    """Render a step for a real contact; broken merge fields are named, not rendered."""
    found = {}
    for name, text in (("subject", subject), ("body", body)):
        issues = merge.problems(text or "")
        if issues:
            found[name] = " ".join(issues)
    values = merge.values_for(contact, preferred_sender(contact, owner))
    footer = footer_text(org_id, "(unsubscribe link)")
    return Preview(merge.render(subject, values), merge.render(body, values) + "\n\n" + footer, found,
                   merge.empty_fields([subject, body], values))


def outreach_settings(org_id: int) -> OutreachSettings:
    row = OutreachSettings.query.filter_by(org_id=org_id).first()
    return row or OutreachSettings(org_id=org_id, postal_address="")


def save_postal_address(actor, address) -> OutreachSettings:
    """Set the postal address every outreach email carries (admins)."""
    if not actor.has_role("admin"):
        raise Forbidden("Only admins change the sending settings.")
    errors: dict = {}
    address = clean_text(address, "postal_address", errors, 300)
    if errors:
        raise Invalid(errors)
    row = OutreachSettings.query.filter_by(org_id=actor.org_id).first()
    if row is None:
        row = OutreachSettings(org_id=actor.org_id)
        db.session.add(row)
    row.postal_address = address
    db.session.commit()
    return row


def footer_lines(org_id: int) -> tuple:
    """The organisation's name and postal address, for every outreach email's footer."""
    from app.models import Organization

    org = db.session.get(Organization, org_id)
    address = outreach_settings(org_id).postal_address
    return ("--", org.name if org else "") + ((address,) if address else ())


def footer_text(org_id: int, unsubscribe_url: str, lines: tuple | None = None) -> str:
    lines = lines if lines is not None else footer_lines(org_id)
    return "\n".join((*lines, f"Not interested? Unsubscribe: {unsubscribe_url}"))


# ---------------------------------------------------------------- scheduling


def window_start(sequence: Sequence, at: datetime, zone) -> datetime:
    """Return the first moment at or after `at` (naive UTC) inside the sequence's send window."""
    local = at.replace(tzinfo=_utc()).astimezone(zone).replace(tzinfo=None)
    for _ in range(15):
        day_start = local.replace(hour=sequence.send_start_hour, minute=0, second=0, microsecond=0)
        day_end = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=sequence.send_end_hour)
        if str(local.isoweekday()) in sequence.send_days and local < day_end:
            return to_utc(max(local, day_start), zone)
        local = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return at


def in_window(sequence: Sequence, at: datetime, zone) -> bool:
    return window_start(sequence, at, zone) <= at


def _utc():
    from datetime import UTC

    return UTC


def schedule(sequence: Sequence, step: SequenceStep, after: datetime, rng=random, zone=None) -> datetime:
    """When `step` is due: `wait_days` after `after`, inside the window for email, plus random spacing."""
    due = after + timedelta(days=step.wait_days)
    if step.type in ("email", "sms"):
        due = window_start(sequence, due, zone or org_zone(sequence.org_id))
        if sequence.spacing_minutes:
            due += timedelta(seconds=rng.randint(0, sequence.spacing_minutes * 60))
    return due


# ---------------------------------------------------------------- enrolling


def suppressed(org_id: int, email: str) -> Suppression | None:
    return Suppression.query.filter_by(org_id=org_id, email=(email or "").strip().lower()).first()


def why_not_enrollable(contact: Contact) -> str | None:
    """Say why a contact may not be enrolled (unsubscribed, bounced, suppressed), or None."""
    if contact.unsubscribed:
        return "unsubscribed"
    row = suppressed(contact.org_id, contact.email)
    if row is not None:
        return "bounced" if row.reason == "bounced" else "suppressed"
    return None


def open_enrollment(sequence: Sequence, contact: Contact) -> Enrollment | None:
    return Enrollment.query.filter_by(open_key=f"{sequence.id}:{contact.id}").first()


def company_overlap(sequence: Sequence, contact: Contact) -> list:
    """Active enrollments (any sequence) of other people at the contact's company."""
    if contact.company_id is None:
        return []
    return (Enrollment.query.join(Contact, Contact.id == Enrollment.contact_id)
            .filter(Enrollment.org_id == contact.org_id, Enrollment.status.in_(OPEN_STATUSES),
                    Contact.company_id == contact.company_id, Contact.id != contact.id)
            .limit(5).all())


def preferred_sender(contact: Contact, fallback):
    """Who signs a contact's outreach: their owner (the rep the lead was routed to) if active, else `fallback`."""
    owner = contact.owner if contact.owner_id else None
    if owner is not None and owner.active and owner.org_id == contact.org_id:
        return owner
    return fallback


def enroll(sequence: Sequence, contact: Contact, actor, *, deal=None, confirm_company: bool = True,
           now: datetime | None = None, commit: bool = True) -> Enrollment:
    """Enroll `contact`, sent by their owner (else the actor). Raises Invalid, AlreadyEnrolled or CompanyWarning."""
    if sequence.org_id != actor.org_id or contact.org_id != actor.org_id:
        raise Invalid({"contact": "is not in your organisation"})
    if sequence.archived:
        raise Invalid({"sequence": "is archived"})
    if not sequence.steps:
        raise Invalid({"sequence": "has no steps yet"})
    reason = why_not_enrollable(contact)
    if reason:
        raise Invalid({"contact_email": f"is {reason}: this address gets no more outreach email"},
                      f"{contact.email} is {reason}.")
    existing = open_enrollment(sequence, contact)
    if existing is not None:
        raise AlreadyEnrolled(existing)
    if not confirm_company:
        others = company_overlap(sequence, contact)
        if others:
            raise CompanyWarning(others)
    now = now or utcnow()
    first = sequence.steps[0]
    enrollment = Enrollment(
        org_id=actor.org_id, sequence_id=sequence.id, contact_id=contact.id,
        owner_id=preferred_sender(contact, actor).id, enrolled_by_id=actor.id,
        deal_id=deal.id if deal is not None else None, status="active", position=first.position,
        open_key=f"{sequence.id}:{contact.id}", enrolled_at=now, next_due_at=schedule(sequence, first, now),
    )
    db.session.add(enrollment)
    if commit:
        try:
            db.session.commit()
        except IntegrityError:  # enrolled a moment ago by someone else (the open_key is unique)
            db.session.rollback()
            raise AlreadyEnrolled(open_enrollment(sequence, contact)) from None
        _wake()
    return enrollment


def _wake() -> None:
    """Ask the worker to look at due steps now (a wake-up only: the sweep finds the rows anyway)."""
    from app.queue import enqueue_after_commit

    try:
        enqueue_after_commit("app.jobs.run_sequences")
        db.session.commit()
    except Exception:  # noqa: BLE001 - a lost wake-up only delays the send to the next tick
        db.session.rollback()


def end_enrollment(enrollment: Enrollment, status: str, now: datetime | None = None) -> bool:
    """End an open enrollment (no commit); return False when it had already ended.

    A reply to a finished sequence still counts: it turns `finished` into `replied`.
    """
    if enrollment.status not in OPEN_STATUSES and not (status == "replied" and enrollment.status == "finished"):
        return False
    now = now or utcnow()
    enrollment.status = status
    enrollment.next_due_at = None
    enrollment.open_key = None
    enrollment.ended_at = now
    # A step waiting to be tried again never will be: its row says so (nothing went out).
    db.session.execute(update(StepSend).where(StepSend.enrollment_id == enrollment.id,
                                              StepSend.status == "retrying")
                       .values(status="skipped", next_attempt_at=None, error=f"Not sent: the enrollment ended ({status}).")
                       .execution_options(synchronize_session=False))
    if status == "replied" and enrollment.replied_at is None:
        enrollment.replied_at = now
    if status in ("replied", "bounced"):
        emit(enrollment.org_id, f"enrollment.{status}", lambda: {"enrollment": enrollment_json(enrollment)})
    return True


def stop_enrollment(enrollment: Enrollment, actor) -> Enrollment:
    """Stop an enrollment by hand (its owner or a manager)."""
    check_can_work(enrollment, actor)
    end_enrollment(enrollment, "stopped")
    db.session.commit()
    return enrollment


def resume_enrollment(enrollment: Enrollment, actor, *, skip_unknown: bool = True) -> Enrollment:
    """Resume a paused enrollment: an unknown send counts as done (never resent), a failed one is tried again.

    A deactivated sender hands over to the contact's owner, else to the person resuming.
    """
    check_can_work(enrollment, actor)
    if enrollment.status != "paused":
        raise Invalid({"enrollment": "is not paused"})
    now = utcnow()
    sequence = enrollment.sequence
    current = StepSend.query.filter_by(enrollment_id=enrollment.id, position=enrollment.position).first()
    enrollment.status = "active"
    enrollment.paused_until = None
    enrollment.pause_reason = ""
    if not enrollment.owner.active:
        enrollment.owner = preferred_sender(enrollment.contact, actor)
    if current is not None and current.status == "unknown":
        advance(enrollment, sequence, now)
    elif current is not None and current.status == "failed":
        current.status, current.attempts, current.next_attempt_at = "retrying", 0, now
        enrollment.next_due_at = now
    else:
        step = step_at(sequence, enrollment.position)
        enrollment.next_due_at = schedule(sequence, step, now) if step else now
    db.session.commit()
    _wake()
    return enrollment


def check_can_work(enrollment: Enrollment, actor) -> None:
    if enrollment.org_id != actor.org_id:
        raise Forbidden("That enrollment is not in your organisation.")
    if actor.id not in (enrollment.owner_id, enrollment.enrolled_by_id) and not actor.has_role("manager"):
        raise Forbidden("Only the sender, the enrolling rep or a manager can change this enrollment.")


def step_at(sequence: Sequence, position: int) -> SequenceStep | None:
    return next((s for s in sequence.steps if s.position == position), None)


def advance(enrollment: Enrollment, sequence: Sequence, done_at: datetime, zone=None) -> None:
    """Point the enrollment at its next step (or finish it); no commit."""
    nxt = next((s for s in sequence.steps if s.position > enrollment.position), None)
    if nxt is None:
        end_enrollment(enrollment, "finished", done_at)
        return
    enrollment.position = nxt.position
    enrollment.next_due_at = schedule(sequence, nxt, done_at, zone=zone)


def enrollment_json(enrollment: Enrollment) -> dict:
    from app.models import iso

    sends = {s.step_id: s for s in enrollment.sends}
    steps = []
    for step in enrollment.sequence.steps:
        send = sends.get(step.id)
        if send is not None:
            status = send.status
        elif enrollment.status in OPEN_STATUSES or step.position < enrollment.position:
            status = "pending"
        else:
            status = "skipped"
        due = enrollment.next_due_at if send is None and step.position == enrollment.position else None
        if send is not None and send.status == "retrying":
            due = send.next_attempt_at
        steps.append({"position": step.position, "type": step.type, "status": status, "due_at": iso(due),
                      "sent_at": iso(send.sent_at) if send else None,
                      "message_id": send.message_id if send else None})
    return {"id": enrollment.id, "sequence_id": enrollment.sequence_id, "contact_id": enrollment.contact_id,
            "status": enrollment.status, "owner_email": enrollment.owner.email if enrollment.owner else None,
            "enrolled_at": iso(enrollment.enrolled_at), "replied_at": iso(enrollment.replied_at),
            "paused_until": iso(enrollment.paused_until), "steps": steps}


# ---------------------------------------------------------------- bulk enrolment


def start_bulk_enroll(sequence: Sequence, actor, contact_ids: list, query: str = "") -> BulkEnrollJob:
    """Queue enrolling many contacts; the worker runs it and the page shows progress."""
    if sequence.org_id != actor.org_id:
        raise Invalid({"sequence": "is not in your organisation"})
    ids = sorted({int(i) for i in contact_ids})[:BULK_LIMIT]
    if not ids:
        raise Invalid({"contacts": "no contacts match this filter"})
    job = BulkEnrollJob(org_id=actor.org_id, sequence_id=sequence.id, user_id=actor.id, contact_ids=ids,
                        search=(query or "")[:200], total=len(ids))
    db.session.add(job)
    from app.queue import enqueue_after_commit

    db.session.flush()
    enqueue_after_commit("app.jobs.run_bulk_enroll", job.id)
    db.session.commit()
    return job


def run_bulk_enroll(job_id: int, batch: int = 100) -> dict:
    """Enroll a bulk job's contacts in batches, committing progress; safe to run again."""
    from app.models import User

    job = db.session.get(BulkEnrollJob, job_id)
    if job is None or job.status == "done":
        return {"enrolled": 0}
    job.status = "running"
    job.touched_at = utcnow()
    db.session.commit()
    actor = db.session.get(User, job.user_id)
    sequence = db.session.get(Sequence, job.sequence_id)
    ids = job.contact_ids[job.processed:]
    while ids:
        chunk, ids = ids[:batch], ids[batch:]
        contacts = {c.id: c for c in Contact.query.filter(Contact.org_id == job.org_id, Contact.id.in_(chunk))}
        skipped = list(job.skipped)
        for contact_id in chunk:
            contact = contacts.get(contact_id)
            if contact is None:
                continue
            try:
                with db.session.begin_nested():
                    enroll(sequence, contact, actor, commit=False)
                job.enrolled += 1
            except AlreadyEnrolled:
                skipped.append({"email": contact.email, "reason": "already enrolled"})
            except Invalid as exc:
                skipped.append({"email": contact.email, "reason": exc.message.split(" is ", 1)[-1].rstrip(".")})
        job.skipped = skipped
        job.processed += len(chunk)
        job.touched_at = utcnow()
        db.session.commit()
    job.status = "done"
    job.finished_at = utcnow()
    db.session.commit()
    _wake()
    return {"enrolled": job.enrolled, "skipped": len(job.skipped)}


def resume_bulk_jobs(now: datetime, stale_after: timedelta = timedelta(minutes=2)) -> int:
    """Finish bulk enrolments whose wake-up was lost or whose worker died (no progress for a while)."""
    ids = [j for (j,) in db.session.query(BulkEnrollJob.id).filter(
        BulkEnrollJob.status.in_(("queued", "running")), BulkEnrollJob.touched_at < now - stale_after)]
    db.session.rollback()
    for job_id in ids:
        run_bulk_enroll(job_id)
    return len(ids)


# ---------------------------------------------------------------- stats


def sequence_stats(sequence: Sequence) -> dict:
    """Per sequence and per step: enrolled, sent, replied, reply rate, bounced, unsubscribed, unknown."""
    statuses = dict(db.session.query(Enrollment.status, func.count(Enrollment.id))
                    .filter(Enrollment.sequence_id == sequence.id).group_by(Enrollment.status).all())
    enrolled = sum(statuses.values())
    emailed = db.session.query(func.count(Enrollment.id)).filter(
        Enrollment.sequence_id == sequence.id, Enrollment.first_sent_at.is_not(None)).scalar() or 0
    replied = db.session.query(func.count(Enrollment.id)).filter(
        Enrollment.sequence_id == sequence.id, Enrollment.first_sent_at.is_not(None),
        Enrollment.replied_at.is_not(None)).scalar() or 0
    per_step = {row[0]: row[1:] for row in db.session.query(
        StepSend.step_id,
        func.sum(db.case((StepSend.status == "sent", 1), else_=0)),
        func.sum(db.case((StepSend.status == "unknown", 1), else_=0)),
        func.sum(db.case((StepSend.status == "task", 1), else_=0)),
    ).join(Enrollment, Enrollment.id == StepSend.enrollment_id)
        .filter(Enrollment.sequence_id == sequence.id).group_by(StepSend.step_id).all()}
    # A reply is credited to the last email sent before it.
    last_sent = (db.session.query(func.max(StepSend.position).label("position"))
                 .join(Enrollment, Enrollment.id == StepSend.enrollment_id)
                 .filter(Enrollment.sequence_id == sequence.id, Enrollment.replied_at.is_not(None),
                         StepSend.status == "sent", StepSend.sent_at <= Enrollment.replied_at)
                 .group_by(StepSend.enrollment_id).subquery())
    replied_after = dict(db.session.query(last_sent.c.position, func.count()).group_by(last_sent.c.position).all())
    steps = []
    for step in sequence.steps:
        sent, unknown, tasks = (int(x or 0) for x in per_step.get(step.id, (0, 0, 0)))
        last_done = replied_after.get(step.position, 0)
        steps.append({"position": step.position, "type": step.type, "subject": step.subject, "sent": sent,
                      "unknown": unknown, "tasks": tasks, "replied": last_done,
                      "reply_rate": round(last_done / sent, 4) if sent else None})
    rate = round(replied / emailed, 4) if emailed else None
    return {
        "enrolled": enrolled, "active": statuses.get("active", 0) + statuses.get("paused", 0),
        "sent": sum(s["sent"] for s in steps), "emailed": emailed, "replied": replied, "reply_rate": rate,
        "bounced": statuses.get("bounced", 0), "unsubscribed": statuses.get("unsubscribed", 0),
        "unknown": sum(s["unknown"] for s in steps), "band": band(rate), "steps": steps,
    }


def band(rate) -> str | None:
    """Where a reply rate stands against the article's 5–6 % average and 10 % top performers."""
    if rate is None:
        return None
    if rate >= BANDS["top"]:
        return "top"
    if rate >= BANDS["average"][0]:
        return "average"
    return "below"


def unknown_sends(org_id: int, owner_id: int | None = None, limit: int = 50) -> list:
    """Sends cut off by a crash: the owner decides, nothing resends them."""
    return _paused_on(org_id, "unknown", owner_id, limit)


def failed_sends(org_id: int, owner_id: int | None = None, limit: int = 50) -> list:
    """Emails still refused after their retries: the owner tries again or stops."""
    return _paused_on(org_id, "failed", owner_id, limit)


def _paused_on(org_id: int, status: str, owner_id: int | None, limit: int) -> list:
    query = StepSend.query.join(Enrollment, Enrollment.id == StepSend.enrollment_id).filter(
        StepSend.org_id == org_id, StepSend.status == status, Enrollment.status == "paused")
    if owner_id is not None:
        query = query.filter(Enrollment.owner_id == owner_id)
    return query.order_by(StepSend.claimed_at.desc()).limit(limit).all()


def notify(org_id: int, user_id: int, kind: str, text: str, url: str, key: str) -> None:
    """Add a notification once per key (no commit)."""
    if Notification.query.filter_by(unique_key=key).first() is None:
        db.session.add(Notification(org_id=org_id, user_id=user_id, kind=kind, text=text[:300], url=url,
                                    unique_key=key))


def suppress(org_id: int, email: str, reason: str) -> int:
    """Suppress an address and end its open enrollments (no commit); return how many ended."""
    email = (email or "").strip().lower()
    if not email:
        return 0
    if suppressed(org_id, email) is None:
        db.session.add(Suppression(org_id=org_id, email=email, reason=reason))
    status = "bounced" if reason == "bounced" else "unsubscribed"
    found = db.session.query(Contact.id, Contact.unsubscribed).filter(
        Contact.org_id == org_id, Contact.email == email).all()
    contact_ids = [c for c, _ in found]
    if reason == "unsubscribed" and contact_ids:
        db.session.execute(update(Contact).where(Contact.id.in_(contact_ids)).values(unsubscribed=True)
                           .execution_options(synchronize_session=False))
        for contact_id in [c for c, already in found if not already]:
            emit(org_id, "contact.unsubscribed", lambda contact_id=contact_id: {
                "contact": {**contact_json(db.session.get(Contact, contact_id)), "unsubscribed": True}})
    ended = 0
    for enrollment in Enrollment.query.filter(Enrollment.org_id == org_id, Enrollment.contact_id.in_(contact_ids),
                                              Enrollment.status.in_(OPEN_STATUSES)).with_for_update():
        ended += end_enrollment(enrollment, status)
    return ended


def unsubscribe(org_id: int, email: str) -> int:
    """The recipient's own unsubscribe (link, one-click POST or mailto): suppress and commit; return ended."""
    ended = suppress(org_id, email, "unsubscribed")
    db.session.commit()
    return ended


def archive_sequence(sequence: Sequence) -> None:
    """Archive a sequence and commit: no new enrollments; those already running carry on."""
    sequence.archived = True
    db.session.commit()


def contact_enrollments(contact: Contact) -> list:
    return Enrollment.query.filter_by(org_id=contact.org_id, contact_id=contact.id) \
        .order_by(Enrollment.enrolled_at.desc()).limit(20).all()


def active_sequences(org_id: int) -> list:
    return Sequence.query.filter_by(org_id=org_id, archived=False).order_by(Sequence.name, Sequence.id).all()


# ---------------------------------------------------------------- when the installation, not a recipient, fails

# A pause that can pass (no connection, a relay that stops answering, a 4xx to the sender) is
# tried again by the sweep after these waits, and the first message that gets through clears
# it: a relay restart must not need a person. One that will not pass by itself (sender refused,
# wrong password, TLS) waits for "Resume sending": retrying it only piles refusals on the
# relay (and a wrong password can lock the account).
PAUSE_RETRY = (timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=1))


def hold_sending(org_id: int, user_id: int | None, kind: str, reason: str, permanent: bool, now: datetime,
                 affected_id: int | None = None) -> SenderPause:
    """Pause a sender's (or, user_id None, every sender's) email and tell them and the admins once (no commit)."""
    key = f"{org_id}:{user_id or '*'}"
    pause = SenderPause.query.filter_by(open_key=key).first()
    if pause is None:
        pause = SenderPause(org_id=org_id, user_id=user_id, kind=kind, reason=reason[:300], since=now, failures=0,
                            open_key=key)
        try:
            with db.session.begin_nested():
                db.session.add(pause)
        except IntegrityError:  # another worker opened it a moment ago
            pause = SenderPause.query.filter_by(open_key=key).one()
    pause.failures += 1
    pause.kind, pause.reason = kind, reason[:300]
    pause.retry_at = None if permanent else now + PAUSE_RETRY[min(pause.failures, len(PAUSE_RETRY)) - 1]
    whose = "from " + db.session.get(User, user_id).email if user_id else "for everyone in your organisation"
    later = ("It stays paused until someone presses Resume sending." if permanent else
             "Stagegate tries again by itself in a few minutes.")
    text = f"Sequence email {whose} is paused: {reason} Nobody was marked as bounced. {later}"
    for uid in _admin_ids(org_id) | {u for u in (user_id, affected_id) if u}:
        notify(org_id, uid, "sequence", text, "/sequences/", f"pause:{pause.id}:{uid}")
    return pause


def _admin_ids(org_id: int, roles=("admin",)) -> set:
    return {uid for (uid,) in db.session.query(User.id).filter(User.org_id == org_id, User.role.in_(roles),
                                                               User.active.is_(True))}


def open_pauses(org_id: int, viewer) -> list:
    """Open sending pauses the viewer should see: everyone's, and their own (managers and admins: all)."""
    query = SenderPause.query.filter(SenderPause.org_id == org_id, SenderPause.cleared_at.is_(None))
    if not viewer.has_role("manager"):
        query = query.filter(db.or_(SenderPause.user_id.is_(None), SenderPause.user_id == viewer.id))
    return query.order_by(SenderPause.since).all()


def can_resume_sending(pause: SenderPause, actor) -> bool:
    return actor.org_id == pause.org_id and (actor.has_role("admin") or pause.user_id == actor.id)


def resume_sending(pause: SenderPause, actor) -> SenderPause:
    """Clear a sending pause (the paused sender or an admin); the next sweep tries again."""
    if not can_resume_sending(pause, actor):
        raise Forbidden("Only an admin or the paused sender can resume sending.")
    if pause.cleared_at is None:
        pause.cleared_at, pause.cleared_by_id, pause.open_key = utcnow(), actor.id, None
        db.session.commit()
        _wake()
    return pause


def mark_sender_inactive(enrollment: Enrollment, sender) -> None:
    """Pause an enrollment whose sender was deactivated; tell the managers and admins once (no commit)."""
    enrollment.status, enrollment.pause_reason, enrollment.next_due_at = "paused", "sender deactivated", None
    text = (f"{sender.name} ({sender.email}) is deactivated, so the sequence emails they send are paused. "
            "Resume each one: the contact's owner, or you, becomes the sender.")
    for uid in _admin_ids(enrollment.org_id, ("admin", "manager")):
        notify(enrollment.org_id, uid, "sequence", text, "/sequences/",
               f"sender-off:{sender.id}:{sender.session_epoch}:{uid}")
