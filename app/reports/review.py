"""The weekly pipeline review and the deal audit: what a manager reads on Monday."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select

from app.deals.service import exit_missing, stage_requirements
from app.extensions import db
from app.formatting import money
from app.models import (
    Activity,
    Deal,
    DealFieldChange,
    LossReason,
    Stage,
    StageTransition,
    User,
    utcnow,
)
from app.reports.service import Period, local_today

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


@dataclass(frozen=True)
class WeekTotals:
    """What a window of the pipeline did, for the review's head: money as Decimal, counts as int."""

    won: int
    won_value: Decimal
    lost: int
    lost_value: Decimal
    reasons: list  # [(label, count)], the top three loss reasons, most first
    added: int
    added_value: Decimal
    forward: int
    back: int
    slipped: int
    slipped_value: Decimal


def review_week(raw: str | None, zone, now: datetime | None = None) -> Period | None:
    """The calendar week (Monday first, the organisation's zone) holding the day `raw` (YYYY-MM-DD),
    or None for the rolling last seven days; ValueError when `raw` is not a date of the past or today."""
    if not raw:
        return None
    if len(raw) != 10 or not raw.isascii():
        raise ValueError(raw)
    day = date.fromisoformat(raw)
    if day.year < 1970 or day > local_today(zone, now):
        raise ValueError(raw)
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + WEEK, zone)


def week_totals(pipeline, viewer, start: datetime, end: datetime, start_day: date, end_day: date) -> WeekTotals:
    """Won, lost (with the top reasons), pipeline added, moves forward and back, and slipped close
    dates in [start, end) (UTC; the days for expected close dates), as `viewer` may see them: five
    aggregate statements whatever the data."""
    scope = [Deal.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id]
    if not viewer.has_role("manager"):
        scope.append(Deal.owner_id == viewer.id)
    amount = func.coalesce(func.sum(Deal.amount), 0)
    closed = dict((status, (n, value)) for status, n, value in db.session.execute(
        select(Deal.status, func.count(), amount).where(*scope, Deal.status.in_(("won", "lost")),
                                                        Deal.closed_at >= start, Deal.closed_at < end)
        .group_by(Deal.status)))
    label = func.coalesce(LossReason.label, "Other")
    reasons = db.session.execute(
        select(label, func.count()).select_from(Deal).outerjoin(LossReason, LossReason.id == Deal.loss_reason_id)
        .where(*scope, Deal.status == "lost", Deal.closed_at >= start, Deal.closed_at < end)
        .group_by(label).order_by(func.count().desc(), label).limit(3)).all()
    added, added_value = db.session.execute(
        select(func.count(), amount).where(*scope, Deal.created_at >= start, Deal.created_at < end)).one()
    source, target = db.aliased(Stage), db.aliased(Stage)
    both_open = and_(source.kind == "open", target.kind == "open")
    forward, back = db.session.execute(
        select(func.count(case((and_(both_open, target.position > source.position), 1))),
               func.count(case((and_(both_open, target.position < source.position), 1))))
        .select_from(StageTransition).join(Deal, Deal.id == StageTransition.deal_id)
        .join(source, source.id == StageTransition.from_stage_id).join(target, target.id == StageTransition.to_stage_id)
        .where(*scope, StageTransition.org_id == pipeline.org_id, StageTransition.at >= start,
               StageTransition.at < end)).one()
    slipped, slipped_value = db.session.execute(
        select(func.count(), amount).where(
            *scope, Deal.expected_close_date >= start_day, Deal.expected_close_date < end_day,
            or_(Deal.status == "open", Deal.closed_at >= end))).one()
    won, won_value = closed.get("won", (0, 0))
    lost, lost_value = closed.get("lost", (0, 0))
    return WeekTotals(int(won), Decimal(won_value), int(lost), Decimal(lost_value), [tuple(r) for r in reasons],
                      int(added), Decimal(added_value), int(forward), int(back), int(slipped), Decimal(slipped_value))


def weekly_review(pipeline, viewer, now: datetime | None = None, week: Period | None = None) -> dict:
    """Per owner: deals missing criteria, stale deals, slipped next steps, and the week's changes;
    first, the week's totals against the week before. `week`: a calendar week, else the last 7 days."""
    now = now or utcnow()
    zone = viewer.org.zone
    if week is None:  # today and the six days before, whole days in the organisation's zone
        today = local_today(zone, now)
        window = Period(today - timedelta(days=6), today + timedelta(days=1), zone)
    else:
        window = week
    earlier = Period(window.start - WEEK, window.start, zone)
    since, now = window.utc_start, min(now, window.utc_end)
    days = (window.start, window.end)
    totals = week_totals(pipeline, viewer, since, now, *days)
    before = week_totals(pipeline, viewer, earlier.utc_start, since, earlier.start, earlier.end)
    today = local_today(zone, now)
    stages = {s.id: s for s in pipeline.stages}
    stage_kinds = {s.id: s.kind for s in pipeline.stages}
    query = Deal.query.filter(Deal.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id)
    if not viewer.has_role("manager"):
        query = query.filter(Deal.owner_id == viewer.id)
    # Plain rows of only what the lists show and test: at 100,000 deals, hydrating every open deal as an
    # ORM object was most of the page's time (see bench/reports.py).
    scope = [Deal.org_id == pipeline.org_id, Deal.pipeline_id == pipeline.id, Deal.status == "open"]
    if not viewer.has_role("manager"):
        scope.append(Deal.owner_id == viewer.id)
    opens = db.session.execute(
        select(Deal.id, Deal.title, Deal.stage_id, Deal.owner_id, Deal.facts, Deal.facts_meta,
               Deal.stage_entered_at, Deal.next_step_due).where(*scope).order_by(Deal.id)).all()
    people = {u.id: u for u in User.query.filter_by(org_id=pipeline.org_id)}
    exits = {s.id: stage_requirements(s, "exit") for s in pipeline.stages}
    owners: dict[int, OwnerReview] = {}

    def review_of(user) -> OwnerReview:
        return owners.setdefault(user.id, OwnerReview(user))

    for deal in opens:
        review = review_of(people[deal.owner_id])
        missing = exit_missing(deal, exits[deal.stage_id])
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
                (deal, change.at, f"{money(change.old_value, deal.currency)} → {money(change.new_value, deal.currency)}"))
        elif change.old_value and change.new_value and change.new_value > change.old_value:
            what = "next step" if change.field == "next_step_due" else "expected close"
            review_of(deal.owner).slipped.append(
                (deal, f"{what} pushed from {change.old_value} to {change.new_value} on "
                       f"{change.at.date().isoformat()}"))
    ordered = sorted(owners.values(), key=lambda r: r.owner.name.lower())
    return {"owners": ordered, "since": since, "now": now, "stages": stages, "kinds": CHANGE_KINDS,
            "totals": totals, "before": before, "week": week, "days": days, "window": window, "earlier": earlier}


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
