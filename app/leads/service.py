"""Leads: taking a lead in (API, forms, import), the leads list, and speed-to-lead.

Plain functions over explicit arguments; they raise the shared Invalid (naming each bad
field) and never write anything when the input is bad.
"""

from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError

from app import phones
from app.contacts.service import clean_email
from app.errors import Invalid
from app.extensions import db
from app.leads import scoring
from app.leads.routing import company_domain, company_for_email
from app.models import Activity, Company, Contact, User, utcnow
from app.models.leads import LeadCrossing, LeadForm
from app.text import clean_text, is_text
from app.webhooks.events import emit
from app.webhooks.shapes import contact_json

LIMITS = {"name": 200, "company": 200, "title": 120, "industry": 120, "company_size": 40, "country": 80,
          "phone": 40, "source": 80}
UTM_KEYS = ("source", "medium", "campaign", "term", "content")
UTM_LIMIT = 200
FACT_KEYS = ("industry", "company_size", "country")
LEVEL_ORDER = {"hot": 0, "mql": 1, "new": 2}






def clean_utm(value, errors: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors["utm"] = "must be an object with source, medium and campaign"
        return {}
    out = {}
    for key, item in value.items():
        if key not in UTM_KEYS:
            errors[f"utm.{str(key)[:40]}"] = "is not a UTM parameter (source, medium, campaign, term, content)"
            continue
        text = clean_text(item, f"utm.{key}", errors, UTM_LIMIT)
        if text:
            out[key] = text
    return out


def lead_values(values: dict) -> dict:
    """Validate a lead's fields; return them clean or raise Invalid naming every bad one."""
    errors: dict = {}
    clean = {name: clean_text(values.get(name), name, errors, limit) for name, limit in LIMITS.items()}
    raw_email = values.get("email")
    if not isinstance(raw_email, str) or not raw_email.strip():
        errors["email"] = "is required"
    elif len(raw_email) > 254:
        errors["email"] = "must be at most 254 characters"
    elif not is_text(raw_email):
        errors["email"] = "must be an email address like name@example.com"
    else:
        try:
            clean["email"] = clean_email(raw_email)
        except Invalid as exc:
            errors["email"] = exc.fields["email"]
    clean["utm"] = clean_utm(values.get("utm"), errors)
    if errors:
        raise Invalid(errors)
    return clean


def _company(org_id: int, name: str, email: str, clean: dict) -> Company | None:
    """The lead's company: matched by name, then by email domain; created (with its domain) once."""
    from app.contacts.service import company_named

    domain = company_domain(email)
    company = company_named(org_id, name, create=False) if name else None
    company = company or company_for_email(org_id, email)
    if company is None and name:
        company = Company(org_id=org_id, name=name, domain=domain)
        db.session.add(company)
        db.session.flush()
    if company is not None:
        if domain and not company.domain:
            company.domain = domain
        if clean.get("industry") and not company.industry:
            company.industry = clean["industry"]
        if clean.get("company_size") and not company.size:
            company.size = clean["company_size"]
    return company


def _find_contact(org_id: int, email: str) -> Contact | None:
    # Emails are stored normalised (lower case), so the unique (org_id, email) index answers this.
    return Contact.query.filter(Contact.org_id == org_id, Contact.email == email).first()


def upsert_contact(org_id: int, clean: dict, *, form: LeadForm | None = None,
                   referrer: str = "") -> tuple[Contact, bool]:
    """Create the lead's contact or update the one with its email (never a twin); flushes only."""
    email = clean["email"]
    contact = _find_contact(org_id, email)
    created = False
    if contact is None:
        try:
            with db.session.begin_nested():
                contact = Contact(org_id=org_id, email=email, source=clean.get("source") or "",
                                  source_form_id=form.id if form else None, utm=clean.get("utm") or {},
                                  referrer=referrer[:500], lead_facts={})
                db.session.add(contact)
                db.session.flush()
                created = True
        except IntegrityError:  # the same person, submitted twice at once: the other writer won
            contact = _find_contact(org_id, email)
    apply_lead_fields(contact, clean)
    company = _company(org_id, clean.get("company", ""), email, clean)
    if company is not None and contact.company_id is None:
        contact.company_id = company.id
    db.session.flush()
    return contact, created


def apply_lead_fields(contact: Contact, clean: dict) -> None:
    """What a lead tells us about itself, on its contact: names and titles win, source and UTM stick."""
    for name in ("name", "title", "phone"):
        if clean.get(name):
            setattr(contact, name, phones.stored(clean[name]) if name == "phone" else clean[name])
    if clean.get("source") and not contact.source:
        contact.source = clean["source"]
    if clean.get("utm") and not contact.utm:
        contact.utm = clean["utm"]
    facts = dict(contact.lead_facts or {})
    facts.update({k: clean[k] for k in FACT_KEYS if clean.get(k)})
    if facts != (contact.lead_facts or {}):
        contact.lead_facts = facts


def create_or_update_lead(actor, values: dict) -> tuple[Contact, bool, scoring.ScoreResult]:
    """The API's lead intake: upsert the contact and score it from its fit (no event recorded)."""
    clean = lead_values(values)
    if not clean["source"]:
        clean["source"] = "API"
    contact, created = upsert_contact(actor.org_id, clean)
    scoring.lock_contact(contact)
    if created:  # a new lead's speed-to-lead clock starts at arrival, as a form lead's does; it stays
        # marketing's (no owner) until it crosses MQL, when the rep it is handed to owns the clock
        rules = scoring.load_rules(actor.org_id)
        scoring.fire_crossings([scoring.CrossingSpec(contact, "arrival", utcnow(), f"arrival:api:{contact.id}",
                                                     route=False)], rules.settings, rules.cache)
    result = scoring.rescore(contact, commit=False)
    if created:
        emit(contact.org_id, "lead.created", lambda: {"contact": contact_json(contact, result.breakdown)})
    db.session.commit()
    return contact, created, result


def record_event_by_email(org_id: int, email, event_type, at=None) -> scoring.ScoreResult | None:
    """Record an event for the organisation's contact with this email; None if there is none."""
    contact = _find_contact(org_id, email)
    if contact is None:
        return None
    if event_type == "email_reply":  # a reply ends the contact's sequences, in the same transaction
        from app.sequences.replies import replied_by_event

        replied_by_event(contact, at, commit=False)
    return scoring.record_event(contact, event_type, at)


# ---------------------------------------------------------------- reading

@dataclass
class Breakdown:
    fit: int
    engagement: int
    score: int
    level: str
    items: list


def breakdown(contact: Contact, now: datetime | None = None) -> Breakdown:
    """The contact's score as fit + engagement with every rule that gave points."""
    now = now or utcnow()
    rules = scoring.load_rules(contact.org_id)
    from datetime import timedelta

    events = scoring.contact_events(contact.id, now - timedelta(days=rules.settings.lapse_days))
    result = scoring.score_contact(scoring.fit_facts(contact), events, rules, now)
    return Breakdown(result.fit, result.engagement, result.score, result.level, result.breakdown)


def _touch_subquery():
    return (db.session.query(func.min(Activity.at))
            .filter(Activity.contact_id == LeadCrossing.contact_id, Activity.kind.in_(scoring.TOUCH_KINDS),
                    Activity.at >= LeadCrossing.at)
            .correlate(LeadCrossing).scalar_subquery())


def leads_list(org_id: int, *, status=None, owner_id=None, source=None, form_id=None, limit: int = 200) -> list:
    """Hot first, then MQL, then new (highest score first): [(contact, latest clock, first touch)]."""
    level_rank = db.case({"hot": 0, "mql": 1}, value=Contact.score_level, else_=2)
    query = (Contact.query.filter(Contact.org_id == org_id)
             .filter(or_(Contact.lead_score > 0, Contact.source != "", Contact.score_level != "new")))
    if status in LEVEL_ORDER:
        query = query.filter(Contact.score_level == status)
    if owner_id:
        query = query.filter(Contact.owner_id == owner_id)
    if source:
        query = query.filter(Contact.source == source)
    if form_id:
        query = query.filter(Contact.source_form_id == form_id)
    contacts = (query.options(db.joinedload(Contact.owner), db.joinedload(Contact.company))
                .order_by(level_rank, Contact.lead_score.desc(), Contact.id.desc()).limit(limit).all())
    ids = [c.id for c in contacts] or [-1]
    clocks = {}
    for crossing, touch in (db.session.query(LeadCrossing, _touch_subquery())
                            .filter(LeadCrossing.contact_id.in_(ids), LeadCrossing.clock_at.is_not(None))
                            .order_by(LeadCrossing.at)):
        clocks[crossing.contact_id] = (crossing, touch)  # the latest clock wins
    return [(c, *clocks.get(c.id, (None, None))) for c in contacts]


def response_clock(contact_id: int):
    """The contact's latest speed-to-lead clock and its first touch: (crossing, touched_at) or (None, None)."""
    row = (db.session.query(LeadCrossing, _touch_subquery())
           .filter(LeadCrossing.contact_id == contact_id, LeadCrossing.clock_at.is_not(None))
           .order_by(LeadCrossing.at.desc()).first())
    return (row[0], row[1]) if row else (None, None)


def lead_sources(org_id: int) -> list:
    return [s for (s,) in db.session.query(Contact.source).filter(Contact.org_id == org_id, Contact.source != "")
            .distinct().order_by(Contact.source).limit(100)]


def minutes_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)


# ---------------------------------------------------------------- speed-to-lead

def speed_to_lead(org_id: int, start: datetime, end: datetime, owner_id: int | None = None,
                  window_minutes: int | None = None) -> dict:
    """Response clocks started in [start, end): median minutes to first touch, share within the window.

    A clock starts when a form lead arrives or a lead turns hot (at the next business opening
    when hours are set); the first touch is the earliest call, email or meeting logged on the
    contact after it (sequence steps log an email). Untouched leads count as misses in the
    share and are left out of the median. Per rep by the owner the lead was routed to.
    """
    if window_minutes is None:
        window_minutes = scoring.ensure_defaults(org_id).speed_minutes
    query = (db.session.query(LeadCrossing.owner_id, LeadCrossing.clock_at, _touch_subquery())
             .filter(LeadCrossing.org_id == org_id, LeadCrossing.clock_at.is_not(None),
                     LeadCrossing.clock_at >= start, LeadCrossing.clock_at < end))
    if owner_id is not None:
        query = query.filter(LeadCrossing.owner_id == owner_id)
    per_owner: dict = {}
    for owner, clock, touch in query:
        per_owner.setdefault(owner, []).append(minutes_between(clock, touch))
    emails = dict(db.session.query(User.id, User.email).filter(User.id.in_([o for o in per_owner if o] or [-1])))

    def figures(values: list) -> dict:
        touched = [v for v in values if v is not None]
        return {
            "n": len(values), "touched": len(touched),
            "median_minutes": round(median(touched), 2) if touched else None,
            "within_window_share": round(sum(1 for v in touched if v <= window_minutes) / len(values), 4)
            if values else None,
        }

    everyone = [v for values in per_owner.values() for v in values]
    by_rep = [{"owner_id": owner, "owner_email": emails.get(owner), **figures(values)}
              for owner, values in sorted(per_owner.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]
    return {"window_minutes": window_minutes, **figures(everyone), "by_rep": by_rep}
