"""Who gets a lead, and when its response clock starts.

A lead goes to the owner of its contact, else of its company (the owner of the company's
latest open deal, else of its other contacts), else round robin among active reps
(weights from the admin; weight 0 leaves a rep out), else an admin.
"""

from datetime import datetime, timedelta

from app.extensions import db
from app.models import Company, Contact, Deal, User, org_zone
from app.models.leads import LeadSettings

FREEMAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "outlook.com", "live.com",
    "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net", "web.de", "proton.me", "protonmail.com",
    "mail.com", "yandex.ru", "msn.com", "hotmail.co.uk", "qq.com",
})


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower() if "@" in (email or "") else ""


def company_domain(email: str) -> str:
    """The email's domain when it can name a company (not a free mail provider)."""
    domain = email_domain(email)
    return "" if domain in FREEMAIL else domain


def company_for_email(org_id: int, email: str) -> Company | None:
    domain = company_domain(email)
    if not domain:
        return None
    return (Company.query.filter_by(org_id=org_id, domain=domain).order_by(Company.id).first())


def _active(user_id) -> User | None:
    user = db.session.get(User, user_id) if user_id else None
    return user if user is not None and user.active else None


def company_owner(company: Company) -> User | None:
    """The account owner: the owner of the company's latest open deal, else of its contacts."""
    return company_owner_and_why(company)[0]


def company_owner_and_why(company: Company) -> tuple[User | None, str]:
    """The account owner and, in words, what made them the owner (`routed_because`)."""
    deal_owner = (db.session.query(Deal.owner_id).join(User, User.id == Deal.owner_id)
                  .filter(Deal.company_id == company.id, Deal.status == "open", User.active.is_(True))
                  .order_by(Deal.created_at.desc()).limit(1).scalar())
    if deal_owner:
        return _active(deal_owner), _owner_of(company, DEALS)
    contact_owner = (db.session.query(Contact.owner_id).join(User, User.id == Contact.owner_id)
                     .filter(Contact.company_id == company.id, User.active.is_(True))
                     .order_by(Contact.id).limit(1).scalar())
    return _active(contact_owner), _owner_of(company, CONTACTS)


DEALS, CONTACTS = "deals", "contacts"


def _owner_of(company: Company, what: str) -> str:
    return f"owner of {company.name or company.domain}'s other {'open deals' if what == DEALS else 'contacts'}"[:200]


def rotation(org_id: int, weights: dict) -> list:
    """Active reps in id order, each repeated by its weight (default 1)."""
    reps = User.query.filter_by(org_id=org_id, role="rep", active=True).order_by(User.id).all()
    out = []
    for rep in reps:
        weight = weights.get(str(rep.id), 1)
        out.extend([rep] * max(0, min(int(weight), 10)))
    return out


def next_in_rotation(settings: LeadSettings, cache: dict | None = None) -> User | None:
    """Take the next rep in the weighted round robin (the counter row is locked on PostgreSQL).

    `cache` (one per transaction, e.g. a rescoring batch) keeps the lock and the rep list.
    """
    cache = {} if cache is None else cache
    if "settings" not in cache:
        query = LeadSettings.query.filter_by(id=settings.id)
        if db.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        cache["settings"] = query.populate_existing().one()
    settings = cache["settings"]
    if "reps" not in cache:
        cache["reps"] = rotation(settings.org_id, settings.routing_weights or {})
    reps = cache["reps"]
    if not reps:
        return None
    rep = reps[settings.routing_counter % len(reps)]
    settings.routing_counter = (settings.routing_counter + 1) % 1_000_000
    return rep


def prefetch_company_owners(org_id: int, contacts, settings: LeadSettings, cache: dict) -> None:
    """Read a batch's companies (the contact's, else its email domain's) and their account owners at once.

    `route` then answers from the cache what `company_for_email` and `company_owner` would;
    a lead routed to a company with no owner yet makes its owner the company's for the rest
    of the batch, as a committed earlier lead would.
    """
    if settings.routing == "round_robin":
        return
    contacts = list(contacts)
    company_of = {c.id: c.company for c in contacts}
    domains = {company_domain(c.email) for c in contacts if company_of[c.id] is None} - {""}
    if domains:
        by_domain: dict = {}
        for company in Company.query.filter(Company.org_id == org_id, Company.domain.in_(domains)).order_by(
                Company.id):
            by_domain.setdefault(company.domain, company)
        for c in contacts:
            company_of[c.id] = company_of[c.id] or by_domain.get(company_domain(c.email))
    ids = {company.id for company in company_of.values() if company is not None}
    owners: dict = dict.fromkeys(ids)
    why: dict = {}
    if ids:
        for company_id, owner_id in (db.session.query(Contact.company_id, Contact.owner_id)
                                     .join(User, User.id == Contact.owner_id)
                                     .filter(Contact.company_id.in_(ids), User.active.is_(True))
                                     .order_by(Contact.id.desc())):
            owners[company_id], why[company_id] = owner_id, CONTACTS  # the lowest id is written last
        for company_id, owner_id in (db.session.query(Deal.company_id, Deal.owner_id)
                                     .join(User, User.id == Deal.owner_id)
                                     .filter(Deal.company_id.in_(ids), Deal.status == "open", User.active.is_(True))
                                     .order_by(Deal.created_at)):
            owners[company_id], why[company_id] = owner_id, DEALS  # a deal's owner wins; the latest is written last
    cache.setdefault("company_of", {}).update(company_of)
    cache["company_owners"] = {**cache.get("company_owners", {}), **{k: _active(v) for k, v in owners.items()}}
    cache["company_owner_why"] = {**cache.get("company_owner_why", {}), **why}


def route(contact: Contact, settings: LeadSettings, cache: dict | None = None) -> User:
    """Give the lead its owner (keeping an active one), record why in words, and return it."""
    cache = {} if cache is None else cache
    owner = _active(contact.owner_id)
    owners = cache.get("company_owners")
    company_of = cache.get("company_of") or {}
    company = None
    because = contact.routed_because or "already the contact's owner"
    if owner is None and settings.routing != "round_robin":
        if owners is not None and contact.id in company_of:  # a batch: its companies and owners are known
            company = company_of[contact.id]
            owner = owners.get(company.id) if company is not None else None
            if owner is not None:
                because = _owner_of(company, cache.get("company_owner_why", {}).get(company.id, CONTACTS))
        else:
            company = contact.company or company_for_email(contact.org_id, contact.email)
            owner, because = company_owner_and_why(company) if company is not None else (None, because)
    if owner is None:
        owner = next_in_rotation(settings, cache)
        reps = len({rep.id for rep in cache.get("reps", [])})
        because = f"round robin among {reps} active rep{'' if reps == 1 else 's'}"
    if owner is None:
        owner = (User.query.filter_by(org_id=contact.org_id, role="admin", active=True)
                 .order_by(User.id).first())
        because = "no active rep to rotate to, so the first admin"
    contact.owner_id = owner.id
    contact.routed_because = because
    if owners is not None and company is not None and owners.get(company.id) is None:
        owners[company.id] = owner  # this lead's owner now owns the company for the batch
        cache.setdefault("company_owner_why", {})[company.id] = CONTACTS
    return owner


def clock_start(now: datetime, settings: LeadSettings) -> datetime:
    """When the response clock starts: now, or the next business opening when hours are set."""
    start, end = settings.hours_start, settings.hours_end
    if start is None or end is None or not settings.hours_days:
        return now
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    zone = org_zone(settings.org_id)
    local = now.replace(tzinfo=utc).astimezone(zone)
    days = {int(d) for d in settings.hours_days if d.isdigit()}
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.isoweekday() not in days:
            continue
        opening = datetime.combine(day, datetime.min.time()).replace(hour=start, tzinfo=zone)
        closing = (datetime.combine(day, datetime.min.time()) + timedelta(hours=end)).replace(tzinfo=zone)
        if local < opening:
            return opening.astimezone(utc).replace(tzinfo=None)
        if local < closing:
            return now
    return now
