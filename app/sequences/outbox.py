"""The outbox page: an organisation's latest emails (sequence steps, meeting invitations, deal-room links),
their state and the relay's answer."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Enrollment, OutboundEmail, Sequence, StepSend
from app.models.sequences import SEND_STATUSES

PAGE = 50
MAX_PAGES = 20  # the latest 1,000 emails; older ones are counted on each sequence's page

# How each StepSend status reads on the page. A status the send engine adds needs one line here;
# the page offers a filter for every status the model allows that has a name below.
STATE_NAMES = {
    "sending": "queued",
    "retrying": "retrying",
    "sent": "sent",
    "bounced": "bounced",
    "failed": "failed",
    "unknown": "unknown",
    "skipped": "not sent",
}


# One-off emails (app/sequences/one_off.py) read the same way; "queued" waits for the worker.
ONE_OFF_STATES = {**STATE_NAMES, "queued": "queued"}
ONE_OFF_KINDS = {"booking": "Meeting invitation", "room": "Deal room link"}


@dataclass(frozen=True)
class OutboxRow:
    to_email: str
    what: str  # "Welcome sequence, step 2", "Meeting invitation: …"
    url: str  # where that comes from: the sequence, the deal
    state: str
    at: object  # naive UTC: when it was sent, else when it was queued
    answer: str  # what the relay said, or why it was not sent


def states() -> list[str]:
    """The state names the page filters by, in the order of the model's statuses."""
    return [STATE_NAMES[s] for s in SEND_STATUSES if s in STATE_NAMES]


def outbox_page(actor, state: str = "", page: int = 1) -> tuple[list[OutboxRow], bool]:
    """One page of the latest emails: the organisation's for managers and admins, a rep's own for a rep.

    Sequence steps and one-off emails are two tables: each gives its newest rows up to the end of the
    page, and the two are merged by time (at most 20 pages of 50: a thousand rows each, at worst).
    """
    page = min(max(page, 1), MAX_PAGES)
    wanted = page * PAGE + 1
    rows = sorted(_step_rows(actor, state, wanted) + _one_off_rows(actor, state, wanted),
                  key=lambda r: r[0] or datetime.min, reverse=True)
    items = [row for _at, row in rows[(page - 1) * PAGE:page * PAGE]]
    return items, len(rows) > page * PAGE and page < MAX_PAGES


def _step_rows(actor, state: str, limit: int) -> list:
    query = (select(StepSend, Sequence.name, Sequence.id).join(Enrollment, StepSend.enrollment_id == Enrollment.id)
             .join(Sequence, Enrollment.sequence_id == Sequence.id)
             .where(StepSend.org_id == actor.org_id, StepSend.status.in_(list(STATE_NAMES))))
    if not actor.has_role("manager"):
        query = query.where(StepSend.sender_id == actor.id)
    if state:
        query = query.where(StepSend.status.in_([s for s, name in STATE_NAMES.items() if name == state]))
    rows = db.session.execute(query.order_by(StepSend.claimed_at.desc(), StepSend.id.desc()).limit(limit)).all()
    return [(send.claimed_at, OutboxRow(send.to_phone or send.to_email, f"{name}, step {send.position}", f"/sequences/{sequence_id}",
                                        STATE_NAMES[send.status], send.sent_at or send.claimed_at,
                                        send.relay_reply or send.error))
            for send, name, sequence_id in rows]


def _one_off_rows(actor, state: str, limit: int) -> list:
    at = func.coalesce(OutboundEmail.claimed_at, OutboundEmail.created_at)
    query = select(OutboundEmail, at).where(OutboundEmail.org_id == actor.org_id)
    if not actor.has_role("manager"):
        query = query.where(OutboundEmail.sender_id == actor.id)
    if state:
        query = query.where(OutboundEmail.status.in_([s for s, name in ONE_OFF_STATES.items() if name == state]))
    rows = db.session.execute(query.order_by(at.desc(), OutboundEmail.id.desc()).limit(limit)).all()
    return [(when, OutboxRow(email.to_email, f"{ONE_OFF_KINDS.get(email.kind, 'Email')}: {email.subject}",
                             email.link, ONE_OFF_STATES.get(email.status, email.status), email.sent_at or when,
                             email.relay_reply or email.error))
            for email, when in rows]
