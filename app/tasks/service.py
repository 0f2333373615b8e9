"""Tasks, notifications and stale-deal reminders: the follow-through reps forget.

Plain functions with explicit arguments; each owns its transaction and raises
the errors of app/errors.py: Invalid (bad input, naming each field) or Forbidden (role rules).
"""

import calendar
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    cast,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import joinedload

from app.deals.neglect import neglected_clause, neglected_params
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import (
    Contact,
    Deal,
    Notification,
    Stage,
    Task,
    User,
    org_zone,
    utcnow,
)
from app.statements import dialect, dialect_insert, prebuilt
from app.text import clean_day, clean_title
from app.timezones import to_utc
from app.webhooks.events import subscribed_orgs, task_created, task_done

MAX_TITLE = 200
MAX_NOTES = 2000
KINDS = {
    "follow_up": "Follow-up",
    "call": "Call",
    "linkedin": "LinkedIn",
    "email": "Email",
    "stale_reminder": "Stale deal",
    "handoff": "Hand-off",
    "lead_follow_up": "Lead follow-up",
    "hot_lead": "Hot lead",
    "criteria_review": "Criteria review",
}
CREATABLE_KINDS = ("follow_up", "call", "linkedin", "email")
SNOOZES = {"1d": timedelta(days=1), "1w": timedelta(days=7)}
DUE_HOUR = 9  # a task due on a day is due at 09:00 in the organisation's time zone
DONE_RECENTLY = timedelta(days=7)
OPEN_LIMIT = 500


# ---------------------------------------------------------------- time in the org's zone

def today_bounds(zone: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Return the start of today and of tomorrow in `zone`, as naive UTC."""
    now = now or utcnow()
    local_today = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()
    start = datetime.combine(local_today, datetime.min.time())
    return to_utc(start, zone), to_utc(start + timedelta(days=1), zone)


def due_on(day: date, zone: ZoneInfo) -> datetime:
    """A task due on `day` is due at 09:00 that day in the organisation's zone."""
    return to_utc(datetime.combine(day, datetime.min.time()).replace(hour=DUE_HOUR), zone)


def local_day(value: datetime, zone: ZoneInfo) -> date:
    return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()


# ---------------------------------------------------------------- reading tasks

# Speed-to-lead: a hot lead's task is answered in minutes, so it goes above everything else.
SPEED_KINDS = ("hot_lead",)


@dataclass
class TaskGroups:
    overdue: list
    today: list
    upcoming: list
    done: list
    truncated: bool = False
    speed: list = field(default_factory=list)  # hot leads due by the end of today, overdue first

    @property
    def open_count(self) -> int:
        return len(self.speed) + len(self.overdue) + len(self.today) + len(self.upcoming)


def _with_links(query):
    return query.options(joinedload(Task.deal), joinedload(Task.contact), joinedload(Task.owner))


def task_groups(owner: User, now: datetime | None = None) -> TaskGroups:
    """Sort the owner's open tasks into overdue, today and upcoming, plus recently done ones."""
    now = now or utcnow()
    start, tomorrow = today_bounds(org_zone(owner.org_id), now)
    open_tasks = _with_links(Task.query.filter_by(org_id=owner.org_id, owner_id=owner.id)) \
        .filter(Task.done_at.is_(None)) \
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(OPEN_LIMIT + 1).all()
    truncated = len(open_tasks) > OPEN_LIMIT
    groups = TaskGroups([], [], [], [], truncated)
    for task in open_tasks[:OPEN_LIMIT]:  # soonest first, so each group is in due order
        if task.kind in SPEED_KINDS and (task.due_at is None or task.due_at < tomorrow):
            groups.speed.append(task)
        elif task.due_at is not None and task.due_at < start:
            groups.overdue.append(task)
        elif task.due_at is not None and task.due_at < tomorrow:
            groups.today.append(task)
        else:
            groups.upcoming.append(task)
    groups.done = _with_links(Task.query.filter_by(org_id=owner.org_id, owner_id=owner.id)) \
        .filter(Task.done_at >= now - DONE_RECENTLY) \
        .order_by(Task.done_at.desc(), Task.id.desc()).limit(20).all()
    return groups


def open_tasks_for(org_id: int, deal_id: int | None = None, contact_id: int | None = None) -> list:
    """Return the open tasks on one deal or one contact, soonest first."""
    query = _with_links(Task.query.filter_by(org_id=org_id)).filter(Task.done_at.is_(None))
    if deal_id is not None:
        query = query.filter(Task.deal_id == deal_id)
    elif contact_id is not None:
        query = query.filter(Task.contact_id == contact_id)
    else:
        return []
    return query.order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(50).all()


def assignable_users(org_id: int) -> list:
    return User.query.filter_by(org_id=org_id, active=True).order_by(User.name, User.id).all()


def find_owner(actor: User, owner_id) -> User:
    """Return the organisation's user whose task list `actor` asked to see."""
    try:
        owner_id = int(owner_id)
    except (TypeError, ValueError):
        raise Invalid({"owner": "is not a person in your organisation"}) from None
    owner = db.session.get(User, owner_id)
    if owner is None or owner.org_id != actor.org_id:
        raise Invalid({"owner": "is not a person in your organisation"})
    if owner.id != actor.id and not actor.has_role("manager"):
        raise Forbidden("Only managers can see someone else's tasks.")
    return owner


# ---------------------------------------------------------------- changing tasks



def create_task(actor: User, *, title, kind="follow_up", due=None, deal_id=None,
                contact_id=None, owner_id=None, notes="") -> Task:
    """Create a task (for the actor unless a manager names another owner) on a deal or contact."""
    errors = {}
    try:
        title = clean_title(title, MAX_TITLE)
    except Invalid as exc:
        errors.update(exc.fields)
    if kind not in CREATABLE_KINDS:
        errors["kind"] = "must be one of " + ", ".join(KINDS[k] for k in CREATABLE_KINDS)
    zone = org_zone(actor.org_id)
    try:
        day = clean_day(due, "due")
        if day is not None and day < local_day(utcnow(), zone) - timedelta(days=1):
            errors["due"] = "must be today or later"
    except Invalid as exc:
        errors.update(exc.fields)
        day = None
    deal = contact = None
    if deal_id not in (None, ""):
        deal = _tenant_row(Deal, deal_id, actor.org_id)
        if deal is None:
            errors["deal_id"] = "is not a deal of your organisation"
    if contact_id not in (None, ""):
        contact = _tenant_row(Contact, contact_id, actor.org_id)
        if contact is None:
            errors["contact_id"] = "is not a contact of your organisation"
    owner = actor
    if owner_id not in (None, "") and str(owner_id) != str(actor.id):
        owner = _tenant_row(User, owner_id, actor.org_id)
        if owner is None or not owner.active:
            errors["owner_id"] = "is not an active person in your organisation"
        elif not actor.has_role("manager"):
            errors["owner_id"] = "only a manager can create tasks for someone else"
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        errors["notes"] = f"must be at most {MAX_NOTES} characters"
    if errors:
        raise Invalid(errors)
    task = Task(
        org_id=actor.org_id, owner_id=owner.id, kind=kind, title=title, notes=notes,
        deal_id=deal.id if deal else None,
        contact_id=contact.id if contact else (deal.contact_id if deal else None),
        due_at=due_on(day, zone) if day else None,
    )
    db.session.add(task)
    if owner.id != actor.id:
        _notify_assigned(task, actor, owner)
    task_created(task)
    db.session.commit()
    return task


def _tenant_row(model, row_id, org_id):
    try:
        row_id = int(row_id)
    except (TypeError, ValueError):
        return None
    row = db.session.get(model, row_id)
    return row if row is not None and row.org_id == org_id else None


def _check_can_work(task: Task, actor: User) -> None:
    if task.org_id != actor.org_id:  # routes load through get_or_404; this guards other callers
        raise Forbidden("That task is not in your organisation.")
    if task.owner_id != actor.id and not actor.has_role("manager"):
        raise Forbidden("Only the task's owner or a manager can change it.")


def complete_task(task: Task, actor: User) -> Task:
    """Mark a task done (doing it twice keeps the first time)."""
    _check_can_work(task, actor)
    if task.done_at is None:
        task.done_at = utcnow()
        task_done(task)
        db.session.commit()
    return task


def reopen_task(task: Task, actor: User) -> Task:
    """Undo a completion."""
    _check_can_work(task, actor)
    if task.done_at is not None:
        task.done_at = None
        db.session.commit()
    return task


def snooze_task(task: Task, actor: User, choice: str, on_date=None) -> Task:
    """Push a task's due time on by a day, a week, or to a chosen date."""
    _check_can_work(task, actor)
    now = utcnow()
    zone = org_zone(actor.org_id)
    if choice in SNOOZES:
        due = max(task.due_at or now, now) + SNOOZES[choice]
    elif choice == "date":
        day = clean_day(on_date, "on_date")
        if day is None:
            raise Invalid({"on_date": "pick the date to snooze until"})
        if day < local_day(now, zone):
            raise Invalid({"on_date": "must be today or later"})
        due = due_on(day, zone)
    else:
        raise Invalid({"until": "choose 1 day, 1 week or a date"})
    task.due_at = due
    db.session.commit()
    return task


def reassign_task(task: Task, actor: User, owner_id) -> Task:
    """Give a task to another active person of the organisation (reps: only their own tasks)."""
    _check_can_work(task, actor)
    owner = _tenant_row(User, owner_id, actor.org_id)
    if owner is None or not owner.active:
        raise Invalid({"owner_id": "is not an active person in your organisation"})
    if owner.id == task.owner_id:
        return task
    task.owner_id = owner.id
    task.owner = owner
    if owner.id != actor.id:
        _notify_assigned(task, actor, owner)
    db.session.commit()
    return task


def _notify_assigned(task: Task, actor: User, owner: User) -> None:
    db.session.add(Notification(
        org_id=task.org_id, user_id=owner.id, kind="assigned",
        text=f"{actor.name} gave you a task: {task.title}"[:300], url="/tasks/",
    ))


# ---------------------------------------------------------------- notifications

@prebuilt
def _header_statement():
    unread = (select(func.count(Notification.id))
              .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))
              .scalar_subquery())
    hot = (select(func.count(func.distinct(Task.contact_id)))
           .where(Task.owner_id == bindparam("user_id"), Task.kind.in_(SPEED_KINDS), Task.done_at.is_(None))
           .scalar_subquery())
    return select(unread, hot)


def header_counts(user: User) -> tuple[int, int]:
    """The header's two numbers in one statement, on every page: (unread notifications, hot leads waiting)."""
    unread, hot = db.session.execute(_header_statement(), {"user_id": user.id}).one()
    return unread or 0, hot or 0


def recent_notifications(user: User, limit: int = 50) -> list:
    """The user's latest notifications; a stale notice also says where its deal is now (`now_in`)."""
    items = Notification.query.filter_by(org_id=user.org_id, user_id=user.id) \
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit).all()
    _say_where_stale_deals_are_now(user.org_id, items)
    return items


def _say_where_stale_deals_are_now(org_id: int, items) -> None:
    """Set `now_in` on stale notices: the stage their deal is in now, which may not be the one named (one query)."""
    stay = {}  # notification -> (deal id, stage id when it went stale), from 'stale:<deal>:<stage>:<micros>'
    for item in items:
        parts = (item.unique_key or "").split(":") if item.kind == "stale" else []
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            stay[item] = (int(parts[1]), int(parts[2]))
    if not stay:
        return
    rows = db.session.execute(
        select(Deal.id, Deal.stage_id, Stage.name, Stage.kind).join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.org_id == org_id, Deal.id.in_({deal_id for deal_id, _ in stay.values()}))
    ).all()
    now = {row.id: row for row in rows}
    for item, (deal_id, stage_id) in stay.items():
        row = now.get(deal_id)
        if row is None:
            item.now_in = "The deal has been deleted."
        elif row.kind != "open":
            item.now_in = f"Since closed: now in {row.name}."
        elif row.stage_id != stage_id:
            item.now_in = f"Moved on: now in {row.name}."
        else:
            item.now_in = f"Still in {row.name}."


def mark_read(notification: Notification, actor: User) -> Notification:
    """Mark one of the actor's own notifications read."""
    if notification.user_id != actor.id:
        raise Forbidden("That notification is someone else's.")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification


def mark_all_read(actor: User) -> int:
    """Mark every unread notification of the actor read; return how many."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.org_id == actor.org_id,
               Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount or 0


# ---------------------------------------------------------------- stale deals

def _now_literal(now: datetime):
    return literal(now, db.DateTime)


def _older_than_max_days(column, now: datetime):
    """SQL: `column` lies more than the deal's stage max_days before `now`."""
    if dialect() == "postgresql":
        return column < _now_literal(now) - func.make_interval(0, 0, 0, Stage.max_days)
    return func.julianday(now.strftime("%Y-%m-%d %H:%M:%S.%f")) - func.julianday(column) > Stage.max_days


def _stay_key():
    """SQL: 'stale:<deal id>:<stage id>:<stage_entered_at in epoch microseconds>' (one per stay)."""
    entered = Deal.stage_entered_at
    if dialect() == "postgresql":
        micros = cast(cast(func.floor(func.extract("epoch", entered) * 1000000), BigInteger), String)
    else:  # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite
        micros = func.strftime("%s", entered).op("||")(func.substr(entered, 21, 6))
    return (literal("stale:").op("||")(cast(Deal.id, String)).op("||")(":")
            .op("||")(cast(Deal.stage_id, String)).op("||")(":").op("||")(micros))


def stay_key(deal: Deal) -> str:
    """The unique key of the deal's current stay in its stage (as the sweep computes it)."""
    micros = calendar.timegm(deal.stage_entered_at.timetuple()) * 1_000_000 + deal.stage_entered_at.microsecond
    return f"stale:{deal.id}:{deal.stage_id}:{micros}"


def sweep_stale(now: datetime | None = None, pause: float = 0.0) -> dict:
    """Remind each owner once per stale stay (task + notification); close reminders whose stay ended.

    Set-based and idempotent: the stay's unique key makes a second run, or a concurrent
    worker, insert nothing. `pause` holds the transaction open (the kill-mid-sweep test).
    """
    now = now or utcnow()
    key = _stay_key().label("unique_key")
    title = func.substr(
        literal("").op("||")(Deal.title).op("||")(" has been in ").op("||")(Stage.name)
        .op("||")(" over ").op("||")(cast(Stage.max_days, String)).op("||")(" days"), 1, MAX_TITLE)
    stale = (
        select(
            Deal.org_id, Deal.owner_id, Deal.id, Deal.contact_id, literal("stale_reminder"),
            title, literal("Move it on, close it, or plan the next step."),
            _now_literal(now), key, _now_literal(now),
        )
        .join(Stage, Stage.id == Deal.stage_id)
        .where(
            Deal.status == "open",
            Stage.kind == "open",
            _older_than_max_days(Deal.stage_entered_at, now),
            ~exists().where(Task.unique_key == _stay_key()),
        )
    )
    if dialect() == "postgresql":
        # A deal being moved right now is skipped; the next tick sees its new stay.
        stale = stale.with_for_update(skip_locked=True, of=Deal)
    columns = ["org_id", "owner_id", "deal_id", "contact_id", "kind", "title", "notes",
               "due_at", "unique_key", "created_at"]
    created = db.session.execute(
        dialect_insert(Task.__table__).from_select(columns, stale)
        .on_conflict_do_nothing(index_elements=["unique_key"]),
        execution_options={"preserve_rowcount": True},
    ).rowcount or 0
    if pause:
        print(f"stale sweep pid={os.getpid()}: {created} reminders inserted, pausing {pause}s",
              file=sys.stderr, flush=True)
        time.sleep(pause)
    fresh = select(
        Task.org_id, Task.owner_id, literal("stale"), func.substr(Task.title, 1, 300),
        literal("/deals/").op("||")(cast(Task.deal_id, String)), Task.unique_key, _now_literal(now),
    ).where(Task.kind == "stale_reminder", Task.created_at == _now_literal(now))
    db.session.execute(
        dialect_insert(Notification.__table__)
        .from_select(["org_id", "user_id", "kind", "text", "url", "unique_key", "created_at"], fresh)
        .on_conflict_do_nothing(index_elements=["unique_key"])
    )
    if created:
        _emit_reminders_created(now)
    current_stay = exists().where(Deal.id == Task.deal_id, Deal.status == "open",
                                  _stay_key() == Task.unique_key)
    resolved = db.session.execute(
        update(Task)
        .where(Task.kind == "stale_reminder", Task.done_at.is_(None), ~current_stay)
        .values(done_at=now)
        .execution_options(synchronize_session=False, preserve_rowcount=True)
    ).rowcount or 0
    db.session.commit()
    return {"created": created, "resolved": resolved}


@dataclass
class StaleDeal:
    deal: Deal
    days_in_stage: int
    days_over: int


def _emit_reminders_created(now: datetime) -> None:
    """task.created for the reminders this sweep inserted, in the organisations that subscribe to it."""
    orgs = subscribed_orgs("task.created")
    if orgs:
        for task in Task.query.filter(Task.kind == "stale_reminder", Task.created_at == _now_literal(now),
                                      Task.org_id.in_(orgs)).order_by(Task.id):
            task_created(task)


def stale_by_owner(org_id: int, now: datetime | None = None, limit: int = 1000) -> list:
    """Return [(owner, [StaleDeal...])] for open deals past their stage's max days, worst first."""
    now = now or utcnow()
    rows = (
        Deal.query.join(Stage, Stage.id == Deal.stage_id)
        .options(joinedload(Deal.owner), joinedload(Deal.stage))
        .filter(Deal.org_id == org_id, Deal.status == "open", Stage.kind == "open",
                _older_than_max_days(Deal.stage_entered_at, now))
        .order_by(Deal.stage_entered_at, Deal.id).limit(limit).all()
    )
    by_owner: dict[int, tuple] = {}
    for deal in rows:
        days_in = (now - deal.stage_entered_at).days
        entry = by_owner.setdefault(deal.owner_id, (deal.owner, []))
        entry[1].append(StaleDeal(deal, days_in, max(1, days_in - deal.stage.max_days)))
    return sorted(by_owner.values(), key=lambda e: (-len(e[1]), e[0].name))


@prebuilt
def _neglected_statement(dialect_name: str):
    return (
        select(Deal.id).join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.org_id == bindparam("org_id"), Deal.id.in_(bindparam("ids", expanding=True)),
               Deal.status == "open", neglected_clause(dialect_name, Stage.max_days))
    )


def neglected_deal_ids(org_id: int, deal_ids, now: datetime | None = None) -> set[int]:
    """Return which of `deal_ids` are open and neglected (`neglected_clause`) for their stage's max days.

    One query, built once per dialect. (The board asks the same inside its card query.)
    """
    ids = [int(i) for i in deal_ids]
    if not ids:
        return set()
    name = dialect()
    params = {"org_id": org_id, "ids": ids, **neglected_params(name, now or utcnow())}
    return set(db.session.execute(_neglected_statement(name), params).scalars())
