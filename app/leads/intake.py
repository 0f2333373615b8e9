"""The worker's side of form intake: stored submissions become leads a batch at a time.

One transaction per batch, set-based reads and writes: the pending rows are locked
(SKIP LOCKED, so two workers share the work), the batch's contacts are created in one
INSERT ... ON CONFLICT and locked in id order (as `scoring._locked` does one by one), the
companies, users and company owners are read once, and the arrival crossings, form_fill
activities, events, follow-up tasks and notifications are written in a handful of
multi-row statements. What each submission gets is what `process_submission` gave it one
at a time: a second submission of the same person in a batch waits for the next batch, so
it sees the first one's contact, score and crossings exactly as a sequential run would.
Rare paths (a crossing to MQL/hot, a high-intent form, a deal through the gate) call the
one scoring service and the deal service per lead.
"""

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from sqlalchemy import func, or_

from app.deals.service import create_deal
from app.errors import StagegateError
from app.extensions import db
from app.leads import scoring
from app.leads.routing import company_domain, prefetch_company_owners
from app.models import Activity, Company, Contact, Notification, Task, User, utcnow
from app.models.leads import ContactEvent, LeadForm, LeadSubmission
from app.queue import get_queue, get_redis
from app.statements import dialect_insert
from app.webhooks.events import emit, task_created
from app.webhooks.shapes import contact_json

BATCH = 250
WAKE_KEY = "stagegate:leads:intake-queued"


@dataclass
class Outcome:
    submission: LeadSubmission | None  # set once processed
    replay: bool = False
    notes: list = field(default_factory=list)


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def process_batch(ids=None, *, created_before=None, limit: int = BATCH) -> int:
    """Process up to `limit` pending submissions (of `ids` when given) in one transaction; return how many."""
    query = LeadSubmission.query.filter(LeadSubmission.status == "received", LeadSubmission.processed_at.is_(None))
    if ids is not None:
        query = query.filter(LeadSubmission.id.in_(list(ids)))
    if created_before is not None:
        query = query.filter(LeadSubmission.created_at <= created_before)
    query = query.order_by(LeadSubmission.id).limit(limit)
    if _postgres():
        query = query.with_for_update(skip_locked=True)
    pending = query.all()
    todo, seen = [], set()
    for submission in pending:
        person = (submission.org_id, ((submission.payload or {}).get("lead") or {}).get("email"))
        if person not in seen:  # the same person again: the next batch, after this one's lead exists
            seen.add(person)
            todo.append(submission)
    if not todo:
        db.session.rollback()
        return 0
    forms = {f.id: f for f in LeadForm.query.filter(LeadForm.id.in_({s.form_id for s in todo}))}
    by_org = defaultdict(list)
    for submission in todo:
        by_org[submission.org_id].append(submission)
    for org_id, submissions in sorted(by_org.items()):
        _process_org(org_id, submissions, forms)
    db.session.commit()
    return len(todo)


def _lead(submission) -> dict:
    return dict((submission.payload or {}).get("lead") or {})


def _arrived(submission):
    """When the lead arrives: when it was sent, or, for a held one, when someone accepted it."""
    return submission.reviewed_at or submission.created_at


def _contacts(org_id: int, submissions: list) -> tuple[dict, set]:
    """Create the batch's missing contacts in one statement; lock and load all of them (id order)."""
    first = {}
    for submission in submissions:
        first.setdefault(_lead(submission)["email"], submission)
    emails = list(first)
    known = {e for (e,) in db.session.query(Contact.email).filter(Contact.org_id == org_id, Contact.email.in_(emails))}
    rows = []
    for email, submission in first.items():
        if email in known:
            continue
        lead = _lead(submission)
        rows.append({"org_id": org_id, "email": email, "source": lead.get("source") or "",
                     "source_form_id": submission.form_id, "utm": lead.get("utm") or {},
                     "referrer": (submission.referrer or "")[:500], "lead_facts": {}})
    created = set()
    if rows:
        table = Contact.__table__
        created = {e for (e,) in db.session.execute(
            dialect_insert(table).on_conflict_do_nothing(index_elements=["org_id", "email"])
            .returning(table.c.email), rows)}
    query = Contact.query.filter(Contact.org_id == org_id, Contact.email.in_(emails)).order_by(Contact.id)
    if _postgres():
        query = query.with_for_update(of=Contact)
    contacts = {c.email: c for c in query.populate_existing()}
    return contacts, created


def _companies(org_id: int, contacts: dict, submissions: list) -> tuple[dict, dict]:
    """The org's companies the batch can match, by lower-case name and by domain (lowest id first)."""
    names = {(_lead(s).get("company") or "").lower() for s in submissions} - {""}
    domains = {company_domain(e) for e in contacts} - {""}
    ids = {c.company_id for c in contacts.values() if c.company_id}
    by_name, by_domain = {}, {}
    if names or domains or ids:
        for company in Company.query.filter(Company.org_id == org_id, or_(
                func.lower(Company.name).in_(names or [""]), Company.domain.in_(domains or [""]),
                Company.id.in_(ids or [-1]))).order_by(Company.id):
            by_name.setdefault(company.name.lower(), company)
            if company.domain:
                by_domain.setdefault(company.domain, company)
    return by_name, by_domain


def _company_for(org_id, lead, email, by_name, by_domain) -> Company | None:
    """`service._company` over the batch's preloaded companies: by name, then domain; created once."""
    name = lead.get("company") or ""
    domain = company_domain(email)
    company = by_name.get(name.lower()) if name else None
    company = company or (by_domain.get(domain) if domain else None)
    if company is None and name:
        company = Company(org_id=org_id, name=name, domain=domain)
        db.session.add(company)
        by_name[name.lower()] = company
        if domain:
            by_domain.setdefault(domain, company)
    if company is not None:
        if domain and not company.domain:
            company.domain = domain
            by_domain.setdefault(domain, company)
        if lead.get("industry") and not company.industry:
            company.industry = lead["industry"]
        if lead.get("company_size") and not company.size:
            company.size = lead["company_size"]
    return company


def _update_contact(contact: Contact, lead: dict, company: Company | None) -> None:
    """`service.upsert_contact`'s updates, on a loaded contact."""
    from app.leads.service import apply_lead_fields

    apply_lead_fields(contact, lead)
    if company is not None and contact.company_id is None:
        contact.company = company


def _process_org(org_id: int, submissions: list, forms: dict) -> None:
    rules = scoring.load_rules(org_id)
    settings = rules.settings
    now = utcnow()
    contacts, created = _contacts(org_id, submissions)
    by_name, by_domain = _companies(org_id, contacts, submissions)
    people = {}
    for submission in submissions:
        lead = _lead(submission)
        contact = contacts[lead["email"]]
        _update_contact(contact, lead, _company_for(org_id, lead, lead["email"], by_name, by_domain))
        people[submission.id] = contact
    db.session.flush()  # new companies get their ids
    rules.cache["users"] = User.query.filter_by(org_id=org_id).all()  # routing's lookups hit the identity map
    prefetch_company_owners(org_id, contacts.values(), settings, rules.cache)

    # Arrival: route each lead and start its clock, one crossing per submission (unique key).
    arrivals = dict(zip((s.id for s in submissions), scoring.fire_crossings(
        [scoring.CrossingSpec(people[s.id], "arrival", _arrived(s), f"arrival:sub:{s.id}") for s in submissions],
        settings, rules.cache), strict=True))

    points = rules.engagement.get("form_fill", (0, None))[0]
    for submission in submissions:
        form, contact = forms[submission.form_id], people[submission.id]
        at = min(_arrived(submission), now)
        db.session.add(Activity(org_id=org_id, contact_id=contact.id, kind="form_fill", at=submission.created_at,
                                body=(f"Filled in “{form.name}”. " + (submission.payload or {}).get("answers", ""))
                                [:10_000], unique_key=f"form:{submission.id}"))
        db.session.add(ContactEvent(org_id=org_id, contact_id=contact.id, type="form_fill", at=at, points=points))
    db.session.flush()

    # Score every lead from its events (one read), then apply it through the one scoring service.
    since = now - timedelta(days=settings.lapse_days)
    events = defaultdict(list)
    for contact_id, kind, at in (db.session.query(ContactEvent.contact_id, ContactEvent.type, ContactEvent.at)
                                 .filter(ContactEvent.contact_id.in_([c.id for c in contacts.values()]),
                                         ContactEvent.at > since)):
        events[contact_id].append((kind, at))
    results, crossings = {}, []
    for submission in submissions:
        contact = people[submission.id]
        result = scoring.score_contact(scoring.fit_facts(contact), events[contact.id], rules, now)
        scoring.apply_score(contact, result, rules, now, crossings)
        results[submission.id] = result
    # A lead that a form made an MQL is followed up when the form says (its clock honours business hours).
    delays = {people[s.id].id: timedelta(minutes=forms[s.form_id].follow_up_minutes) for s in submissions}
    for spec in crossings:
        if spec.kind == "mql":
            spec.follow_up = delays.get(spec.contact.id)
    scoring.fire_crossings(crossings, settings, rules.cache)
    follow_ups = []
    for submission in submissions:
        form, contact, result = forms[submission.form_id], people[submission.id], results[submission.id]
        arrival = arrivals[submission.id]
        if form.high_intent and not result.hot:
            scoring.fire_crossing(contact, "hot", _arrived(submission), settings, high_intent=True,
                                  key=f"hot:sub:{submission.id}", cache=rules.cache)
        elif not result.crossed and arrival is not None:
            follow_ups.append((form, contact, arrival, (submission.payload or {}).get("message", "")))
        submission.contact_id = contact.id
        submission.created_new = contact.email in created  # one submission per person per batch
        submission.processed_at = now
    _follow_ups(org_id, follow_ups)
    for email in sorted(created):
        contact = contacts[email]
        emit(org_id, "lead.created", lambda contact=contact: {"contact": contact_json(contact)})
    for submission in submissions:
        form = forms[submission.form_id]
        if form.stage_id:
            db.session.flush()
            submission.deal_id = form_deal(form, people[submission.id], (submission.payload or {}).get("facts") or {},
                                       Outcome(submission))


def _follow_ups(org_id: int, items: list) -> None:
    """The follow-up task and notification of each arrival that crossed nothing (as `_follow_up` did)."""
    if not items:
        return
    tasks = []
    for form, contact, arrival, message in items:
        task = Task(org_id=org_id, owner_id=arrival.owner_id, contact_id=contact.id, kind="lead_follow_up",
                    title=f"Follow up: {contact.name or contact.email} filled in {form.name}"[:200],
                    due_at=(arrival.clock_at or arrival.at) + timedelta(minutes=form.follow_up_minutes),
                    notes=message[:2000], unique_key=f"task:{arrival.unique_key}")
        tasks.append(task)
        db.session.add(task)
        task_created(task)
        db.session.add(Notification(org_id=org_id, user_id=arrival.owner_id, kind="lead_form",
                                    text=f"New lead from {form.name}: {contact.name or contact.email}"[:300],
                                    url=f"/contacts/{contact.id}", unique_key=f"notify:{arrival.unique_key}"))
    db.session.flush()
    scoring.link_tasks([(arrival, task) for (_f, _c, arrival, _m), task in zip(items, tasks, strict=True)])


def wake_intake() -> None:
    """Queue one intake job unless one is already waiting to start (a flood makes one job, not thousands).

    Redis carries the wake-up only: if it is lost, the sweep processes the stored rows.
    """

    try:
        if get_redis().set(WAKE_KEY, "1", nx=True, ex=60):
            get_queue().enqueue("app.jobs.process_lead_submissions")  # by name: services never import jobs
    except redis.RedisError:
        pass


def process_all_pending(limit: int = 100_000) -> int:
    """The intake job: process stored submissions, a batch per transaction, until none is left."""

    with contextlib.suppress(redis.RedisError):  # Redis down: the sweep still finds the rows
        get_redis().delete(WAKE_KEY)  # from now on a new submission queues a new wake-up
    done = 0
    while done < limit:
        processed = process_batch()
        done += processed
        if not processed:
            break  # none left, or every one is locked by another worker: it will finish them
    return done


def process_submission(submission_id: int) -> bool:
    """Turn one stored submission into the lead: contact, clock and owner, event, task, deal. Once only."""

    return process_batch([submission_id]) == 1


def process_pending(now=None, older_than: timedelta = timedelta(minutes=1), limit: int = 500) -> int:
    """Process submissions the queue lost (the database, not Redis, says what is due)."""

    before = (now or utcnow()) - older_than
    done = 0
    while done < limit:
        processed = process_batch(created_before=before, limit=min(BATCH, limit - done))
        done += processed
        if not processed:
            break
    return done


def form_deal(form: LeadForm, contact, facts: dict, outcome: Outcome) -> int | None:
    """Create the form's deal through the gate; a refusal keeps the lead and notes why on its timeline."""
    owner = contact.owner
    if owner is None:
        db.session.refresh(contact)
        owner = contact.owner
    company = contact.company
    title = f"{company.name if company else (contact.name or contact.email)} — {form.name}"[:200]
    try:
        deal = create_deal(form.pipeline, owner, title=title, stage=form.stage, owner=owner, facts=facts,
                           contact=contact, company=company, commit=False, source="form")
    except StagegateError as exc:
        note = f"No deal was created from “{form.name}”: {exc.message}"
        outcome.notes.append(note)
        db.session.add(Activity(org_id=form.org_id, contact_id=contact.id, kind="note", body=note[:10_000]))
        return None
    return deal.id
