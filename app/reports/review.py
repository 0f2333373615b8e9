"""The weekly pipeline review and the deal audit: what a manager reads on Monday."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.deals.service import exit_missing
from app.extensions import db
from app.models import Activity, Deal, DealFieldChange, StageTransition, User, utcnow
from app.reports.service import local_today

WEEK = timedelta(days=7)
AUDIT_SIZE = 20


@dataclass
class OwnerReview:
    owner: User
    missing: list = field(default_factory=list)  # (deal, [fields]) open deals lacking their stage's exit facts
    stale: list = field(default_factory=list)  # (deal, days in stage)
    slipped: list = field(default_factory=list)  # (deal, what slipped)
    changes: dict = field(default_factory=lambda: {k: [] for k in CHANGE_KINDS})

    @property
    def change_count(self) -> int:
        return sum(len(v) for v in self.changes.values())


CHANGE_KINDS = {"new": "New", "advanced": "Advanced", "moved_back": "Moved back", "won": "Won", "lost": "Lost",
                "amount": "Amount changed"}


def _change_kind(transition, stage_kinds) -> str | None:
    to_kind = stage_kinds.get(transition.to_stage_id)
    if to_kind == "won":
        return "won"
    if to_kind == "lost":
        return "lost"
    if transition.kind in ("forward", "skip") or (transition.kind == "override" and transition.from_stage_id
                                                   and to_kind == "open"):
        return "advanced"
    if transition.kind == "backward":
        return "moved_back"
    return None


def weekly_review(pipeline, viewer, now: datetime | None = None) -> dict:
    """Per owner: deals missing criteria, stale deals, slipped next steps, and the week's changes."""
    now = now or utcnow()
    since = now - WEEK
    zone = viewer.org.zone
    today = local_today(zone, now)
    stages = {s.id: s for s in pipeline.stages}
    stage_kinds = {s.id: s.kind for s in pipeline.stages}
    query = Deal.query.filter(Deal.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id)
    if not viewer.has_role("manager"):
        query = query.filter(Deal.owner_id == viewer.id)
    opens = query.filter(Deal.status == "open").options(db.joinedload(Deal.owner)).order_by(Deal.id).all()
    owners: dict[int, OwnerReview] = {}

    def review_of(user) -> OwnerReview:
        return owners.setdefault(user.id, OwnerReview(user))

    for deal in opens:
        review = review_of(deal.owner)
        missing = exit_missing(deal)
        if missing:
            review.missing.append((deal, [f.label for f in missing]))
        days = (now - deal.stage_entered_at).days
        if days > stages[deal.stage_id].max_days:
            review.stale.append((deal, days))
        if deal.next_step_due is not None and deal.next_step_due < today:
            review.slipped.append((deal, f"next step was due {deal.next_step_due.isoformat()}"))

    recent = query.filter(Deal.created_at >= since).options(db.joinedload(Deal.owner)).all()
    for deal in recent:
        review_of(deal.owner).changes["new"].append((deal, deal.created_at, ""))
    moves = (db.session.query(StageTransition, Deal).join(Deal, Deal.id == StageTransition.deal_id)
             .filter(StageTransition.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id,
                     StageTransition.at >= since, StageTransition.at < now)
             .options(db.joinedload(Deal.owner)).order_by(StageTransition.at, StageTransition.id))
    edits = (db.session.query(DealFieldChange, Deal).join(Deal, Deal.id == DealFieldChange.deal_id)
             .filter(DealFieldChange.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id,
                     DealFieldChange.at >= since, DealFieldChange.at < now)
             .options(db.joinedload(Deal.owner)).order_by(DealFieldChange.at, DealFieldChange.id))
    if not viewer.has_role("manager"):
        moves = moves.filter(Deal.owner_id == viewer.id)
        edits = edits.filter(Deal.owner_id == viewer.id)
    for transition, deal in moves:
        kind = _change_kind(transition, stage_kinds)
        if kind:
            note = f"{stages[transition.from_stage_id].name} → " if transition.from_stage_id in stages else ""
            review_of(deal.owner).changes[kind].append((deal, transition.at, note + stages[transition.to_stage_id].name))
    for change, deal in edits:
        if change.field == "amount":
            review_of(deal.owner).changes["amount"].append(
                (deal, change.at, f"{change.old_value or '—'} → {change.new_value or '—'}"))
        elif change.old_value and change.new_value and change.new_value > change.old_value:
            review_of(deal.owner).slipped.append(
                (deal, f"next step pushed from {change.old_value} to {change.new_value} on "
                       f"{change.at.date().isoformat()}"))
    ordered = sorted(owners.values(), key=lambda r: r.owner.name.lower())
    return {"owners": ordered, "since": since, "now": now, "stages": stages, "kinds": CHANGE_KINDS}


def deal_audit(pipeline, viewer, size: int = AUDIT_SIZE) -> list:
    """The last closed deals, each with its activities and its stage progression (facts that let it move)."""
    query = Deal.query.filter(Deal.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id,
                              Deal.status.in_(("won", "lost")))
    if not viewer.has_role("manager"):
        query = query.filter(Deal.owner_id == viewer.id)
    deals = query.options(db.joinedload(Deal.owner)).order_by(Deal.closed_at.desc(), Deal.id.desc()).limit(size).all()
    ids = [d.id for d in deals] or [0]
    activities, moves = {}, {}
    for activity in (Activity.query.filter(Activity.deal_id.in_(ids), Activity.org_id == pipeline.org_id)
                     .options(db.joinedload(Activity.user)).order_by(Activity.at, Activity.id)):
        activities.setdefault(activity.deal_id, []).append(activity)
    for transition in (StageTransition.query.filter(StageTransition.deal_id.in_(ids),
                                                    StageTransition.org_id == pipeline.org_id)
                       .options(db.joinedload(StageTransition.user))
                       .order_by(StageTransition.at, StageTransition.id)):
        moves.setdefault(transition.deal_id, []).append(transition)
    stages = {s.id: s for s in pipeline.stages}
    return [{"deal": d, "activities": activities.get(d.id, []), "moves": moves.get(d.id, []), "stages": stages}
            for d in deals]
