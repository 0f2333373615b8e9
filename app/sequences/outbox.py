"""The outbox page: an organisation's latest sequence emails, their state and the relay's answer."""

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Enrollment, Sequence, StepSend
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


@dataclass(frozen=True)
class OutboxRow:
    to_email: str
    sequence_name: str
    sequence_id: int
    position: int
    state: str
    at: object  # naive UTC: when it was sent, else when it was queued
    answer: str  # what the relay said, or why it was not sent


def states() -> list[str]:
    """The state names the page filters by, in the order of the model's statuses."""
    return [STATE_NAMES[s] for s in SEND_STATUSES if s in STATE_NAMES]


def outbox_page(actor, state: str = "", page: int = 1) -> tuple[list[OutboxRow], bool]:
    """One page of the latest emails: the organisation's for managers and admins, a rep's own for a rep."""
    query = (select(StepSend, Sequence.name, Sequence.id).join(Enrollment, StepSend.enrollment_id == Enrollment.id)
             .join(Sequence, Enrollment.sequence_id == Sequence.id)
             .where(StepSend.org_id == actor.org_id, StepSend.status.in_(list(STATE_NAMES))))
    if not actor.has_role("manager"):
        query = query.where(StepSend.sender_id == actor.id)
    if state:
        query = query.where(StepSend.status.in_([s for s, name in STATE_NAMES.items() if name == state]))
    page = min(max(page, 1), MAX_PAGES)
    rows = db.session.execute(query.order_by(StepSend.claimed_at.desc(), StepSend.id.desc())
                              .offset((page - 1) * PAGE).limit(PAGE + 1)).all()
    items = [OutboxRow(send.to_email, name, sequence_id, send.position, STATE_NAMES[send.status],
                       send.sent_at or send.claimed_at, send.relay_reply or send.error)
             for send, name, sequence_id in rows[:PAGE]]
    return items, len(rows) > PAGE and page < MAX_PAGES
