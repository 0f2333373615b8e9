"""The lead sweeps: lapsed points fall away, unanswered hot leads escalate once, rescoring resumes."""

from sqlalchemy import exists

from app.extensions import db
from app.leads import scoring
from app.leads.settings import resume_stalled_rescores
from app.models import Activity, Contact, Notification, Task, User, utcnow
from app.models.leads import LeadCrossing

BATCH = 500


def _skip_locked(query):
    if db.session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=Contact)
    return query


def sweep_lapsed(now=None) -> int:
    """Rescore contacts whose oldest counted event has lapsed (no stale scores)."""
    now = now or utcnow()
    done = 0
    while True:
        contacts = _skip_locked(Contact.query.filter(Contact.score_expires_at.is_not(None),
                                                     Contact.score_expires_at <= now)
                                .order_by(Contact.score_expires_at).limit(BATCH)).all()
        if not contacts:
            break
        rules_by_org: dict = {}
        for contact in contacts:
            rules = rules_by_org.get(contact.org_id) or rules_by_org.setdefault(
                contact.org_id, scoring.load_rules(contact.org_id))
            result = scoring.rescore(contact, rules=rules, now=now, commit=False)
            if result.expires_at is not None and result.expires_at <= now:
                contact.score_expires_at = None  # cannot happen with lapsed events filtered; never loop
        db.session.commit()
        done += len(contacts)
        if len(contacts) < BATCH:
            break
    return done


def sweep_escalations(now=None) -> int:
    """Tell the managers, once, about each hot lead still untouched when its window ended."""
    now = now or utcnow()
    touched = exists().where(Activity.contact_id == LeadCrossing.contact_id,
                             Activity.kind.in_(scoring.TOUCH_KINDS), Activity.at >= LeadCrossing.at)
    task_done = exists().where(Task.id == LeadCrossing.task_id, Task.done_at.is_not(None))
    query = LeadCrossing.query.filter(LeadCrossing.kind == "hot", LeadCrossing.task_id.is_not(None),
                                      LeadCrossing.escalated_at.is_(None), LeadCrossing.due_at <= now,
                                      ~touched, ~task_done)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=LeadCrossing)
    count = 0
    for crossing in query.limit(BATCH).all():
        crossing.escalated_at = now
        contact = crossing.contact
        managers = User.query.filter(User.org_id == crossing.org_id, User.active.is_(True),
                                     User.role.in_(("manager", "admin"))).all()
        owner = crossing.owner.name if crossing.owner else "nobody"
        for manager in managers:
            db.session.add(Notification(
                org_id=crossing.org_id, user_id=manager.id, kind="lead_late",
                text=f"Hot lead {contact.name or contact.email} is still waiting ({owner} has not answered)"[:300],
                url=f"/contacts/{contact.id}", unique_key=f"escalate:{crossing.unique_key}:{manager.id}",
            ))
        count += 1
    db.session.commit()
    return count


def run_lead_sweeps(now=None) -> dict:
    from app.leads.intake import process_pending

    return {"submissions": process_pending(now), "lapsed": sweep_lapsed(now), "escalated": sweep_escalations(now),
            "rescores_resumed": resume_stalled_rescores(now)}
