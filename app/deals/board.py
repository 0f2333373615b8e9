"""Board queries: a fixed number of SQL statements whatever the number of deals.

Every column's count and total from the trigger-kept stage_tally (a GROUP BY over the
deals only when searching), one UNION ALL of per-stage keyset
pages (each an index range scan on ix_deal_board), and the organisation's users once
for initials. Missing exit facts are counted in Python from the loaded facts.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import abort, url_for
from sqlalchemy import Date, Integer, and_, bindparam, case, func, or_, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from app.deals.facts import is_met
from app.deals.neglect import neglected_clause, neglected_params
from app.deals.provenance import confirmed_by_buyer
from app.extensions import db
from app.ids import parse_id
from app.models import (
    Company,
    Deal,
    DealRoom,
    FieldDef,
    Pipeline,
    RoomStep,
    Stage,
    StageRequirement,
    StageTally,
    User,
    utcnow,
)
from app.models.accounts import initials_of
from app.statements import prebuilt
from app.tenancy import scoped

MAX_QUERY = 100


@dataclass
class Filters:
    owner_id: int | None = None  # None: everyone
    q: str = ""

    def args(self) -> dict:
        """Return the query-string form of these filters (for links and load-more)."""
        return {"owner": self.owner_id if self.owner_id else "all", "q": self.q or None}


@dataclass(slots=True)  # ~80 per board: slots make building and reading them cheaper
class Card:
    id: int
    title: str
    company: str | None
    amount: Decimal | None
    currency: str
    owner_id: int
    owner_name: str
    owner_initials: str
    stage_id: int
    stage_entered_at: datetime
    days: int
    overdue: bool
    missing: int
    next_step: str
    next_step_due: date | None
    version: int
    max_days: int = 0
    show_url: str = ""
    move_url: str = ""
    neglected: bool = False  # no open task and no activity for the stage's max days
    close_passed: date | None = None  # the expected close date, once it has passed on an open deal
    buyer_late: bool = False  # a buyer's step of the deal room is past its date (the board's pages only)
    # Closing discipline: in a stage that needs a dated next step, "late" (its date has passed) or "missing".
    next_step_flag: str | None = None

    @property
    def cursor(self) -> str:
        return f"{self.stage_entered_at.isoformat()}_{self.id}"


@dataclass
class Column:
    stage: object
    count: int = 0
    total: Decimal = Decimal(0)
    cards: list = None
    next_cursor: str | None = None


class BoardStage:
    """A stage as the board reads it: plain attributes, its exit fields as (key, type)."""

    __slots__ = ("id", "name", "kind", "position", "max_days", "exit_fields", "needs_next_step")

    def __init__(self, id, name, kind, position, max_days, needs_next_step=False):  # noqa: A002 - mirrors Stage.id
        self.id, self.name, self.kind, self.position, self.max_days = id, name, kind, position, max_days
        self.needs_next_step = bool(needs_next_step)
        self.exit_fields = []

    def required_fields(self, when):
        """The stage's active exit fields (the board counts only what a card lacks to exit)."""
        if when != "exit":
            raise ValueError("the board reads exit requirements only")
        return self.exit_fields


class BoardPipeline:
    """A pipeline as the board reads it: id, name, org and its active stages (BoardStage)."""

    __slots__ = ("id", "name", "org_id", "active_stages")

    def __init__(self, id, name, org_id):  # noqa: A002 - mirrors Pipeline.id
        self.id, self.name, self.org_id = id, name, org_id
        self.active_stages = []


@prebuilt
def _structure_statement():
    """Pipeline, active stages and their exit requirements' active fields, in one statement.

    Prebuilt: building and hashing a fresh ORM query with two eager loads per request cost
    more than its SQL. Outer joins keep a pipeline without stages (or a stage without exit
    requirements) in the result.
    """
    return (
        select(Pipeline.id, Pipeline.name, Pipeline.org_id, Stage.id, Stage.name, Stage.kind,
               Stage.position, Stage.max_days, FieldDef.key, FieldDef.type, StageRequirement.buyer,
               Stage.needs_next_step)
        .select_from(Pipeline)
        .outerjoin(Stage, and_(Stage.pipeline_id == Pipeline.id, Stage.archived.is_(False)))
        .outerjoin(StageRequirement, and_(StageRequirement.stage_id == Stage.id,
                                          StageRequirement.when == "exit"))
        .outerjoin(FieldDef, and_(FieldDef.id == StageRequirement.field_id, FieldDef.archived.is_(False)))
        .where(Pipeline.id == bindparam("pipeline_id"), Pipeline.org_id == bindparam("org_id"))
        .order_by(Stage.position, Stage.id, FieldDef.position)
    )


def load_board_structure(pipeline_id: int, org_id: int) -> BoardPipeline:
    """Read a pipeline of `org_id` with its active stages and their exit fields (one statement); 404 else."""
    rows = db.session.execute(_structure_statement(), {"pipeline_id": pipeline_id, "org_id": org_id}).all()
    if not rows:
        abort(404)
    pipeline = BoardPipeline(*rows[0][:3])
    stages = {}
    for _pid, _name, _org, stage_id, name, kind, position, max_days, key, type_, buyer, needs_next_step in rows:
        if stage_id is None:
            continue
        stage = stages.get(stage_id)
        if stage is None:
            stage = stages[stage_id] = BoardStage(stage_id, name, kind, position, max_days, needs_next_step)
            pipeline.active_stages.append(stage)
        if key is not None:
            stage.exit_fields.append(_Plain(key=key, type=type_, buyer=bool(buyer)))
    return pipeline


def load_structure(pipeline_id: int) -> Pipeline:
    """Load a pipeline of the actor's organisation with its stages, fields and requirements (3 queries).

    A move reads the structure once through this; the gate's lookups (deal.stage, a stage's
    required fields, the fields by key) then come from the session, never from more SQL.
    """
    return (
        scoped(Pipeline)
        .options(joinedload(Pipeline.stages), selectinload(Pipeline.fields),
                 selectinload(Pipeline.stages, Stage.requirements))
        .filter_by(id=pipeline_id)
        .first_or_404()
    )


@prebuilt
def _choices_statement():
    return (
        select(Pipeline.id, Pipeline.name)
        .where(Pipeline.org_id == bindparam("org_id"), Pipeline.archived.is_(False))
        .order_by(Pipeline.position, Pipeline.id)
    )


def pipeline_choices(org_id: int) -> list:
    """Return (id, name) of the organisation's active pipelines, for the switcher."""
    return db.session.execute(_choices_statement(), {"org_id": org_id}).all()


def parse_filters(args, actor) -> Filters:
    """Read owner and search from a query string; reps default to their own deals."""
    owner = (args.get("owner") or "").strip()
    if owner == "all":
        owner_id = None
    elif parse_id(owner):
        owner_id = parse_id(owner)
    else:
        owner_id = None if actor.has_role("manager") else actor.id
    return Filters(owner_id=owner_id, q=(args.get("q") or "").strip()[:MAX_QUERY])


def parse_cursor(raw):
    """Turn 'ISO-time_id' into (datetime, id); None when absent; ValueError when malformed."""
    if not raw:
        return None
    at, _, deal_id = str(raw)[:80].rpartition("_")
    return datetime.fromisoformat(at), int(deal_id)


def board_stages(pipeline: Pipeline) -> list:
    """Open stages in order, then won, then lost."""
    order = {"open": 0, "won": 1, "lost": 2}
    return sorted(pipeline.active_stages, key=lambda s: (order[s.kind], s.position, s.id))


# Statements are prebuilt per shape (stage count, which filters) with bound parameters:
# building a six-way UNION in SQLAlchemy costs more Python time than running it.
def _filtered(stmt, by_owner: bool, search: bool):
    stmt = stmt.where(Deal.org_id == bindparam("org_id"), Deal.pipeline_id == bindparam("pipeline_id"))
    if by_owner:
        stmt = stmt.where(Deal.owner_id == bindparam("owner_id"))
    if search:
        stmt = stmt.where(or_(Deal.title.ilike(bindparam("q"), escape="\\"),
                              Company.name.ilike(bindparam("q"), escape="\\")))
    return stmt


def _params(pipeline, filters) -> dict:
    params = {"org_id": pipeline.org_id, "pipeline_id": pipeline.id}
    if filters.owner_id:
        params["owner_id"] = filters.owner_id
    if filters.q:
        params["q"] = "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return params


@prebuilt
def _totals_statement(by_owner: bool, search: bool):
    stmt = (
        # count(*), not count(deal.id): the id is not in ix_deal_stage_totals, and asking
        # for it turned PostgreSQL's index-only scan into a read of every deal row.
        select(Deal.stage_id, func.count(), func.coalesce(func.sum(Deal.amount), 0))
        .select_from(Deal)
        .where(Deal.stage_id.in_(bindparam("stage_ids", expanding=True)))
        .group_by(Deal.stage_id)
    )
    if search:  # the company join only when searching by company name
        stmt = stmt.outerjoin(Company, Company.id == Deal.company_id)
    return _filtered(stmt, by_owner, search)


@prebuilt
def _tally_statement(by_owner: bool):
    """Column counts and totals from stage_tally (app/models/tally.py): a few rows per stage."""
    stmt = (
        select(StageTally.stage_id, func.sum(StageTally.deals), func.sum(StageTally.amount_cents))
        .where(StageTally.stage_id.in_(bindparam("stage_ids", expanding=True)),
               StageTally.org_id == bindparam("org_id"), StageTally.pipeline_id == bindparam("pipeline_id"))
        .group_by(StageTally.stage_id)
    )
    if by_owner:
        stmt = stmt.where(StageTally.owner_id == bindparam("owner_id"))
    return stmt


def column_totals(pipeline: Pipeline, filters: Filters, stages) -> dict:
    """Return {stage_id: (count, total)} for `stages` in one statement.

    Without a search the trigger-kept tally answers (O(stages x owners) rows, not O(deals)); a
    search by title or company needs the deals themselves: a GROUP BY over the matching ones.
    """
    params = {**_params(pipeline, filters), "stage_ids": [s.id for s in stages]}
    if not filters.q:
        rows = db.session.execute(_tally_statement(bool(filters.owner_id)), params)
        # Integer cents -> an exact Decimal with two places, like the sum of a Numeric(14, 2).
        return {row[0]: (int(row[1]), Decimal(int(row[2])).scaleb(-2)) for row in rows}
    rows = db.session.execute(_totals_statement(bool(filters.owner_id), True), params)
    return {row[0]: (row[1], Decimal(str(row[2] or 0))) for row in rows}


def _page_select(n, by_owner, search, after, dialect):
    # Whether the deal is neglected (no follow-up for the stage's max days) comes with its row:
    # a separate query for the overdue cards cost a statement and a round trip per render.
    neglected = case((neglected_clause(dialect, bindparam(f"max_days_{n}", type_=Integer)), True),
                     else_=False)
    # A buyer's step of the deal's room past its date, in the organisation's day (issue 20).
    late = (select(RoomStep.id).join(DealRoom, DealRoom.id == RoomStep.room_id)
            .where(DealRoom.deal_id == Deal.id, RoomStep.side == "buyer", RoomStep.status == "open",
                   RoomStep.due_on < bindparam("today", type_=Date)).exists())
    stmt = (
        select(*(Company.name.label("company") if name == "company" else getattr(Deal, name)
                 for name in CARD_COLUMNS), neglected.label("neglected"),
               case((late, True), else_=False).label("buyer_late"))
        .select_from(Deal)
        .outerjoin(Company, Company.id == Deal.company_id)
        .where(Deal.status == bindparam(f"kind_{n}"), Deal.stage_id == bindparam(f"stage_{n}"))
    )
    stmt = _filtered(stmt, by_owner, search)
    if after:
        at, deal_id = bindparam("after_at", type_=Deal.stage_entered_at.type), bindparam("after_id")
        stmt = stmt.where(or_(Deal.stage_entered_at < at,
                              and_(Deal.stage_entered_at == at, Deal.id < deal_id)))
    return (stmt.order_by(Deal.stage_entered_at.desc(), Deal.id.desc())
            .limit(bindparam("limit", type_=Integer, literal_execute=True)))


@prebuilt
def _pages_statement(dialect: str, count: int, by_owner: bool, search: bool, after: bool):
    selects = [_page_select(n, by_owner, search, after, dialect) for n in range(count)]
    return selects[0] if count == 1 else union_all(*[select(*sub.c) for sub in (s.subquery() for s in selects)])


class BoardUser:
    """A user as the board shows one: id, name, initials, active (no ORM instance per user)."""

    __slots__ = ("id", "name", "initials", "active")

    def __init__(self, id, name, email, active):  # noqa: A002 - mirrors User.id
        self.id, self.name, self.active = id, name, active
        self.initials = initials_of(name, email)


@prebuilt
def _users_statement():
    return (select(User.id, User.name, User.email, User.active)
            .where(User.org_id == bindparam("org_id")).order_by(User.name))


def board_users(org_id: int) -> dict:
    """Return the organisation's users by id as BoardUser, ordered by name (one statement)."""
    return {row[0]: BoardUser(*row) for row in db.session.execute(_users_statement(), {"org_id": org_id})}


_SENTINEL = "2147483647"


def _url_format(endpoint: str) -> str:
    """Return a str.format pattern of `endpoint`'s URL with the deal id as {}: url_for once per page."""
    url = url_for(endpoint, deal_id=int(_SENTINEL)).replace("{", "{{").replace("}", "}}")
    return url.replace(_SENTINEL, "{}")


def card_links() -> tuple:
    """The (show, move) URL patterns of cards, built once per request (url_for per card is slow)."""
    return _url_format("deals.show"), _url_format("deals.move")


class _Plain:
    """A plain stand-in for a user or a field: attribute reads without ORM instrumentation."""

    __slots__ = ("name", "initials", "key", "type", "buyer")

    def __init__(self, name="", initials="", key="", type="", buyer=False):  # noqa: A002 - mirrors FieldDef.type
        self.name, self.initials, self.key, self.type, self.buyer = name, initials, key, type, buyer


# The columns of a card's row, in the order of _page_select (and of deal_row for a loaded Deal).
CARD_COLUMNS = ("id", "title", "amount", "currency", "stage_id", "owner_id", "company", "facts",
                "stage_entered_at", "next_step", "next_step_due", "version", "expected_close_date", "facts_meta")
NEGLECTED = len(CARD_COLUMNS)  # the neglected flag comes after CARD_COLUMNS in the page query's rows
BUYER_LATE = NEGLECTED + 1  # then whether a buyer's room step is past its date


def deal_row(deal: Deal) -> tuple:
    """A loaded deal as the card query's row (CARD_COLUMNS order)."""
    return (deal.id, deal.title, deal.amount, deal.currency, deal.stage_id, deal.owner_id,
            deal.company.name if deal.company is not None else None, deal.facts, deal.stage_entered_at,
            deal.next_step, deal.next_step_due, deal.version, deal.expected_close_date, deal.facts_meta)


def exit_plain(stage) -> list:
    """A stage's exit fields as the card counts them: key, type and whether only a buyer meets it (a board's
    BoardStage knows it per field; a loaded Stage says it through buyer_keys)."""
    if isinstance(stage, BoardStage):
        return stage.exit_fields
    buyer = stage.buyer_keys("exit")
    return [_Plain(key=f.key, type=f.type, buyer=f.key in buyer) for f in stage.required_fields("exit")]


def make_card(row, stage, users: dict, exit_fields, now=None, links=None, today=None) -> Card:
    """Build a card from a card row (CARD_COLUMNS order), counting its missing exit facts.

    The row is unpacked by position: reading a SQLAlchemy Row's attributes by name cost ~0.4 µs
    each, over half of a card's build time on an 80-card board. `today` is the organisation's
    (default: UTC's), against which an expected close date has passed.
    """
    now = now or utcnow()
    show, move = links or card_links()
    (deal_id, title, amount, currency, stage_id, owner_id, company, facts, entered, next_step,
     next_step_due, version, close, meta) = row[:NEGLECTED]
    owner = users.get(owner_id)
    facts = facts or {}
    meta = meta or {}
    days = max(0, (now - entered).days)
    today = today or now.date()
    flag = None
    if stage.kind == "open" and getattr(stage, "needs_next_step", False):
        flag = "missing" if next_step_due is None else "late" if next_step_due < today else None
    return Card(
        id=deal_id, title=title, company=company, amount=amount, currency=currency, owner_id=owner_id,
        owner_name=owner.name if owner else "", owner_initials=owner.initials if owner else "?",
        stage_id=stage_id, stage_entered_at=entered, days=days,
        overdue=stage.kind == "open" and days > stage.max_days,
        # A won or lost deal has no stage to exit: no "1 fact to exit" on closed cards.
        # A fact only the buyer may confirm counts as missing until they have (whatever the rep typed).
        missing=sum(1 for f in exit_fields if not is_met(f, facts.get(f.key))
                    or (f.buyer and not confirmed_by_buyer(meta.get(f.key)))) if stage.kind == "open" else 0,
        next_step=next_step or "", next_step_due=next_step_due, version=version,
        max_days=stage.max_days, show_url=show.format(deal_id), move_url=move.format(deal_id),
        close_passed=close if close is not None and stage.kind == "open" and close < today else None,
        next_step_flag=flag,
    )


def load_cards(pipeline, stages, filters, users, limit, after=None, today=None) -> dict:
    """Return {stage_id: (cards, next_cursor)}: one keyset page per stage in one statement.

    `today`: the organisation's day, against which a card's expected close date has passed.
    """
    if not stages:
        return {}
    now, links = utcnow(), card_links()
    dialect = db.session.get_bind().dialect.name
    params = {**_params(pipeline, filters), **neglected_params(dialect, now), "limit": limit + 1,
              "today": today or now.date()}
    for n, stage in enumerate(stages):
        params[f"kind_{n}"], params[f"stage_{n}"], params[f"max_days_{n}"] = stage.kind, stage.id, stage.max_days
    if after is not None:
        params["after_at"], params["after_id"] = after
    by_stage = {s.id: [] for s in stages}
    shape = (dialect, len(stages), bool(filters.owner_id), bool(filters.q), after is not None)
    for row in db.session.execute(_pages_statement(*shape), params):
        by_stage[row[4]].append(row)  # stage_id (rows are read by position: see make_card)
    # Read each owner's name and initials once, not once per card.
    owners = {uid: _Plain(name=u.name, initials=u.initials) for uid, u in users.items()}
    result = {}
    for stage in stages:
        rows = sorted(by_stage[stage.id], key=lambda r: (r[8], r[0]), reverse=True)  # stage_entered_at, id
        exit_fields = exit_plain(stage)
        cards = []
        for row in rows[:limit]:
            card = make_card(row, stage, owners, exit_fields, now, links, today)
            # Only an open deal past its stage's max days (an overdue card) can be neglected.
            card.neglected = card.overdue and bool(row[NEGLECTED])
            card.buyer_late = stage.kind == "open" and bool(row[BUYER_LATE])
            cards.append(card)
        result[stage.id] = (cards, cards[-1].cursor if len(rows) > limit else None)
    return result


def load_board(pipeline: Pipeline, filters: Filters, users: dict, page_size: int, today=None) -> list:
    """Return the board's columns with their totals and first page of cards."""
    stages = board_stages(pipeline)
    totals = column_totals(pipeline, filters, stages)
    pages = load_cards(pipeline, stages, filters, users, page_size, today=today)
    columns = []
    for stage in stages:
        count, total = totals.get(stage.id, (0, Decimal(0)))
        cards, cursor = pages[stage.id]
        columns.append(Column(stage, count, total, cards, cursor))
    return columns


def card_for(deal: Deal, users: dict | None = None) -> Card:
    """Build the card of one loaded deal (after a move or an edit)."""
    users = users if users is not None else {deal.owner_id: deal.owner}
    return make_card(deal_row(deal), deal.stage, users, exit_plain(deal.stage))
