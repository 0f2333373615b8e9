"""Contacts, companies, their roles on deals, and the activity timeline.

Plain functions over explicit arguments; they own their transaction and raise the deal
errors (Invalid naming each bad field, Forbidden) that routes and jobs turn into messages.
"""

from dataclasses import dataclass
from datetime import datetime

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from app import phones
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.ids import parse_id
from app.models import (
    CONTACT_ROLES,
    Activity,
    Company,
    Contact,
    Deal,
    DealContact,
    StageTransition,
    Task,
    utcnow,
)
from app.models.activity import ACTIVITY_KINDS, LEAD_TASK_KINDS, LOGGABLE_KINDS, TOUCH_KINDS
from app.text import clean_text
from app.webhooks.events import emit, task_done
from app.webhooks.shapes import contact_json

PAGE_SIZE = 50
LEAD_STATUSES = {"new": "New", "mql": "MQL", "hot": "Hot", "working": "Working", "qualified": "Qualified",
                 "customer": "Customer", "disqualified": "Disqualified"}
MAX_BODY = 10_000
LIMITS = {"name": 200, "phone": 40, "title": 120, "persona": 80,
          "industry": 120, "size": 40, "website": 300}


RESERVED_DOMAINS = ", ".join(f".{name}" for name in sorted(SPECIAL_USE_DOMAIN_NAMES))


def clean_email(raw) -> str:
    """Return a normalised (lower-case) email address; raise Invalid if it is not one."""
    address = str(raw or "").strip()
    try:
        return validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        domain = address.rpartition("@")[2].lower()
        if "@" in address and any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES):
            # Syntax is fine, but no mail can reach it: say why rather than call it malformed.
            message = f"must be at a domain that can receive mail ({RESERVED_DOMAINS} are reserved names)"
        else:
            message = "must be an email address like name@example.com"
        raise Invalid({"email": message}) from None




def can_edit_contact(contact: Contact, actor) -> bool:
    """Reps edit the contacts they own (or nobody owns); managers and admins any."""
    return contact.org_id == actor.org_id and (
        contact.owner_id in (None, actor.id) or actor.has_role("manager"))


def company_named(org_id: int, name: str, create: bool = True) -> Company | None:
    """Find a company by name (case-insensitive), creating it when asked; flushes, never commits."""
    name = (name or "").strip()[:LIMITS["name"]]
    if not name:
        return None
    company = Company.query.filter(Company.org_id == org_id,
                                   db.func.lower(Company.name) == name.lower()).first()
    if company is None and create:
        company = Company(org_id=org_id, name=name)
        db.session.add(company)
        db.session.flush()
    return company


def contact_values(org_id: int, values: dict, contact: Contact | None = None) -> dict:
    """Validate contact fields; return the clean values or raise Invalid naming each bad one."""
    errors: dict = {}
    clean = {name: clean_text(values.get(name), name, errors, LIMITS[name]) for name in ("name", "phone", "title", "persona")}
    if clean["phone"]:  # kept in E.164 when it reads as a valid number (texts are sent to it)
        clean["phone"] = phones.stored(clean["phone"])
    try:
        clean["email"] = clean_email(values.get("email"))
    except Invalid as exc:
        errors.update(exc.fields)
    else:
        taken = Contact.query.filter_by(org_id=org_id, email=clean["email"]).first()
        if taken is not None and taken is not contact:
            errors["email"] = "belongs to another contact already"
    status = values.get("lead_status") or (contact.lead_status if contact else "new")
    if status not in LEAD_STATUSES:
        errors["lead_status"] = "must be one of: " + ", ".join(LEAD_STATUSES.values())
    clean["lead_status"] = status
    company_name = str(values.get("company") or "").strip()
    if len(company_name) > LIMITS["name"]:
        errors["company"] = f"must be at most {LIMITS['name']} characters"
    if errors:
        raise Invalid(errors)
    clean["company"] = company_name
    return clean


def save_contact(actor, values: dict, contact: Contact | None = None) -> Contact:
    """Create a contact (owned by the actor) or edit one the actor may edit."""
    if contact is not None and not can_edit_contact(contact, actor):
        raise Forbidden("Only the contact's owner or a manager can edit it.")
    clean = contact_values(actor.org_id, values, contact)
    company = company_named(actor.org_id, clean.pop("company"))
    before = contact.lead_status if contact is not None else None
    if contact is None:
        contact = Contact(org_id=actor.org_id, owner_id=actor.id)
        db.session.add(contact)
    for name, value in clean.items():
        setattr(contact, name, value)
    contact.company_id = company.id if company else None
    db.session.flush()
    from app.leads.scoring import rescore

    rescore(contact, commit=False)  # a new title or company can change the fit score
    if before is not None and contact.lead_status != before:
        emit(contact.org_id, "lead.status_changed",
             lambda: {"contact": contact_json(contact), "from": before, "to": contact.lead_status})
    db.session.commit()
    return contact


def company_values(values: dict) -> dict:
    errors: dict = {}
    clean = {name: clean_text(values.get(name), name, errors, LIMITS[name], required=(name == "name"))
             for name in ("name", "industry", "size", "website")}
    if errors:
        raise Invalid(errors)
    return clean


def save_company(actor, values: dict, company: Company | None = None) -> Company:
    """Create or edit a company; its name is unique within the organisation (case-insensitive)."""
    clean = company_values(values)
    same = company_named(actor.org_id, clean["name"], create=False)
    if same is not None and same is not company:
        raise Invalid({"name": "is already a company here; open that one instead"})
    if company is None:
        company = Company(org_id=actor.org_id)
        db.session.add(company)
    for name, value in clean.items():
        setattr(company, name, value)
    db.session.commit()
    return company


def _page(query, page: int):
    page = max(1, page)
    items = query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE).all()
    return items[:PAGE_SIZE], len(items) > PAGE_SIZE


def _matching(query, q: str, *columns):
    """`query` narrowed to rows where any of `columns` contains `q` (any case); all rows for a blank `q`."""
    q = (q or "").strip().lower()
    if not q:
        return query
    like = f"%{_escape_like(q)}%"
    return query.filter(db.or_(*(db.func.lower(column).like(like, escape="\\") for column in columns)))


def search_contacts(org_id: int, q: str = "", page: int = 1):
    """Return (contacts, has_more) matching `q` in name, email or company name, A to Z."""
    query = Contact.query.filter(Contact.org_id == org_id).outerjoin(Company, Contact.company_id == Company.id)
    query = _matching(query, q, Contact.name, Contact.email, Company.name)
    return _page(query.order_by(db.func.lower(Contact.name), Contact.email, Contact.id), page)


def search_companies(org_id: int, q: str = "", page: int = 1):
    """Return (companies, has_more) whose name, industry or website matches `q`."""
    query = _matching(Company.query.filter(Company.org_id == org_id), q, Company.name, Company.industry,
                      Company.website)
    return _page(query.order_by(db.func.lower(Company.name), Company.id), page)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contact_deals(contact: Contact) -> list:
    """Return [(deal, [role labels])] for every deal the contact is on, newest first."""
    rows = (db.session.query(Deal, DealContact.role)
            .outerjoin(DealContact, db.and_(DealContact.deal_id == Deal.id, DealContact.contact_id == contact.id))
            .filter(Deal.org_id == contact.org_id,
                    db.or_(DealContact.contact_id == contact.id, Deal.contact_id == contact.id))
            .order_by(Deal.created_at.desc(), Deal.id.desc()).all())
    deals: dict = {}
    for deal, role in rows:
        roles = deals.setdefault(deal, [])
        if role and CONTACT_ROLES.get(role) not in roles:
            roles.append(CONTACT_ROLES.get(role, role))
    return list(deals.items())


def company_deals(company: Company) -> list:
    return (Deal.query.filter_by(org_id=company.org_id, company_id=company.id)
            .order_by(Deal.created_at.desc(), Deal.id.desc()).all())


def company_contacts(company: Company) -> list:
    return (Contact.query.filter_by(org_id=company.org_id, company_id=company.id)
            .order_by(db.func.lower(Contact.name), Contact.email).all())


def deal_contacts(deal: Deal) -> list:
    """Return the deal's contact links (with their contact), grouped by contact, by role order."""
    order = list(CONTACT_ROLES)
    links = (DealContact.query.filter_by(org_id=deal.org_id, deal_id=deal.id)
             .join(Contact, DealContact.contact_id == Contact.id).all())
    return sorted(links, key=lambda dc: (order.index(dc.role) if dc.role in order else 99,
                                         (dc.contact.name or dc.contact.email or "").lower()))


def _contact_ref(org_id: int, ref, owner_id) -> Contact:
    """Find a contact by id or email in the organisation; an unknown email creates it."""
    ref = str(ref or "").strip()
    if not ref:
        raise Invalid({"contact": "is required: type an email or pick a contact"})
    if ref.isascii() and ref.isdigit():
        contact = Contact.query.filter_by(org_id=org_id, id=parse_id(ref)).first() if parse_id(ref) else None
        if contact is None:
            raise Invalid({"contact": "is not a contact of this organisation"})
        return contact
    try:
        email = clean_email(ref)
    except Invalid:
        raise Invalid({"contact": "must be an email address or a contact from the list"}) from None
    return contact_with_email(org_id, email, owner_id)


def contact_with_email(org_id: int, email: str, owner_id: int) -> Contact:
    """The organisation's contact with this (normalised) email, added for `owner_id` when new; flushes, never commits."""
    contact = Contact.query.filter_by(org_id=org_id, email=email).first()
    if contact is None:
        contact = Contact(org_id=org_id, email=email, owner_id=owner_id)
        db.session.add(contact)
        db.session.flush()
    return contact


def _check_deal_edit(deal: Deal, actor) -> None:
    from app.deals.service import can_edit

    if not can_edit(deal, actor):
        raise Forbidden("Only the deal's owner or a manager can change who is on it.")


def link_contact(deal: Deal, actor, contact_ref, role: str) -> DealContact:
    """Put a contact (by id or email) on a deal with a role; linking twice changes nothing."""
    try:
        _check_deal_edit(deal, actor)
        errors = {}
        if role not in CONTACT_ROLES:
            errors["role"] = "must be one of: " + ", ".join(CONTACT_ROLES.values())
        try:
            contact = _contact_ref(deal.org_id, contact_ref, deal.owner_id)
        except Invalid as exc:
            errors.update(exc.fields)
        if errors:
            raise Invalid(errors)
        link = DealContact.query.filter_by(deal_id=deal.id, contact_id=contact.id, role=role).first()
        if link is None:
            link = DealContact(org_id=deal.org_id, deal_id=deal.id, contact_id=contact.id, role=role)
            db.session.add(link)
        if deal.company_id is None and contact.company_id is not None:
            deal.company_id = contact.company_id
        db.session.commit()
        return link
    except (Invalid, Forbidden):
        db.session.rollback()
        raise


def _names(value: str, contact: Contact) -> bool:
    """Tell whether a contact fact's value names this contact (by email, else by name)."""
    from app.deals.facts import split_contact

    name, email, _ = split_contact(value)
    if email:
        return email == contact.email
    return bool(name) and name.lower() == (contact.name or "").lower()


def unlink_contact(deal: Deal, actor, contact: Contact) -> None:
    """Take a contact off a deal, unless one of the deal's facts names them."""
    _check_deal_edit(deal, actor)
    for field in deal.pipeline.fields:
        named = (deal.facts or {}).get(field.key) if field.type == "contact" else None
        if named and _names(named, contact):
            raise Invalid({"contact": f"is the deal's “{field.label}”; change that fact first"})
    DealContact.query.filter_by(deal_id=deal.id, contact_id=contact.id).delete()
    db.session.commit()


def log_activity(actor, kind: str, body: str, *, deal: Deal | None = None,
                 contact: Contact | None = None, at: datetime | None = None) -> tuple[Activity, int]:
    """Log a note, call, meeting or email on a deal or contact; return it and how many of the
    contact's speed-to-lead tasks it closed (a touch answers the lead)."""
    errors = {}
    if kind not in LOGGABLE_KINDS:
        errors["kind"] = "must be one of: " + ", ".join(ACTIVITY_KINDS[k] for k in LOGGABLE_KINDS)
    body = (body or "").strip()
    if not body:
        errors["body"] = "is required: say what happened"
    elif len(body) > MAX_BODY:
        errors["body"] = f"must be at most {MAX_BODY:,} characters"
    if at is not None and at > utcnow():
        errors["at"] = "must not be in the future"
    if deal is None and contact is None:
        errors["deal"] = "a deal or a contact is required"
    if errors:
        raise Invalid(errors)
    activity = Activity(org_id=actor.org_id, user_id=actor.id, kind=kind, body=body, at=at or utcnow(),
                        deal_id=deal.id if deal else None, contact_id=contact.id if contact else None)
    db.session.add(activity)
    closed = 0
    if contact is not None and kind in TOUCH_KINDS:
        closed = close_speed_tasks(contact, actor, ACTIVITY_KINDS[kind].lower())
    db.session.commit()
    return activity, closed


def close_speed_tasks(contact: Contact, actor, touch: str) -> int:
    """Close the lead's open speed-to-lead tasks as done by this touch (no commit); return how many."""
    now = utcnow()
    tasks = Task.query.filter(Task.org_id == contact.org_id, Task.contact_id == contact.id,
                              Task.kind.in_(LEAD_TASK_KINDS), Task.done_at.is_(None)).with_for_update().all()
    for task in tasks:
        task.done_at = now
        note = f"Done by the {touch} {actor.name} logged."
        task.notes = f"{task.notes}\n\n{note}".strip()[:10_000] if task.notes else note
        task_done(task)
    return len(tasks)


@dataclass
class Entry:
    """One line of a timeline: an Activity or a stage change."""

    kind: str  # an activity kind, or "stage"
    label: str
    at: datetime
    user: object
    body: str = ""
    deal: Deal | None = None
    transition: StageTransition | None = None


def timeline(deal: Deal | None = None, contact: Contact | None = None, limit: int = 50) -> list:
    """Return a deal's or contact's activities and stage changes merged, newest first."""
    activities = Activity.query
    transitions = StageTransition.query
    if deal is not None:
        activities = activities.filter(Activity.org_id == deal.org_id, Activity.deal_id == deal.id)
        transitions = transitions.filter(StageTransition.org_id == deal.org_id, StageTransition.deal_id == deal.id)
    elif contact is not None:
        deal_ids = [d.id for d, _ in contact_deals(contact)]
        activities = activities.filter(Activity.org_id == contact.org_id, Activity.contact_id == contact.id)
        transitions = transitions.filter(StageTransition.org_id == contact.org_id,
                                         StageTransition.deal_id.in_(deal_ids or [-1]))
    else:
        return []
    entries = [Entry(a.kind, ACTIVITY_KINDS.get(a.kind, a.kind), a.at, a.user, a.body, a.deal)
               for a in activities.order_by(Activity.at.desc(), Activity.id.desc()).limit(limit)]
    for t in transitions.order_by(StageTransition.at.desc(), StageTransition.id.desc()).limit(limit):
        if t.from_stage_id is None:
            label = f"Created in {t.to_stage.name}"
        else:
            label = f"{t.from_stage.name} → {t.to_stage.name}"
        body = t.reason if t.reason else ""
        entries.append(Entry("stage", label, t.at, t.user, body, db.session.get(Deal, t.deal_id), t))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


CONTACT_EXPORT_HEADER = ["Name", "Email", "Phone", "Job Title", "Company Name", "Persona", "Lead status",
                         "Lead score", "Unsubscribed", "Owner", "Created"]
COMPANY_EXPORT_HEADER = ["Company Name", "Industry", "Size", "Website", "Created"]


def contact_export_rows(org_id: int):
    """Yield every contact of the organisation as an export row (A to Z), in batches."""
    from app.models import User

    query = (db.session.query(Contact, Company.name, User.email)
             .outerjoin(Company, Contact.company_id == Company.id)
             .outerjoin(User, Contact.owner_id == User.id)
             .filter(Contact.org_id == org_id)
             .order_by(db.func.lower(Contact.name), Contact.email).yield_per(500))
    for c, company, owner in query:
        yield [c.name, c.email, c.phone, c.title, company or "", c.persona, LEAD_STATUSES.get(c.lead_status, ""),
               c.lead_score, c.unsubscribed, owner or "", c.created_at]


def company_export_rows(org_id: int):
    query = (Company.query.filter_by(org_id=org_id).order_by(db.func.lower(Company.name))
             .yield_per(500))
    for c in query:
        yield [c.name, c.industry, c.size, c.website, c.created_at]
