"""Form submissions held for review: posts that came without the proofs wait here for a person.

Held rows are never processed (the worker reads `received` rows only). Accepting one makes
it `received` and wakes the worker, which processes it exactly like any other submission,
its lead arriving at the moment of acceptance (nobody could answer it before). Discarding
deletes it.
"""

from sqlalchemy import delete, func, update

from app.extensions import db
from app.leads.intake import wake_intake
from app.leads.lead_forms import CONTACT_TARGETS
from app.models import utcnow
from app.models.leads import LeadSubmission

PAGE = 100
HELD = LeadSubmission.status == "held"


def held_counts(org_id: int) -> dict:
    """{form id: how many of its submissions are held} for the organisation."""
    return dict(db.session.query(LeadSubmission.form_id, func.count())
                .filter(LeadSubmission.org_id == org_id, HELD).group_by(LeadSubmission.form_id))


def held_total(org_id: int, form_id: int | None = None) -> int:
    query = db.session.query(func.count(LeadSubmission.id)).filter(LeadSubmission.org_id == org_id, HELD)
    if form_id is not None:
        query = query.filter(LeadSubmission.form_id == form_id)
    return query.scalar() or 0


def held_list(org_id: int, form_id: int | None = None, limit: int = PAGE) -> list:
    """The newest held submissions first."""
    query = LeadSubmission.query.filter(LeadSubmission.org_id == org_id, HELD)
    if form_id is not None:
        query = query.filter(LeadSubmission.form_id == form_id)
    return query.order_by(LeadSubmission.id.desc()).limit(limit).all()


def answers(submission: LeadSubmission) -> list:
    """[(label, value)] of what the person typed, for the review list."""
    payload = submission.payload or {}
    lead = payload.get("lead") or {}
    rows = [(CONTACT_TARGETS[key][0], value) for key, value in lead.items()
            if key in CONTACT_TARGETS and key != "email" and value]
    rows += [(key.replace("_", " ").capitalize(), value) for key, value in (payload.get("facts") or {}).items()]
    if payload.get("message"):
        rows.append((CONTACT_TARGETS["message"][0], payload["message"]))
    return rows


def accept(actor, submission_id: int) -> bool:
    """Let a held submission through (it becomes a lead now); False when it was not held any more."""
    done = db.session.execute(
        update(LeadSubmission).where(LeadSubmission.id == submission_id, LeadSubmission.org_id == actor.org_id, HELD)
        .values(status="received", reviewed_at=utcnow(), reviewed_by_id=actor.id)).rowcount
    db.session.commit()
    if done:
        wake_intake()
    return bool(done)


def discard(actor, submission_id: int) -> bool:
    """Delete a held submission; False when it was not held any more (accepted or gone)."""
    done = db.session.execute(delete(LeadSubmission).where(
        LeadSubmission.id == submission_id, LeadSubmission.org_id == actor.org_id, HELD)).rowcount
    db.session.commit()
    return bool(done)


def discard_all(actor, up_to_id: int, form_id: int | None = None) -> int:
    """Delete the held submissions the person saw (ids up to `up_to_id`); ones arriving since stay."""
    query = delete(LeadSubmission).where(LeadSubmission.org_id == actor.org_id, HELD, LeadSubmission.id <= up_to_id)
    if form_id is not None:
        query = query.where(LeadSubmission.form_id == form_id)
    done = db.session.execute(query).rowcount
    db.session.commit()
    return done
