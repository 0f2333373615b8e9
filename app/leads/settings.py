"""Lead settings: the ideal customer profile, scoring rules, thresholds, routing, and rescoring everyone.

Changing a rule queues one background rescoring of every contact; its progress lives in
LeadSettings so the page can poll it and a restarted worker resumes where it stopped.
"""

from datetime import timedelta

from app.errors import Invalid
from app.extensions import db
from app.leads import scoring
from app.models import Contact, StageRequirement, User, utcnow
from app.models.leads import (
    EVENT_TYPES,
    FIT_FIELDS,
    FIT_OPERATORS,
    EngagementRule,
    FitRule,
    is_icp_fact,
)
from app.queue import enqueue_after_commit
from app.text import clean_int, clean_text

ICP_POINTS = {"industry": 20, "company_size": 15, "title": 15, "country": 10}
ICP_LISTS = {"industry": "icp_industries", "company_size": "icp_sizes", "title": "icp_titles",
             "country": "icp_countries"}
ROUTING_RULES = {"owner_then_round_robin": "Contact's or company's owner, else round robin",
                 "round_robin": "Round robin among active reps (ignore existing owners)"}
BATCH = 1000
STALLED = timedelta(minutes=2)




def _list(text: str, name: str, errors: dict) -> list:
    items = [i.strip() for i in str(text or "").replace("\n", ",").split(",") if i.strip()]
    if len(items) > 50 or any(len(i) > 120 for i in items):
        errors[name] = "can list at most 50 entries of up to 120 characters"
    return items[:50]


def save_settings(actor, values: dict):
    """Save thresholds, lapse, the speed-to-lead window, business hours and routing; rescore if scoring moved."""
    settings = scoring.ensure_defaults(actor.org_id)
    errors: dict = {}
    mql = clean_int(values.get("mql_threshold"), "mql_threshold", errors, 1, 100, required=True)
    hot = clean_int(values.get("hot_threshold"), "hot_threshold", errors, 1, 100, required=True)
    if mql and hot and hot <= mql and "hot_threshold" not in errors:
        errors["hot_threshold"] = "must be above the MQL threshold"
    lapse = clean_int(values.get("lapse_days"), "lapse_days", errors, 1, 3650, required=True)
    speed = clean_int(values.get("speed_minutes"), "speed_minutes", errors, 1, 1440, required=True)
    start = clean_int(values.get("hours_start"), "hours_start", errors, 0, 23)
    end = clean_int(values.get("hours_end"), "hours_end", errors, 1, 24)
    if (start is None) != (end is None) and "hours_end" not in errors:
        errors["hours_end"] = "set both the opening and the closing hour, or neither"
    elif start is not None and end is not None and end <= start:
        errors["hours_end"] = "must be after the opening hour"
    raw_days = values.getlist("hours_days") if hasattr(values, "getlist") else values.get("hours_days")
    if isinstance(raw_days, list | tuple):
        raw_days = "".join(str(d) for d in raw_days)
    days = "".join(sorted({d for d in str(raw_days or "") if d in "1234567"}))
    routing = values.get("routing")
    if routing not in ROUTING_RULES:
        errors["routing"] = "must be one of the routing rules"
    weights = {}
    reps = User.query.filter_by(org_id=actor.org_id, role="rep").all()
    for rep in reps:
        weight = clean_int(values.get(f"weight_{rep.id}"), f"weight_{rep.id}", errors, 0, 10)
        if weight is not None and weight != 1:
            weights[str(rep.id)] = weight
    if errors:
        raise Invalid(errors)
    rescore = (mql, hot, lapse) != (settings.mql_threshold, settings.hot_threshold, settings.lapse_days)
    settings.mql_threshold, settings.hot_threshold, settings.lapse_days = mql, hot, lapse
    settings.speed_minutes, settings.hours_start, settings.hours_end = speed, start, end
    settings.hours_days = days or "12345"
    settings.routing, settings.routing_weights = routing, weights
    if rescore:
        start_rescore(actor.org_id)
    db.session.commit()
    return settings


def save_icp(actor, values: dict):
    """Save the ideal customer profile and regenerate the fit rules it produces; rescore everyone."""
    settings = scoring.ensure_defaults(actor.org_id)
    errors: dict = {}
    lists = {field: _list(values.get(attr), attr, errors) for field, attr in ICP_LISTS.items()}
    pains = clean_text(values.get("icp_pains"), "icp_pains", errors, 2000)
    triggers = clean_text(values.get("icp_triggers"), "icp_triggers", errors, 2000)
    if errors:
        raise Invalid(errors)
    for field, attr in ICP_LISTS.items():
        setattr(settings, attr, lists[field])
    settings.icp_pains, settings.icp_triggers = pains, triggers
    FitRule.query.filter_by(org_id=actor.org_id, from_icp=True).delete()
    for field, items in lists.items():
        if items:
            operator = "contains" if field == "title" else "in"
            db.session.add(FitRule(org_id=actor.org_id, field=field, operator=operator, value=", ".join(items),
                                   points=ICP_POINTS[field], from_icp=True))
    start_rescore(actor.org_id)
    db.session.commit()
    return settings


def add_fit_rule(actor, values: dict) -> FitRule:
    errors: dict = {}
    field = values.get("field")
    operator = values.get("operator")
    if field not in FIT_FIELDS:
        errors["field"] = "must be one of: " + ", ".join(FIT_FIELDS.values())
    if operator not in FIT_OPERATORS:
        errors["operator"] = "must be one of: " + ", ".join(FIT_OPERATORS.values())
    value = clean_text(values.get("value"), "value", errors, 500)
    if not value and "value" not in errors:
        errors["value"] = "is required"
    points = clean_int(values.get("points"), "points", errors, -100, 100, required=True)
    if FitRule.query.filter_by(org_id=actor.org_id).count() >= 100:
        errors["field"] = "at most 100 fit rules"
    if errors:
        raise Invalid(errors)
    rule = FitRule(org_id=actor.org_id, field=field, operator=operator, value=value, points=points)
    db.session.add(rule)
    start_rescore(actor.org_id)
    db.session.commit()
    return rule


def delete_fit_rule(actor, rule: FitRule) -> None:
    db.session.delete(rule)
    start_rescore(actor.org_id)
    db.session.commit()


def save_engagement(actor, values: dict) -> None:
    """Save each event type's points and daily cap."""
    scoring.ensure_defaults(actor.org_id)
    errors: dict = {}
    rules = {r.event_type: r for r in EngagementRule.query.filter_by(org_id=actor.org_id)}
    changes = {}
    for kind in EVENT_TYPES:
        points = clean_int(values.get(f"points_{kind}"), f"points_{kind}", errors, 0, 100, required=True)
        cap = clean_int(values.get(f"cap_{kind}"), f"cap_{kind}", errors, 0, 1000)
        changes[kind] = (points, cap)
    if errors:
        raise Invalid(errors)
    for kind, (points, cap) in changes.items():
        rule = rules.get(kind) or EngagementRule(org_id=actor.org_id, event_type=kind)
        rule.points, rule.daily_cap = points, cap
        db.session.add(rule)
    start_rescore(actor.org_id)
    db.session.commit()


def icp_stages(org_id: int) -> list:
    """[(stage, field)] where a stage's criteria ask whether the deal matches the ICP."""
    rows = (StageRequirement.query.filter_by(org_id=org_id).all())
    out = []
    for req in rows:
        f = req.field
        if f is not None and not f.archived and is_icp_fact(f) and not req.stage.archived:
            out.append((req.stage, f, req.when))
    return sorted(out, key=lambda t: (t[0].pipeline_id, t[0].position))


# ---------------------------------------------------------------- rescoring everyone

def start_rescore(org_id: int) -> None:
    """Queue a rescoring of every contact (a new run supersedes one in progress); the caller commits."""
    settings = scoring.ensure_defaults(org_id)
    settings.rescore_run += 1
    settings.rescore_status = "queued"
    settings.rescore_total = Contact.query.filter_by(org_id=org_id).count()
    settings.rescore_done = 0
    settings.rescore_last_id = 0
    settings.rescore_updated_at = utcnow()
    if settings.rescore_total == 0:
        settings.rescore_status = "done"  # nobody to rescore
        return
    enqueue_after_commit("app.jobs.rescore_leads", org_id, settings.rescore_run)


def rescore_all(org_id: int, run: int, batch: int = BATCH, now=None) -> dict:
    """Rescore every contact of the organisation in id order, committing progress each batch.

    Idempotent: a stale run (superseded) stops; a rerun resumes after the last committed id.
    """
    scored = 0
    while True:
        settings = scoring.ensure_defaults(org_id)
        db.session.refresh(settings)
        if settings.rescore_run != run or settings.rescore_status == "done":
            break
        settings.rescore_status = "running"
        rules = scoring.load_rules(org_id)
        contacts = (Contact.query.filter(Contact.org_id == org_id, Contact.id > settings.rescore_last_id)
                    .options(db.joinedload(Contact.company)).order_by(Contact.id).limit(batch).all())
        if not contacts:
            settings.rescore_status = "done"
            settings.rescore_done = settings.rescore_total
            db.session.commit()
            break
        scoring.rescore_many(org_id, contacts, rules=rules, now=now or utcnow())
        settings.rescore_last_id = contacts[-1].id
        settings.rescore_done = min(settings.rescore_total, settings.rescore_done + len(contacts))
        settings.rescore_updated_at = utcnow()
        scored += len(contacts)
        db.session.commit()
    return {"scored": scored}


def resume_stalled_rescores(now=None) -> int:
    """Re-enqueue rescoring runs whose worker went quiet (Redis lost the job, or the worker died)."""
    from app.models.leads import LeadSettings

    now = now or utcnow()
    stalled = LeadSettings.query.filter(LeadSettings.rescore_status.in_(("queued", "running")),
                                        LeadSettings.rescore_updated_at < now - STALLED).all()
    for settings in stalled:
        settings.rescore_updated_at = now
        enqueue_after_commit("app.jobs.rescore_leads", settings.org_id, settings.rescore_run)
    db.session.commit()
    return len(stalled)
