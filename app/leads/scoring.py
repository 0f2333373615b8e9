"""Lead scoring: pure functions over a contact's facts and events, and one place that applies a score.

`score_contact` is pure (facts, events, rules, now -> ScoreResult). `apply_score` is the only
code that writes a contact's score and level; when the level rises it fires the crossing
(routing, the task, the notification) once, guarded by LeadCrossing.unique_key.
`record_event` is what every caller uses when a lead does something.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.extensions import db
from app.models import Activity, Contact, Notification, Task, utcnow
from app.models.activity import TOUCH_KINDS
from app.models.leads import (
    DEFAULT_ENGAGEMENT,
    EVENT_TYPES,
    FIT_FIELDS,
    SCORE_LEVELS,
    ContactEvent,
    EngagementRule,
    FitRule,
    LeadCrossing,
    LeadSettings,
)
from app.statements import dialect_insert
from app.webhooks.events import emit, task_created
from app.webhooks.shapes import contact_json

MAX_SCORE = 100
AUTO_STATUSES = ("new", "mql", "hot")  # statuses the score moves; a rep's own status stays
MQL_FOLLOW_UP = timedelta(hours=24)


class UnknownEventType(ValueError):
    pass


@dataclass
class Rules:
    """An organisation's scoring rules, loaded once per scoring pass."""

    settings: LeadSettings
    engagement: dict  # type -> (points, daily cap or None)
    fit: list  # [(field, operator, value, points)]
    cache: dict = field(default_factory=dict)  # routing's lock and rep list, for one transaction


@dataclass
class ScoreResult:
    fit: int
    engagement: int
    score: int
    level: str
    breakdown: list = field(default_factory=list)  # [{"rule", "points", "at"?}]
    expires_at: datetime | None = None
    contact_id: int | None = None
    crossed: list = field(default_factory=list)  # crossing kinds fired by this scoring
    status: str = "new"

    @property
    def hot(self) -> bool:
        return self.level == "hot"


# ---------------------------------------------------------------- defaults and rules

def ensure_defaults(org_id: int) -> LeadSettings:
    """Create the organisation's lead settings and default engagement rules if missing (race-safe)."""
    settings = LeadSettings.query.filter_by(org_id=org_id).first()
    if settings is not None:
        return settings
    db.session.execute(dialect_insert(LeadSettings.__table__).values(
        org_id=org_id, mql_threshold=40, hot_threshold=70, lapse_days=90, speed_minutes=5, hours_days="12345",
        routing="owner_then_round_robin", routing_weights={}, routing_counter=0, icp_industries=[],
        icp_sizes=[], icp_titles=[], icp_countries=[], icp_pains="", icp_triggers="",
        rescore_status="idle", rescore_total=0, rescore_done=0, rescore_last_id=0, rescore_run=0,
    ).on_conflict_do_nothing(index_elements=["org_id"]))
    db.session.execute(dialect_insert(EngagementRule.__table__).values([
        {"org_id": org_id, "event_type": kind, "points": points, "daily_cap": cap}
        for kind, (points, cap) in DEFAULT_ENGAGEMENT.items()
    ]).on_conflict_do_nothing(index_elements=["org_id", "event_type"]))
    return LeadSettings.query.filter_by(org_id=org_id).one()


def load_rules(org_id: int) -> Rules:
    settings = ensure_defaults(org_id)
    engagement = {r.event_type: (r.points, r.daily_cap)
                  for r in EngagementRule.query.filter_by(org_id=org_id)}
    fit = [(r.field, r.operator, r.value, r.points)
           for r in FitRule.query.filter_by(org_id=org_id).order_by(FitRule.id)]
    return Rules(settings, engagement, fit)


# ---------------------------------------------------------------- pure scoring

def _email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower() if "@" in (email or "") else ""


def fit_facts(contact: Contact) -> dict:
    """The facts fit rules look at: the company's, else what the lead told us."""
    facts = dict(contact.lead_facts or {})
    company = contact.company
    if company is not None:
        if company.industry:
            facts["industry"] = company.industry
        if company.size:
            facts["company_size"] = company.size
    facts["title"] = contact.title or facts.get("title", "")
    facts["email_domain"] = _email_domain(contact.email)
    facts["source"] = contact.source or ""
    return {k: str(v) for k, v in facts.items() if v is not None}


def _numbers(text: str) -> list:
    return [int(n) for n in re.findall(r"\d+", str(text).replace(",", ""))][:2]


def _size_in(value: str, spec: str) -> bool:
    """Does a company size ("45", "11-50", "200+") fall in a range spec ("11-50", "50+")?"""
    have = _numbers(value)
    want = _numbers(spec)
    if not have or not want:
        return False
    low = have[0]
    if spec.strip().endswith("+") or len(want) == 1:
        return low >= want[0] if spec.strip().endswith("+") else low == want[0]
    return want[0] <= low <= want[1]


def _items(value: str) -> list:
    return [v.strip().lower() for v in re.split(r"[,\n;]", value or "") if v.strip()]


def rule_matches(facts: dict, field_name: str, operator: str, value: str) -> bool:
    have = (facts.get(field_name) or "").strip()
    if not have:
        return False
    low = have.lower()
    if operator == "in":
        if field_name == "company_size":
            return any(_size_in(have, spec) for spec in _items(value))
        return low in _items(value)
    if operator == "not_in":
        return low not in _items(value)
    if operator == "contains":
        return any(item in low for item in _items(value))
    if operator == "equals":
        return low == value.strip().lower()
    if operator == "between":
        return _size_in(have, value)
    return False


def fit_breakdown(facts: dict, fit_rules) -> list:
    out = []
    for field_name, operator, value, points in fit_rules:
        if points and rule_matches(facts, field_name, operator, value):
            label = FIT_FIELDS.get(field_name, field_name).lower()
            out.append({"rule": f"{label} {facts.get(field_name)}", "points": points})
    return out


def engagement_breakdown(events, engagement: dict, lapse_days: int, now: datetime):
    """Return (breakdown items, when the oldest counted event lapses) from [(type, at)] events."""
    since = now - timedelta(days=lapse_days)
    per_day = defaultdict(list)
    for kind, at in events:
        if since < at <= now + timedelta(minutes=5):
            per_day[(kind, at.date())].append(at)
    items = []
    expires = None
    for (kind, _day), times in sorted(per_day.items(), key=lambda kv: max(kv[1]), reverse=True):
        points, cap = engagement.get(kind, (0, None))
        if points <= 0:
            continue
        total = points * len(times)
        if cap is not None:
            total = min(total, cap)
        if total <= 0:
            continue
        label = EVENT_TYPES.get(kind, kind).lower()
        if len(times) > 1:
            label += f" ×{len(times)}" + (" (daily cap)" if cap is not None and points * len(times) > cap else "")
        items.append({"rule": label, "points": total, "at": max(times)})
        lapse = min(times) + timedelta(days=lapse_days)
        expires = lapse if expires is None or lapse < expires else expires
    return items, expires


def level_for(score: int, settings: LeadSettings) -> str:
    if score >= settings.hot_threshold:
        return "hot"
    if score >= settings.mql_threshold:
        return "mql"
    return "new"


def score_contact(facts: dict, events, rules: Rules, now: datetime) -> ScoreResult:
    """Score a lead from its facts and [(type, at)] events; every point is in the breakdown."""
    fit_items = fit_breakdown(facts, rules.fit)
    eng_items, expires = engagement_breakdown(events, rules.engagement, rules.settings.lapse_days, now)
    fit = sum(i["points"] for i in fit_items)
    engagement = sum(i["points"] for i in eng_items)
    score = max(0, min(MAX_SCORE, fit + engagement))
    return ScoreResult(fit=fit, engagement=engagement, score=score, level=level_for(score, rules.settings),
                       breakdown=eng_items + fit_items, expires_at=expires)


# ---------------------------------------------------------------- applying a score

def contact_events(contact_id: int, since: datetime) -> list:
    return [(t, at) for t, at in db.session.query(ContactEvent.type, ContactEvent.at)
            .filter(ContactEvent.contact_id == contact_id, ContactEvent.at > since)]


def lock_contact(contact: Contact) -> Contact:
    """Hold the contact's row for this transaction on PostgreSQL, so concurrent events queue up."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.query(Contact.id).filter(Contact.id == contact.id).with_for_update().scalar()
        db.session.refresh(contact)
    return contact


def rescore(contact: Contact, *, rules: Rules | None = None, now: datetime | None = None,
            events=None, commit: bool = True) -> ScoreResult:
    """Recompute a contact's score from its facts and events and apply it (firing crossings)."""
    now = now or utcnow()
    rules = rules or load_rules(contact.org_id)
    if events is None:
        events = contact_events(contact.id, now - timedelta(days=rules.settings.lapse_days))
    result = score_contact(fit_facts(contact), events, rules, now)
    apply_score(contact, result, rules, now)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return result


def rescore_many(org_id: int, contacts: list, *, rules: Rules | None = None, now: datetime | None = None) -> list:
    """Rescore a batch of one organisation's contacts (events read at once) and apply the changed
    scores, firing the batch's crossings together; flushes, never commits. Returns the results."""
    from app.leads.routing import prefetch_company_owners

    when = now or utcnow()
    rules = rules or load_rules(org_id)
    events: dict = {c.id: [] for c in contacts}
    since = when - timedelta(days=rules.settings.lapse_days)
    for contact_id, kind, at in (db.session.query(ContactEvent.contact_id, ContactEvent.type, ContactEvent.at)
                                 .filter(ContactEvent.contact_id.in_(list(events)), ContactEvent.at > since)):
        events[contact_id].append((kind, at))
    crossings: list = []
    results = []
    for contact in contacts:
        result = score_contact(fit_facts(contact), events[contact.id], rules, when)
        if (result.score, result.fit, result.engagement, result.level, result.expires_at) != (
                contact.lead_score, contact.fit_score, contact.engagement_score, contact.score_level,
                contact.score_expires_at):
            apply_score(contact, result, rules, when, crossings)
        results.append(result)
    if crossings:  # the batch's crossings together: owners read once, rows written in a few statements
        db.session.flush()
        prefetch_company_owners(org_id, {s.contact for s in crossings}, rules.settings, rules.cache)
        fire_crossings(crossings, rules.settings, rules.cache)
    db.session.flush()
    return results


def record_event(contact: Contact, event_type: str, at: datetime | None = None, *,
                 commit: bool = True) -> ScoreResult:
    """Record what a lead did, rescore it and fire any crossing; commit=False only flushes."""
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(event_type)
    now = utcnow()
    at = min(at or now, now)  # an event reported from the future counts as now
    lock_contact(contact)
    rules = load_rules(contact.org_id)
    points = rules.engagement.get(event_type, (0, None))[0]
    db.session.add(ContactEvent(org_id=contact.org_id, contact_id=contact.id, type=event_type, at=at,
                                points=points))
    db.session.flush()
    return rescore(contact, rules=rules, now=now, commit=commit)


def apply_score(contact: Contact, result: ScoreResult, rules: Rules, now: datetime,
                crossings: list | None = None) -> None:
    """Write the score; log a level change on the timeline; fire each upward crossing once.

    With `crossings` (a batch), the upward crossings are appended to it as CrossingSpecs for one
    `fire_crossings` call over the batch, which fills in result.crossed.
    """
    result.contact_id = contact.id
    old = contact.score_level if contact.score_level in SCORE_LEVELS else "new"
    contact.fit_score = result.fit
    contact.engagement_score = result.engagement
    contact.lead_score = result.score
    contact.score_expires_at = result.expires_at
    if result.level != old:
        contact.score_level = result.level
        contact.level_changes = (contact.level_changes or 0) + 1
        if contact.lead_status in AUTO_STATUSES and contact.lead_status != result.level:
            before, contact.lead_status = contact.lead_status, result.level
            emit(contact.org_id, "lead.status_changed",
                 lambda: {"contact": contact_json(contact), "from": before, "to": contact.lead_status})
        _log_level_change(contact, old, result, now)
        rank = SCORE_LEVELS.index
        for level in SCORE_LEVELS[rank(old) + 1: rank(result.level) + 1]:
            spec = CrossingSpec(contact, level, now, result=result)
            if crossings is not None:
                crossings.append(spec)
            else:
                fire_crossings([spec], rules.settings, rules.cache)
    result.status = contact.lead_status


def _log_level_change(contact: Contact, old: str, result: ScoreResult, now: datetime) -> None:
    names = {"new": "New", "mql": "MQL", "hot": "Hot"}
    verb = "Became" if SCORE_LEVELS.index(result.level) > SCORE_LEVELS.index(old) else "Fell back to"
    db.session.add(Activity(
        org_id=contact.org_id, contact_id=contact.id, kind="lead", at=now,
        body=f"{verb} {names[result.level]} at score {result.score} "
             f"(fit {result.fit} + engagement {result.engagement})",
    ))


# ---------------------------------------------------------------- crossings

def _crossing_key(contact: Contact, kind: str) -> str:
    """One key per rise of the level: the contact's level-change counter makes a later re-crossing new."""
    return f"{kind}:{contact.id}:{contact.level_changes}"


def _untouched_clocks(contact_ids: set) -> set:
    """The contacts whose latest response clock nobody has called, emailed or met since."""
    if not contact_ids:
        return set()
    latest: dict = {}
    for contact_id, at in (db.session.query(LeadCrossing.contact_id, LeadCrossing.at)
                           .filter(LeadCrossing.contact_id.in_(contact_ids), LeadCrossing.clock_at.is_not(None))
                           .order_by(LeadCrossing.at)):
        latest[contact_id] = at  # the latest is written last
    if not latest:
        return set()
    touched = {contact_id for contact_id, at in (
        db.session.query(Activity.contact_id, db.func.max(Activity.at))
        .filter(Activity.contact_id.in_(list(latest)), Activity.kind.in_(TOUCH_KINDS))
        .group_by(Activity.contact_id)) if at is not None and at >= latest[contact_id]}
    return set(latest) - touched


@dataclass
class CrossingSpec:
    """One crossing to fire: the contact, its kind, when, and (optionally) its key and the result it belongs to."""

    contact: Contact
    kind: str
    at: datetime
    key: str | None = None
    high_intent: bool = False
    result: ScoreResult | None = None
    route: bool = True  # False: an arrival that stays marketing's (no owner) until it crosses MQL
    follow_up: timedelta | None = None  # an MQL's follow-up delay when a lead form set one (else MQL_FOLLOW_UP)


def fire_crossing(contact: Contact, kind: str, now: datetime, settings: LeadSettings,
                  high_intent: bool = False, key: str | None = None, cache: dict | None = None) -> LeadCrossing | None:
    """Route the lead and create its task and notification, once per crossing (None if it already fired)."""
    return fire_crossings([CrossingSpec(contact, kind, now, key, high_intent)], settings, cache)[0]


def fire_crossings(specs: list, settings: LeadSettings, cache: dict | None = None) -> list:
    """Fire a batch of crossings: [LeadCrossing, or None where that crossing already fired], in order.

    Each crossing's unique key is claimed first (one INSERT ... ON CONFLICT DO NOTHING for the
    batch): a retry or a concurrent scorer that finds it taken creates nothing. Then the tasks
    and notifications of the crossings that fired are written together.
    """
    from app.leads.routing import clock_start, route

    if not specs:
        return []
    cache = {} if cache is None else cache
    hot_ids = {spec.contact.id for spec in specs if spec.kind == "hot"}
    waiting = _untouched_clocks(hot_ids)
    open_hot = _open_hot_tasks(hot_ids)
    planned = []
    for spec in specs:
        contact = spec.contact
        key = spec.key or _crossing_key(contact, spec.kind)
        owner = route(contact, settings, cache) if spec.route else None
        start = clock_start(spec.at, settings)
        crossing = LeadCrossing(org_id=contact.org_id, contact_id=contact.id, kind=spec.kind, at=spec.at,
                                owner_id=owner.id if owner else None, unique_key=key)
        if spec.kind == "hot":
            # One clock per wait: an arrival nobody has answered yet keeps running.
            crossing.clock_at = None if contact.id in waiting else start
            crossing.due_at = start + timedelta(minutes=settings.speed_minutes)
        elif spec.kind == "arrival":
            crossing.clock_at = start
        planned.append((spec, crossing, owner, start))
    table = LeadCrossing.__table__
    columns = ("org_id", "contact_id", "kind", "at", "owner_id", "unique_key", "clock_at", "due_at")
    ids = dict(db.session.execute(
        dialect_insert(table).on_conflict_do_nothing(index_elements=["unique_key"]).returning(table.c.unique_key, table.c.id),
        [{c: getattr(crossing, c) for c in columns} for _s, crossing, _o, _t in planned]).all())
    out, links, handed = [], [], []
    for spec, crossing, owner, start in planned:
        crossing.id = ids.pop(crossing.unique_key, None)  # a key twice in one batch fires once
        if crossing.id is None:
            out.append(None)  # this very crossing already fired (a retry, or a concurrent scorer)
            continue
        if spec.kind != "arrival" and owner is not None:
            handed.append({"contact": crossing.contact_id, "owner": owner.id})
        if spec.result is not None:
            spec.result.crossed.append(spec.kind)
        task = _crossing_task(spec.contact, crossing, owner, start, settings, spec.high_intent, spec.follow_up)
        if task is not None and spec.kind == "hot":
            if spec.contact.id in open_hot:
                task = None  # still answering the last hot moment: one task, not two
            open_hot.add(spec.contact.id)
        if task is not None:
            db.session.add(task)
            task_created(task)
            links.append((spec.contact, crossing, owner, task))
        out.append(crossing)
    if handed:  # an ownerless arrival's clock now runs for the rep the lead was handed to
        db.session.execute(table.update().where(
            table.c.contact_id == db.bindparam("contact"), table.c.kind == "arrival", table.c.owner_id.is_(None))
            .values(owner_id=db.bindparam("owner")), handed)
    if links:
        db.session.flush()
        link_tasks([(crossing, task) for _c, crossing, _o, task in links])
        for contact, crossing, owner, _task in links:
            _notify(contact, crossing, owner)
    return out


def link_task(crossing: LeadCrossing, task: Task) -> None:
    """Record the task a crossing created (the crossing row is written by statement, not the session)."""
    link_tasks([(crossing, task)])


def link_tasks(pairs: list) -> None:
    """link_task for many [(crossing, task)] in one executemany."""
    table = LeadCrossing.__table__
    for crossing, task in pairs:
        crossing.task_id = task.id
    db.session.execute(table.update().where(table.c.id == db.bindparam("crossing")).values(
        task_id=db.bindparam("task")), [{"crossing": c.id, "task": t.id} for c, t in pairs])


def _open_hot_tasks(contact_ids: set) -> set:
    """The contacts with a hot-lead task still open."""
    if not contact_ids:
        return set()
    return {c for (c,) in db.session.query(Task.contact_id).filter(
        Task.contact_id.in_(contact_ids), Task.kind == "hot_lead", Task.done_at.is_(None)).distinct()}


def _crossing_task(contact, crossing, owner, start, settings, high_intent, follow_up=None) -> Task | None:
    who = contact.name or contact.email
    if crossing.kind == "hot":
        # No score in the title: it would freeze a number that moves; the task row shows the live score.
        reason = " (asked for it)" if high_intent else ""
        return Task(org_id=contact.org_id, owner_id=owner.id, contact_id=contact.id, kind="hot_lead",
                    title=f"Hot lead: call {who} now{reason}"[:200], due_at=crossing.due_at,
                    unique_key=f"task:{crossing.unique_key}",
                    notes=f"Answer within {settings.speed_minutes} minutes: speed wins the deal.")
    if crossing.kind == "mql":
        return Task(org_id=contact.org_id, owner_id=owner.id, contact_id=contact.id, kind="lead_follow_up",
                    title=f"Follow up with {who} (MQL)"[:200],
                    due_at=start + (MQL_FOLLOW_UP if follow_up is None else follow_up),
                    unique_key=f"task:{crossing.unique_key}",
                    notes="Marketing handed this lead to sales: qualify it and log the call.")
    return None


def _notify(contact: Contact, crossing: LeadCrossing, owner) -> None:
    who = contact.name or contact.email
    text = {"hot": f"Hot lead: {who} — answer within minutes",
            "mql": f"New MQL handed to you: {who}"}[crossing.kind]
    db.session.add(Notification(org_id=contact.org_id, user_id=owner.id, kind=f"lead_{crossing.kind}",
                                text=text[:300], url=f"/contacts/{contact.id}",
                                unique_key=f"notify:{crossing.unique_key}"))
