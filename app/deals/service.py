"""The gate: the one place a deal's stage changes, and the deal writes around it.

Every path (board, deal page, API, import, jobs) calls these functions. They take
explicit arguments, never read the request, own their transaction, and raise the
domain errors of app/errors.py, which each caller turns into a form, a flash or a JSON body.
"""

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm.exc import StaleDataError

from app.deals.facts import FactError, is_met, parse_contact, parse_fact, parse_facts, split_contact
from app.deals.history import record_changes, tracked_values
from app.deals.provenance import confirmed_by_buyer, entry, stamp
from app.errors import Conflict, Forbidden, GateRefused, Invalid, StagegateError
from app.extensions import db
from app.models import (
    Contact,
    Deal,
    DealContact,
    LossReason,
    Notification,
    Stage,
    StageTransition,
    Task,
    iso,
    utcnow,
)
from app.text import NOT_TEXT, clean_day, clean_title, is_text
from app.webhooks.events import emit, task_created
from app.webhooks.shapes import deal_json

MAX_TITLE = 200
MAX_REASON = 2000
MAX_ID = 2**31 - 1  # ids are 32-bit integers; a bigger one names nothing (and must not reach the database)
OTHER = "Other"  # how a loss reason that is not on the organisation's list is reported
UNDO_REASON = "Undo of the previous move"  # on the deal's history like any other move
# Deal.amount is Numeric(14, 2): twelve digits before the point.
MAX_AMOUNT = Decimal("1e12")


@dataclass(frozen=True)
class Requirement:
    stage: Stage
    field: object
    when: str  # "entry" | "exit"
    buyer: bool = False  # met only by the buyer's confirmation (or an override with a reason)

    def as_missing(self) -> dict:
        missing = {
            "field": self.field.key,
            "label": self.field.label,
            "when": self.when,
            "stage_id": self.stage.id,
        }
        if self.buyer:
            missing["buyer"] = True
        return missing

    def met(self, facts: dict, meta: dict | None) -> bool:
        """Whether the deal's facts (and, for a buyer requirement, where the fact came from) meet it."""
        key = self.field.key
        if not is_met(self.field, (facts or {}).get(key)):
            return False
        return not self.buyer or confirmed_by_buyer((meta or {}).get(key))

    def snapshot(self, facts: dict, meta: dict | None = None) -> dict:
        """The requirement as a move saw it: met or not, and where the fact that met it came from (the
        audit says "confirmed by dana@… on 3 Dec"; a move record keeps it whatever happens to the fact)."""
        met = self.met(facts, meta)
        shot = {**self.as_missing(), "stage": self.stage.name, "met": met}
        record = (meta or {}).get(self.field.key) if met else None
        if record:
            shot["source"] = {k: record[k] for k in ("source", "by", "at", "reason") if record.get(k)}
        return shot


def stage_requirements(stage: Stage, when: str) -> list:
    """The requirements `stage` sets on `when` ('entry' or 'exit'), each knowing whether only a buyer meets it."""
    buyer = stage.buyer_keys(when)
    return [Requirement(stage, f, when, f.key in buyer) for f in stage.required_fields(when)]


@dataclass
class MovePlan:
    kind: str
    requirements: list = field(default_factory=list)
    refusal: str | None = None  # a rule refusal (no skips) that only an override lifts


def plan_move(deal: Deal, to_stage: Stage) -> MovePlan:
    """Work out the kind of a move and every requirement it checks; raise Invalid if impossible."""
    pipeline = deal.pipeline
    if to_stage.pipeline_id != deal.pipeline_id or to_stage.org_id != deal.org_id:
        raise Invalid({"stage_id": "is not a stage of this deal's pipeline"})
    if to_stage.archived:
        raise Invalid({"stage_id": "is archived"})
    if to_stage.id == deal.stage_id:
        raise Invalid({"stage_id": "is the deal's current stage"})
    current = deal.stage
    if to_stage.kind == "lost":
        if current.kind != "open":
            raise Invalid({"stage_id": "reopen the deal before closing it again"})
        return MovePlan("close")  # a loss needs a reason, no facts
    opens = pipeline.open_stages
    if current.kind != "open":
        if to_stage.kind != "open":
            raise Invalid({"stage_id": "reopen the deal before closing it again"})
        # A reopen re-enters the pipeline: it never skips the gate.
        return MovePlan("reopen", requirements_from_start(pipeline, to_stage))
    if to_stage.kind == "open" and to_stage.position < current.position:
        return MovePlan("backward")
    # Forward (or to Won): the current stage's exit, every skipped stage, the target's entry.
    between = [s for s in opens if current.position < s.position < to_stage.position] if to_stage.kind == "open" \
        else [s for s in opens if s.position > current.position]
    reqs = stage_requirements(current, "exit")
    for stage in between:
        reqs += stage_requirements(stage, "entry") + stage_requirements(stage, "exit")
    reqs += stage_requirements(to_stage, "entry")
    kind = "close" if to_stage.kind == "won" else ("skip" if between else "forward")
    refusal = None
    if between and not pipeline.allow_skip:
        names = ", ".join(s.name for s in between)
        refusal = f"This pipeline does not allow skipping stages ({names})."
    return MovePlan(kind, reqs, refusal)


def once_per_fact(requirements) -> list:
    """The requirements with each fact once (a move can ask for one fact at several stages)."""
    seen, unique = set(), []
    for r in requirements:
        if r.field.key not in seen:
            seen.add(r.field.key)
            unique.append(r)
    return unique


def missing_for_move(deal: Deal, to_stage: Stage) -> list:
    """What the deal's stored facts lack for this move, each fact once: what the move dialog asks."""
    return once_per_fact([r for r in plan_move(deal, to_stage).requirements
                          if not r.met(deal.facts, deal.facts_meta)])


def facts_asked(deal: Deal, stages) -> dict:
    """How many facts a move to each of `stages` would ask for: {stage_id: count}, asking stages only.

    The gate's own reckoning (missing_for_move) per stage, for the "Move to…" menus; a stage the
    deal cannot move to as it is (its own, a closed one from a closed deal) is left out.
    """
    asked = {}
    for stage in stages:
        if stage.id == deal.stage_id:
            continue
        try:
            count = len(missing_for_move(deal, stage))
        except Invalid:
            continue
        if count:
            asked[stage.id] = count
    return asked


def entry_requirements(stage: Stage) -> list:
    return stage_requirements(stage, "entry")


def _path_from_start(pipeline, stage: Stage) -> list:
    """The stages a deal walks through from the pipeline's start to `stage`, `stage` last.

    A lost stage is reached from anywhere without facts, so its path is itself alone.
    """
    if stage.kind == "lost":
        return [stage]
    before = [s for s in pipeline.open_stages
              if s.id != stage.id and (stage.kind != "open" or s.position < stage.position)]
    return [*before, stage]


def requirements_from_start(pipeline, stage: Stage) -> list:
    """What a deal entering `stage` from outside the pipeline (created, imported, reopened) must meet.

    A skip from the pipeline's start: every earlier open stage's entry and exit criteria, then
    `stage`'s entry criteria. A pipeline that forbids skips still accepts it with all of them.
    """
    *before, last = _path_from_start(pipeline, stage)
    reqs = []
    for s in before:
        reqs += entry_requirements(s) + stage_requirements(s, "exit")
    return reqs + entry_requirements(last)


def furthest_stage(pipeline, stage: Stage, facts: dict):
    """Return the furthest stage, up to `stage`, that a new deal with these stored facts may enter.

    None when even the pipeline's first open stage asks for a fact the deal lacks. A new deal has no
    buyer's confirmation, so a requirement only a buyer meets stops it.
    """
    facts = facts or {}

    def met(s, when):
        return all(r.met(facts, {}) for r in stage_requirements(s, when))

    reached = None
    for s in _path_from_start(pipeline, stage):
        if not met(s, "entry"):
            break
        reached = s
        if s.id == stage.id or not met(s, "exit"):
            break
    return reached


def parse_new_facts(pipeline, raw_facts) -> tuple[dict, dict]:
    """Parse a new deal's sent facts; return (stored facts without blanks, {key: error})."""
    clean, errors = parse_facts(_fields_by_key(pipeline), raw_facts or {})
    return {k: v for k, v in clean.items() if v is not None}, errors


def exit_missing(deal: Deal, required: list | None = None) -> list:
    """Return the current stage's exit requirements the deal does not meet (board badge). `required`: the
    stage's `stage_requirements(stage, "exit")` when the caller already has them (a list over thousands of
    deals reads them once)."""
    requirements = stage_requirements(deal.stage, "exit") if required is None else required
    return [r.field for r in requirements if not r.met(deal.facts, deal.facts_meta)]


def _fields_by_key(pipeline) -> dict:
    return {f.key: f for f in pipeline.fields}


def _merge_facts(deal_facts: dict, pipeline, raw_facts) -> dict:
    """Validate sent facts and merge them over the deal's; raise Invalid naming each bad one."""
    if raw_facts is None:
        return dict(deal_facts or {})
    clean, errors = parse_facts(_fields_by_key(pipeline), raw_facts)
    if errors:
        raise Invalid(errors, "Some facts are not valid.")
    return _overlay(deal_facts, clean)


def _overlay(deal_facts: dict, clean: dict) -> dict:
    """Return the deal's facts with parsed `clean` values set over them (None clears one)."""
    merged = dict(deal_facts or {})
    for key, value in clean.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _refusal_message(missing) -> str:
    labels = ", ".join(f"{r.field.label} ({r.stage.name} {r.when}"
                       f"{', confirmed by the buyer in the deal room' if r.buyer else ''})" for r in missing)
    return f"Missing: {labels}."


def _record(actor, source: str, reason: str = "") -> dict:
    """The provenance record of facts `actor` writes now through `source` (rep, api, import, form)."""
    return entry(source, actor.email, utcnow(), reason)


def _fact_contact(org_id: int, owner_id, value: str) -> tuple:
    """Find the contact a fact names (by email, else by name) or create it; return (contact, created)."""
    name, email, role = split_contact(value)
    query = Contact.query.filter_by(org_id=org_id)
    if email:
        contact = query.filter_by(email=email).first()
    else:
        contact = query.filter(db.func.lower(Contact.name) == name.lower()).order_by(Contact.id).first()
    if contact is None:
        contact = Contact(org_id=org_id, email=email or None, name=name, title=role, owner_id=owner_id)
        db.session.add(contact)
        db.session.flush()
        return contact, True
    # Fill what the contact lacks; never overwrite what someone typed on the contact.
    contact.name = contact.name or name
    contact.title = contact.title or role
    return contact, False


def _link_contacts(deal: Deal, pipeline, facts: dict, before: dict | None = None) -> None:
    """Make each contact-with-role fact a real contact with that role on the deal.

    Facts unchanged since `before` (the deal's facts as they were) were linked when recorded.
    """
    before = before or {}
    for f in pipeline.fields:
        value = facts.get(f.key) if f.type == "contact" else None
        if not value or value == before.get(f.key):  # linked when it was recorded
            continue
        contact, created = _fact_contact(deal.org_id, deal.owner_id, value)
        role = f.contact_role or "influencer"
        exists = None if created else \
            DealContact.query.filter_by(deal_id=deal.id, contact_id=contact.id, role=role).first()
        if exists is None:
            db.session.add(DealContact(org_id=deal.org_id, deal_id=deal.id, contact_id=contact.id, role=role))


def _check_version(deal: Deal, version) -> None:
    if version is None:
        return
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise Invalid({"version": "must be a whole number"}) from None
    if version != deal.version:
        raise Conflict(deal.id)


def _commit(deal_id: int) -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(deal_id) from None


def can_edit(deal: Deal, actor) -> bool:
    """Reps work their own deals; managers and admins any deal of their organisation."""
    return actor.org_id == deal.org_id and (deal.owner_id == actor.id or actor.has_role("manager"))


def _check_time(at, not_before: datetime | None, name: str):
    if at is None:
        return None
    if not isinstance(at, datetime):
        raise Invalid({name: "must be a date and time"})
    if at.tzinfo is not None:  # stored times are naive UTC; an aware one must not crash the compare
        at = at.astimezone(UTC).replace(tzinfo=None)
    if at > utcnow():
        raise Invalid({name: "must be in the past"})
    if not_before is not None and at < not_before:
        raise Invalid({name: "must not be before the deal's latest stage change"})
    return at


def move_deal(
    deal: Deal,
    to_stage: Stage,
    actor,
    *,
    facts: dict | None = None,
    version=None,
    reason: str = "",
    loss_reason_id: int | None = None,
    override_reason: str = "",
    at: datetime | None = None,
    undo: bool = False,
    source: str = "rep",
) -> StageTransition:
    """Move a deal to `to_stage` if the gate passes, saving sent facts in the same transaction.

    `undo` marks the move as taking back the previous one: without a reason of its own it is
    recorded with UNDO_REASON (a loss still needs its loss reason). `source` says where sent facts
    come from (rep, api, import, form): their provenance in `facts_meta`.
    """
    if undo and to_stage.kind != "lost" and not reason:
        reason = UNDO_REASON
    with _refusal_rolls_back(deal.id):
        return _move(deal, to_stage, actor, facts, version, reason, loss_reason_id, override_reason, at, source)


@contextmanager
def _refusal_rolls_back(deal_id: int):
    """Roll back a refused change; a concurrent writer's commit seen by any flush is a Conflict."""
    try:
        yield
    except StagegateError:
        db.session.rollback()
        raise
    except StaleDataError:
        # Another session committed this deal first; any autoflush (not only the final
        # commit) can be where the version check fires.
        db.session.rollback()
        raise Conflict(deal_id) from None


def _move(deal, to_stage, actor, facts, version, reason, loss_reason_id, override_reason, at, source="rep"):
    if not can_edit(deal, actor):
        raise Forbidden("Only the deal's owner or a manager can move it.")
    _check_version(deal, version)
    plan = plan_move(deal, to_stage)
    pipeline = deal.pipeline
    merged = _merge_facts(deal.facts, pipeline, facts)
    reason = _clean_reason(reason, "reason")
    override_reason = _clean_reason(override_reason, "override_reason")
    loss_reason, loss_other = None, ""
    if to_stage.kind == "lost":
        loss_reason, loss_other = _resolve_loss_reason(deal.org_id, loss_reason_id, reason, plan.kind, to_stage)
        reason = reason or loss_reason.label
    meta = stamp(deal.facts_meta, deal.facts, merged, _record(actor, source))
    missing = [r for r in plan.requirements if not r.met(merged, meta)]
    overridden = False
    if missing or plan.refusal:
        message = " ".join(filter(None, [plan.refusal, _refusal_message(missing) if missing else ""]))
        if not override_reason:
            raise GateRefused(message, missing, {}, plan.kind, to_stage)
        if not actor.has_role("manager"):
            raise Forbidden("Only an admin or a manager can override the gate.")
        overridden = True
        meta = _overridden(meta, missing, merged, actor, override_reason)
    when = utcnow()
    if at is not None:  # the latest transition only matters for a back-dated move
        latest = db.session.query(db.func.max(StageTransition.at)).filter_by(deal_id=deal.id).scalar()
        when = _check_time(at, latest, "at") or when
    from_stage = deal.stage
    stay_began = deal.stage_entered_at  # when from_stage was entered: the stay this move ends (reports)
    before = dict(deal.facts or {})
    deal.facts = merged
    deal.facts_meta = meta
    deal.stage = to_stage
    deal.stage_entered_at = when
    deal.status = to_stage.kind if to_stage.kind != "open" else "open"
    deal.closed_at = when if to_stage.kind != "open" else None
    deal.loss_reason = loss_reason if to_stage.kind == "lost" else None
    deal.loss_reason_other = loss_other or None
    transition = StageTransition(
        org_id=deal.org_id,
        deal_id=deal.id,
        from_stage_id=from_stage.id,
        from_entered_at=stay_began,
        to_stage_id=to_stage.id,
        kind="override" if overridden else plan.kind,
        user_id=actor.id,
        at=when,
        facts=dict(merged),  # its own copy: history must not follow later edits of the deal
        criteria=[r.snapshot(merged, meta) for r in plan.requirements],
        reason=override_reason if overridden else reason,
        override=overridden,
    )
    db.session.add(transition)
    _link_contacts(deal, pipeline, merged, before)
    db.session.flush()
    if to_stage.kind == "won":
        _create_handoff(deal, transition)
    _emit_move(deal, transition)
    _commit_move(deal)
    return transition


def _emit_move(deal: Deal, transition: StageTransition) -> None:
    """deal.moved (with the transition's facts and criteria), and deal.won or deal.lost when it closed the deal."""
    emit(deal.org_id, "deal.moved", lambda: {
        "deal": deal_json(deal), "from_stage_id": transition.from_stage_id, "to_stage_id": transition.to_stage_id,
        "kind": transition.kind, "facts": transition.facts, "criteria": transition.criteria,
        "reason": transition.reason or None, "at": iso(transition.at)})
    if deal.status == "won":
        emit(deal.org_id, "deal.won", lambda: {"deal": deal_json(deal)})
    elif deal.status == "lost":
        emit(deal.org_id, "deal.lost", lambda: {"deal": deal_json(deal), "reason": transition.reason})


def _overridden(meta: dict, missing, facts: dict, actor, reason: str) -> dict:
    """Mark the buyer facts an override let through as overridden, with its reason: a later move
    (back and forward again) finds them met, and the facts panel says who overrode them and why."""
    meta = dict(meta)
    for r in missing:
        if r.buyer and is_met(r.field, facts.get(r.field.key)):
            meta[r.field.key] = entry("override", actor.email, utcnow(), reason)
    return meta


def _commit_move(deal: Deal) -> None:
    """Commit a move without expiring anything: nothing in the session went stale.

    A move changes the deal, its history and (for a win) tasks; it never changes the pipeline,
    its stages, fields and requirements, or the actor. Every column the move wrote on the deal
    (stage, facts, times, version) was set here in Python, so the deal in memory is what the
    database holds; Deal has no collections that could have changed under it. Expiring on commit
    made the reply re-read the deal and the next move reload the whole structure.
    """
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        _commit(deal.id)
    finally:
        session.expire_on_commit = expire


def _clean_reason(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid({name: "must be text"})
    value = value.strip()
    if len(value) > MAX_REASON:
        raise Invalid({name: f"must be at most {MAX_REASON} characters"})
    try:
        value.encode("utf-8")  # a lone surrogate ("\ud800") is not text any database can store
    except UnicodeEncodeError:
        raise Invalid({name: "must be valid Unicode text (it contains a lone surrogate)"}) from None
    return value


def _resolve_loss_reason(org_id, loss_reason_id, reason, kind, stage) -> tuple:
    """Return (listed reason or None, other text) for a loss; refuse a loss without any reason.

    A reason chosen by id, or a text equal to a listed label (any case), is that listed reason.
    Any other non-empty text is "Other" with that text (the organisation's own listed "Other" if it
    has one), so integrations and migrations with their own wording are not refused.
    """
    if loss_reason_id not in (None, ""):
        try:
            loss_reason_id = int(loss_reason_id)
        except (TypeError, ValueError):
            raise Invalid({"loss_reason": "is not one of this organisation's loss reasons"}) from None
        found = LossReason.query.filter_by(id=loss_reason_id, org_id=org_id, archived=False).first() \
            if 1 <= loss_reason_id <= MAX_ID else None
        if found is None:
            raise Invalid({"loss_reason": "is not one of this organisation's loss reasons"})
        return found, ""
    if reason:
        listed = {r.label.lower(): r for r in LossReason.query.filter_by(org_id=org_id, archived=False)}
        found = listed.get(reason.lower())
        return (found, "") if found is not None else (listed.get(OTHER.lower()), reason)
    raise GateRefused("A reason is required to close a deal as lost: choose one from the list or describe it.",
                      [], {"reason": "is required"}, kind, stage)


def _create_handoff(deal: Deal, transition: StageTransition) -> None:
    """Give the onboarding owner a hand-off task and a notification (once per win)."""
    owner_id = deal.pipeline.handoff_user_id or deal.owner_id
    key = f"handoff:{transition.id}"
    task = Task(
        org_id=deal.org_id, owner_id=owner_id, deal_id=deal.id, kind="handoff",
        title=f"Onboarding hand-off: {deal.title}", unique_key=key,
        notes=str((deal.facts or {}).get("onboarding_handoff", "")), due_at=utcnow(),
    )
    db.session.add(task)
    task_created(task)
    db.session.add(Notification(
        org_id=deal.org_id, user_id=owner_id, kind="handoff", unique_key=key,
        text=f"{deal.title} was won: hand-off to onboarding",
        url=f"/deals/{deal.id}",
    ))


def _parse_amount(amount):
    if amount is None or (isinstance(amount, str) and not amount.strip()):  # blank means no amount
        return None
    try:
        value = Decimal(parse_fact(_MONEY, amount))
    except FactError as exc:
        raise Invalid({"amount": str(exc)}) from None
    if value >= MAX_AMOUNT:
        raise Invalid({"amount": "must be below 1,000,000,000,000"})
    return value


class _Money:
    type = "money"
    min_value = max_value = pattern = None
    future_only = False


_MONEY = _Money()
CLOSE_YEARS = (1970, 2100)  # an expected close date outside these is a typo, not a plan
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def clean_close_date(value, name: str = "expected_close_date") -> date | None:
    """Return an expected close date from a date or "YYYY-MM-DD" text (blank: None); raise Invalid naming `name`.

    Only that one spelling: Python also reads "20261103" and "2026-W45-2" as dates, which a person
    reading the API's answer or the page would not recognise as what they sent.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        text = value.strip() if isinstance(value, str) else ""
        try:
            value = date.fromisoformat(text) if _DAY.fullmatch(text) else None
        except ValueError:
            value = None
        if value is None:
            raise Invalid({name: "must be a date (YYYY-MM-DD), e.g. 2026-11-03"})
    if not CLOSE_YEARS[0] <= value.year <= CLOSE_YEARS[1]:
        raise Invalid({name: f"must be a date from {CLOSE_YEARS[0]} to {CLOSE_YEARS[1]}"})
    return value


def _clean_person(person, contact, errors: dict) -> str | None:
    """The deal's person as a contact fact stores it ("Dana Ortiz <dana@acme.com>, CFO"); None when blank."""
    if person is None or (isinstance(person, str) and not person.strip()):
        return None
    if contact is not None:
        errors["person"] = "give a contact or a person, not both"
        return None
    if isinstance(person, str) and not is_text(person):
        errors["person"] = NOT_TEXT
        return None
    try:
        return parse_contact(person)
    except FactError as exc:
        errors["person"] = str(exc)
        return None




def create_deal(
    pipeline,
    actor,
    *,
    title: str,
    stage: Stage | None = None,
    owner=None,
    amount=None,
    currency: str | None = None,
    facts: dict | None = None,
    contact: Contact | None = None,
    company=None,
    created_at: datetime | None = None,
    stage_entered_at: datetime | None = None,
    reason: str = "",
    override_reason: str = "",
    loss_reason_id: int | None = None,
    commit: bool = True,
    person: str | None = None,
    expected_close_date=None,
    source: str = "rep",
) -> Deal:
    """Create a deal in `stage` (default: the first open stage) if the gate from the pipeline's start passes.

    `person` names the deal's contact as a contact fact does ("Dana Ortiz, CFO", "dana@acme.com"):
    found by email, else by name, else added, and only once the gate lets the deal in (a refusal
    adds no one). Give `contact` or `person`, not both.

    commit=False leaves the transaction to the caller (e.g. an import committing rows in batches):
    the deal is only flushed, inside a savepoint, and a refusal or error rolls back that savepoint
    alone, never the caller's other work in the session.
    """
    extra = {"person": person, "expected_close_date": expected_close_date, "source": source}
    if not commit:
        with db.session.begin_nested():  # any exception rolls back this savepoint and re-raises
            return _create(pipeline, actor, title, stage, owner, amount, currency, facts, contact,
                           created_at, stage_entered_at, reason, override_reason, loss_reason_id, company,
                           commit=False, **extra)
    try:
        return _create(pipeline, actor, title, stage, owner, amount, currency, facts, contact,
                       created_at, stage_entered_at, reason, override_reason, loss_reason_id, company, **extra)
    except StagegateError:
        db.session.rollback()
        raise


def _create(pipeline, actor, title, stage, owner, amount, currency, facts, contact,
            created_at, stage_entered_at, reason, override_reason, loss_reason_id, company=None, commit=True,
            person=None, expected_close_date=None, source="rep"):
    if actor.org_id != pipeline.org_id:
        raise Forbidden("Only people of this organisation can create its deals.")
    errors = {}
    try:
        title = clean_title(title, MAX_TITLE)
    except Invalid as exc:
        errors.update(exc.fields)
    try:
        amount = _parse_amount(amount)
    except Invalid as exc:
        errors.update(exc.fields)
    stage = stage or (pipeline.open_stages[0] if pipeline.open_stages else None)
    if stage is None or stage.pipeline_id != pipeline.id or stage.archived:
        errors["stage_id"] = "is not an active stage of this pipeline"
    owner = owner or actor
    if owner.org_id != pipeline.org_id or not owner.active:
        errors["owner_email"] = "is not an active user of this organisation"
    elif owner.id != actor.id and not actor.has_role("manager"):
        errors["owner_email"] = "only a manager can create deals for someone else"
    currency = currency or pipeline_currency(pipeline)
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        errors["currency"] = "must be a three-letter currency code"
    else:
        currency = currency.upper()
    if contact is not None and contact.org_id != pipeline.org_id:
        errors["contact_id"] = "is not a contact of this organisation"
    person = _clean_person(person, contact, errors)
    try:
        expected_close_date = clean_close_date(expected_close_date)
    except Invalid as exc:
        errors.update(exc.fields)
    if company is not None and company.org_id != pipeline.org_id:
        errors["company_id"] = "is not a company of this organisation"
    for name, value in (("reason", reason), ("override_reason", override_reason)):
        try:
            _clean_reason(value, name)
        except Invalid as exc:
            errors.update(exc.fields)
    try:
        created_at = _check_time(created_at, None, "created_at")
        stage_entered_at = _check_time(stage_entered_at, created_at, "stage_entered_at")
    except Invalid as exc:
        errors.update(exc.fields)
    merged, fact_errors = parse_new_facts(pipeline, facts)
    errors.update(fact_errors)
    if errors:
        raise Invalid(errors)
    reason = _clean_reason(reason, "reason")
    override_reason = _clean_reason(override_reason, "override_reason")
    reqs = requirements_from_start(pipeline, stage)  # creating in a later stage skips from the start
    meta = stamp({}, {}, merged, _record(actor, source))
    missing = [r for r in reqs if not r.met(merged, meta)]
    loss_reason, loss_other = None, ""
    if stage.kind == "lost":
        loss_reason, loss_other = _resolve_loss_reason(pipeline.org_id, loss_reason_id, reason, "create", stage)
        reason = reason or loss_reason.label
    overridden = False
    if missing:
        if not override_reason:
            raise GateRefused(_refusal_message(missing), missing, {}, "create", stage)
        if not actor.has_role("manager"):
            raise Forbidden("Only an admin or a manager can override the gate.")
        overridden = True
        meta = _overridden(meta, missing, merged, actor, override_reason)
    now = utcnow()
    # A deal cannot be created after it entered its first stage.
    created_at = created_at or stage_entered_at or now
    entered = stage_entered_at or created_at
    if person:  # the gate let the deal in: only now may a typed person become a contact
        contact, _ = _fact_contact(pipeline.org_id, owner.id, person)
    deal = Deal(
        org_id=pipeline.org_id, pipeline=pipeline, stage=stage, owner_id=owner.id, title=title,
        amount=amount, currency=currency, facts=merged, facts_meta=meta, status=stage.kind,
        contact_id=contact.id if contact else None, company_id=company.id if company else None,
        created_at=created_at, stage_entered_at=entered,
        closed_at=entered if stage.kind != "open" else None, loss_reason=loss_reason,
        loss_reason_other=loss_other or None, expected_close_date=expected_close_date,
    )
    db.session.add(deal)
    db.session.flush()
    transition = StageTransition(
        org_id=deal.org_id, deal_id=deal.id, from_stage_id=None, to_stage_id=stage.id,
        kind="override" if overridden else "create", user_id=actor.id, at=entered,
        facts=dict(merged), criteria=[r.snapshot(merged, meta) for r in reqs],
        reason=override_reason if overridden else reason, override=overridden,
    )
    db.session.add(transition)
    _link_contacts(deal, pipeline, merged)
    db.session.flush()
    if stage.kind == "won":  # created straight into Won (e.g. an import): onboarding still hears of it
        _create_handoff(deal, transition)
    emit(deal.org_id, "deal.created", lambda: {"deal": deal_json(deal)})
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return deal


def pipeline_currency(pipeline) -> str:
    from app.models import Organization

    return db.session.get(Organization, pipeline.org_id).currency


KEEP = object()  # update_deal(company=KEEP): leave the deal's company as it is


def update_deal(deal: Deal, actor, *, version, title=None, amount=None, facts=None,
                next_step=None, next_step_due=None, company=KEEP, expected_close_date=KEEP, source="rep") -> Deal:
    """Edit a deal's title, amount, company, expected close date and facts; a fact its current stage
    requires cannot be cleared. `expected_close_date`: a date, "YYYY-MM-DD", or None or "" to clear it.
    `source` (rep, api, import) is the provenance the changed facts get."""
    with _refusal_rolls_back(deal.id):
        if not can_edit(deal, actor):
            raise Forbidden("Only the deal's owner or a manager can edit it.")
        if version is None:
            raise Invalid({"version": "is required"})
        _check_version(deal, version)
        # Load these before changing anything: a lazy load mid-edit autoflushes (a second version bump).
        deal.pipeline, deal.stage  # noqa: B018
        before = tracked_values(deal)
        errors = {}
        if title is not None:
            try:
                deal.title = clean_title(title, MAX_TITLE)
            except Invalid as exc:
                errors.update(exc.fields)
        if amount is not None:
            try:
                deal.amount = _parse_amount(amount)
            except Invalid as exc:
                errors.update(exc.fields)
        if next_step is not None:
            if len(str(next_step)) > 200:
                errors["next_step"] = "must be at most 200 characters"
            else:
                deal.next_step = str(next_step).strip()
        if next_step_due is not None:
            try:
                deal.next_step_due = clean_day(next_step_due, "next_step_due", "must be a date (YYYY-MM-DD)")
            except Invalid as exc:
                errors.update(exc.fields)
        if expected_close_date is not KEEP:
            try:
                deal.expected_close_date = clean_close_date(expected_close_date)
            except Invalid as exc:
                errors.update(exc.fields)
        if company is not KEEP:  # a Company of the deal's organisation, or None to clear it
            if company is not None and company.org_id != deal.org_id:
                errors["company_id"] = "is not a company of this organisation"
            else:
                deal.company_id = company.id if company is not None else None
        merged = deal.facts or {}
        if facts is not None:
            # Each fact is judged on its own: a bad one is reported, and the good ones sent with
            # it are checked at their new values (not the old ones), so none gets a wrong error.
            clean, fact_errors = parse_facts(_fields_by_key(deal.pipeline), facts)
            errors.update(fact_errors)
            merged = _overlay(deal.facts, clean)
            # Requirements the deal already passed to be where it is stay met.
            for f in deal.stage.required_fields("entry"):
                if f.key in clean and not is_met(f, merged.get(f.key)):
                    errors[f.key] = f"is required while the deal is in {deal.stage.name}"
        if errors:
            raise Invalid(errors)
        deal.facts_meta = stamp(deal.facts_meta, deal.facts, merged, _record(actor, source))
        deal.facts = merged
        _link_contacts(deal, deal.pipeline, merged)
        record_changes(deal, actor, before)
        emit(deal.org_id, "deal.updated", lambda: {"deal": deal_json(deal)})
        _commit(deal.id)
        return deal


BUYER_TYPES = ("checkbox", "date", "choice", "contact", "email", "text", "long_text")  # what a buyer's tick can say


def buyer_value(field, name: str, email: str, due_on: date | None = None):
    """The value a buyer's confirmation writes for `field`: a tick is true, a date the step's day (else
    today), a choice its first option ("Accepted"), a person the buyer; None for a field a tick cannot fill."""
    if field.type == "checkbox":
        return True
    if field.type == "date":
        return (due_on or utcnow().date()).isoformat()
    if field.type == "choice":
        return (field.choices or [None])[0]
    if field.type == "contact":
        return f"{name} <{email}>"
    if field.type == "email":
        return email
    if field.type in ("text", "long_text"):
        return f"Confirmed by {name} <{email}>"
    return None


def record_buyer_fact(deal: Deal, key: str, name: str, email: str, due_on: date | None = None) -> bool:
    """Write the fact `key` as the buyer confirmed it in the deal room; never move the deal.

    The caller (the room's confirmation) owns the transaction: the fact, its provenance ("buyer", by
    the invitee's email) and the step are committed together. Return False when the deal's pipeline
    has no such active field, or its type is not one a confirmation can fill.
    """
    field = next((f for f in deal.pipeline.active_fields if f.key == key), None)
    value = buyer_value(field, name, email, due_on) if field is not None else None
    if value is None:
        return False
    try:
        value = parse_fact(field, value)
    except FactError:
        return False
    before = dict(deal.facts or {})
    merged = {**before, key: value}
    meta = dict(deal.facts_meta or {})
    meta[key] = entry("buyer", email, utcnow())
    deal.facts = merged
    deal.facts_meta = meta
    _link_contacts(deal, deal.pipeline, merged, before)
    return True


def withdraw_buyer_fact(deal: Deal, key: str) -> bool:
    """Take back a fact the buyer confirmed (a document they acknowledged has a new version to confirm);
    a fact a rep typed or an override is left alone. The caller owns the transaction. Never moves the deal:
    the next move's gate asks for the new confirmation."""
    meta = dict(deal.facts_meta or {})
    if (meta.get(key) or {}).get("source") != "buyer":
        return False
    facts = dict(deal.facts or {})
    facts.pop(key, None)
    meta.pop(key, None)
    deal.facts, deal.facts_meta = facts, meta
    return True


def next_stage(deal: Deal):
    """The stage a forward move would go to next: the next open stage, else the pipeline's won stage."""
    later = [s for s in deal.pipeline.open_stages if s.position > deal.stage.position]
    return later[0] if later else deal.pipeline.stage_by_kind("won")


def ready_for(deal: Deal, stage) -> bool:
    """Whether the gate would let the deal move to `stage` as it stands (nothing missing, no rule refusal)."""
    try:
        plan = plan_move(deal, stage)
    except Invalid:
        return False
    return plan.refusal is None and all(r.met(deal.facts, deal.facts_meta) for r in plan.requirements)
