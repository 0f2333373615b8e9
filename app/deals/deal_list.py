"""The deals list: every deal as a row, filtered, searched, sorted by any column and paged.

Statements are prebuilt per shape, as the board's are (app/statements.py): which filters apply,
which sort, which dialect; values go in as bound parameters. A render reads the organisation's
pipelines and stages once (one statement), counts the matching deals (from the trigger-kept
stage_tally when only pipeline, stage, owner and status filter, as the board's column heads do),
and reads one page of rows in one statement: an inner select orders and cuts the page from the
deal's own columns (the sort key and the id), and only those rows are joined to their company,
stage and latest activity (a deferred join), so a page of 50 never works out 10,000 rows' extras.

Paging is by OFFSET, capped at MAX_ROWS rows deep. The list sorts by any of nine columns, in
both directions, including computed ones (missing facts, last activity) and nullable ones; a
keyset cursor per column would be a cursor format per sort, where a page number is what people
bookmark and share ("page 3 of the stale list"). The cap bounds what OFFSET costs (it reads the
rows it skips); past it, narrowing the filters is the answer, and the page says so.
"""

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    DateTime,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from app.deals.board import card_links
from app.deals.facts import is_met
from app.deals.neglect import neglected_clause, neglected_params
from app.deals.provenance import confirmed_by_buyer
from app.extensions import db
from app.formatting import exact, money, relative
from app.ids import parse_id
from app.models import (
    Activity,
    Company,
    Contact,
    Deal,
    DealContact,
    FieldDef,
    Pipeline,
    Stage,
    StageRequirement,
    StageTally,
    User,
    utcnow,
)
from app.pipelines.fact_sql import key_value, unmet
from app.statements import prebuilt
from app.text import is_text, page_number

PAGE_SIZES = (25, 50, 100)
DEFAULT_PER = 50
MAX_ROWS = 5000  # the deepest row a page reaches (OFFSET's cost); past it, filter instead
MAX_QUERY = 100
SORTS = {"title": "Deal", "stage": "Stage", "owner": "Owner", "amount": "Amount", "status": "Status",
         "close": "Expected close", "days": "Days in stage", "activity": "Last activity",
         "missing": "Missing facts"}
DEFAULT_SORT = "close"  # what closes next, soonest first
STATUSES = {"open": "Open", "won": "Won", "lost": "Lost", "all": "Any status"}
CLOSE_PERIODS = {"this_month": "This month", "next_month": "Next month", "this_quarter": "This quarter",
                 "next_quarter": "Next quarter", "past": "Past due", "none": "Not set"}
_KIND_RANK = {"open": 0, "won": 1, "lost": 2}


# ---------------------------------------------------------------- the organisation's structure

@dataclass(slots=True)
class ListField:
    key: str
    type: str
    label: str
    buyer: bool = False  # only the buyer's confirmation meets it


@dataclass(slots=True)
class ListStage:
    id: int
    name: str
    kind: str
    position: int
    max_days: int
    archived: bool
    pipeline_id: int
    exit_fields: list = field(default_factory=list)


@dataclass(slots=True)
class ListPipeline:
    id: int
    name: str
    archived: bool
    stages: list = field(default_factory=list)

    def ordered_stages(self) -> list:
        """Active stages as the board orders them: open by position, then won, then lost."""
        return sorted((s for s in self.stages if not s.archived),
                      key=lambda s: (_KIND_RANK[s.kind], s.position, s.id))


@dataclass
class Structure:
    pipelines: list  # every pipeline of the organisation, archived ones too (their deals still show)
    stages: dict  # stage id -> ListStage

    @property
    def active_pipelines(self) -> list:
        return [p for p in self.pipelines if not p.archived]

    def pipeline(self, pipeline_id):
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    def missing_slots(self, pipeline_id=None) -> tuple:
        """[(stage id, [exit field]...)] of open stages with exit requirements: what 'missing facts' counts.

        Only the chosen pipeline's stages when one is chosen: the SQL asks about fewer stages.
        """
        return tuple((s.id, tuple(s.exit_fields)) for s in self.stages.values()
                     if s.kind == "open" and s.exit_fields and (not pipeline_id or s.pipeline_id == pipeline_id))


@prebuilt
def _structure_statement():
    """Pipelines, stages and the stages' active exit fields of one organisation, in one statement."""
    return (
        select(Pipeline.id, Pipeline.name, Pipeline.archived, Stage.id, Stage.name, Stage.kind, Stage.position,
               Stage.max_days, Stage.archived, FieldDef.key, FieldDef.type, FieldDef.label, StageRequirement.buyer)
        .select_from(Pipeline)
        .outerjoin(Stage, Stage.pipeline_id == Pipeline.id)
        .outerjoin(StageRequirement, and_(StageRequirement.stage_id == Stage.id, StageRequirement.when == "exit"))
        .outerjoin(FieldDef, and_(FieldDef.id == StageRequirement.field_id, FieldDef.archived.is_(False)))
        .where(Pipeline.org_id == bindparam("org_id"))
        .order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id, FieldDef.position)
    )


def load_structure(org_id: int) -> Structure:
    """Read the organisation's pipelines, stages and exit fields (one statement)."""
    pipelines, stages = {}, {}
    for (pid, pname, parchived, sid, sname, kind, position, max_days, sarchived,
         key, type_, label, buyer) in db.session.execute(_structure_statement(), {"org_id": org_id}):
        pipeline = pipelines.get(pid)
        if pipeline is None:
            pipeline = pipelines[pid] = ListPipeline(pid, pname, parchived)
        if sid is None:
            continue
        stage = stages.get(sid)
        if stage is None:
            stage = stages[sid] = ListStage(sid, sname, kind, position, max_days, sarchived, pid)
            pipeline.stages.append(stage)
        if key is not None:
            stage.exit_fields.append(ListField(key, type_, label, bool(buyer)))
    return Structure(list(pipelines.values()), stages)


# ---------------------------------------------------------------- the view, from the query string

@dataclass(frozen=True)
class ListView:
    """What the list shows: every filter, the sort and the page. The URL holds all of it."""

    owner_id: int | None = None  # None: everyone's deals
    pipeline_id: int | None = None
    stage_id: int | None = None
    status: str = "open"
    close: str = ""  # a CLOSE_PERIODS key, or "" (then close_from / close_to, when given)
    close_from: date | None = None
    close_to: date | None = None
    stale: bool = False
    missing: bool = False
    q: str = ""
    sort: str = DEFAULT_SORT
    desc: bool = False
    per: int = DEFAULT_PER
    page: int = 1

    def args(self, **changes) -> dict:
        """The query string of this view (defaults left out, the owner always in: a shared link shows the same rows)."""
        view = replace(self, **changes)
        args = {"owner": view.owner_id or "all", "pipeline": view.pipeline_id or "all", "stage": view.stage_id,
                "status": view.status if view.status != "open" else None, "close": view.close or None,
                "close_from": view.close_from.isoformat() if view.close_from and not view.close else None,
                "close_to": view.close_to.isoformat() if view.close_to and not view.close else None,
                "stale": "1" if view.stale else None, "missing": "1" if view.missing else None,
                "q": view.q or None, "sort": view.sort if view.sort != DEFAULT_SORT else None,
                "dir": "desc" if view.desc else None, "per": view.per if view.per != DEFAULT_PER else None,
                "page": view.page if view.page > 1 else None}
        return {k: v for k, v in args.items() if v is not None}

    def sorted_by(self, column: str) -> dict:
        """The query string that sorts by `column` (the other way when already sorted by it), from page 1."""
        return self.args(sort=column, desc=not self.desc if self.sort == column else False, page=1)

    @property
    def filtered(self) -> bool:
        """Whether anything beyond the owner narrows the list (the empty state then offers to clear it)."""
        return bool(self.pipeline_id or self.stage_id or self.status != "open" or self.close or self.close_from
                    or self.close_to or self.stale or self.missing or self.q)

    def period(self, today: date) -> tuple:
        """(from, to) expected close dates this view asks for, either open-ended; ("none", None) for unset."""
        if self.close == "none":
            return "none", None
        if self.close == "past":
            return None, today - timedelta(days=1)
        if self.close in ("this_month", "next_month"):
            start = today.replace(day=1)
            if self.close == "next_month":
                start = (start + timedelta(days=32)).replace(day=1)
            return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if self.close in ("this_quarter", "next_quarter"):
            start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
            if self.close == "next_quarter":
                start = (start + timedelta(days=95)).replace(day=1)
            end = (start + timedelta(days=95)).replace(day=1) - timedelta(days=1)
            return start, end
        return self.close_from, self.close_to


def _day(raw, name: str, notes: list):
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) if len(text) == 10 and text.isascii() else None
    except ValueError:
        day = None
    if day is None or not 1970 <= day.year <= 2100:
        notes.append(f"“{text[:20]}” is not a date like 2026-11-03, so the {name} date is left out.")
        return None
    return day


def _owner(raw, actor, users: dict, notes: list):
    """The board's rule: "all" is everyone, an id one person; without either, reps see their own deals."""
    owner = (raw or "").strip() if isinstance(raw, str) else ""
    if owner == "all":
        return None
    owner_id = parse_id(owner)
    if owner_id in users:
        return owner_id
    if owner:
        notes.append("That owner is not a person in your organisation, so the owner filter is left out.")
    return None if actor.has_role("manager") else actor.id


def _pipeline(raw, structure: Structure, notes: list):
    """"all" is every pipeline, an id one; without either, the first active pipeline, as the board opens.

    One pipeline by default also lets the default sort read its deals in index order
    (ix_deal_expected_close: org, pipeline, status, expected close) instead of sorting them all.
    """
    raw = (raw or "").strip() if isinstance(raw, str) else ""
    if raw == "all":
        return None
    pipeline = structure.pipeline(parse_id(raw)) if raw else None
    if raw and pipeline is None:
        notes.append("That pipeline is not one of yours, so every pipeline is shown.")
        return None
    if pipeline is None:
        return next((p.id for p in structure.active_pipelines), None)
    return pipeline.id


def parse_view(args, actor, structure: Structure, users: dict) -> tuple:
    """Read a view from a query string; return (ListView, notes). Odd values fall back to defaults, with a note."""
    notes = []
    pipeline_id = _pipeline(args.get("pipeline"), structure, notes)
    stage_id = parse_id(args.get("stage")) if args.get("stage") else None
    stage = structure.stages.get(stage_id)
    if args.get("stage") and (stage is None or (pipeline_id and stage.pipeline_id != pipeline_id)):
        notes.append("That stage is not in the chosen pipeline, so the stage filter is left out.")
        stage_id = None
    q = (args.get("q") or "").strip()
    if not is_text(q):
        notes.append("The search had characters that are not text, so it is left out.")
        q = ""
    sort = args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT
    per = int(args["per"]) if args.get("per") in {str(p) for p in PAGE_SIZES} else DEFAULT_PER
    close = args.get("close") if args.get("close") in CLOSE_PERIODS else ""
    view = ListView(
        owner_id=_owner(args.get("owner"), actor, users, notes), pipeline_id=pipeline_id, stage_id=stage_id,
        status=args.get("status") if args.get("status") in STATUSES else "open", close=close,
        close_from=None if close else _day(args.get("close_from"), "from", notes),
        close_to=None if close else _day(args.get("close_to"), "to", notes),
        stale=args.get("stale") == "1", missing=args.get("missing") == "1", q=q[:MAX_QUERY],
        sort=sort, desc=args.get("dir") == "desc", per=per, page=page_number(args.get("page")),
    )
    return view, notes


# ---------------------------------------------------------------- statements

@dataclass(frozen=True)
class Shape:
    """Which filters apply and how the rows sort: a statement is built once per shape."""

    dialect: str
    pipeline: bool = False
    stage: bool = False
    owner: bool = False
    status: bool = False
    close: str = ""  # "", "none", "from", "to", "range"
    stale: bool = False
    missing: bool = False
    slots: tuple = ()  # per open stage with exit facts, each fact's (is a checkbox, only the buyer meets it)
    search: bool = False
    sort: str = DEFAULT_SORT
    desc: bool = False

    @property
    def needs_stage(self) -> bool:
        return self.stale or self.sort == "stage"


def _missing_count(dialect: str, slots: tuple):
    """SQL: how many of its current stage's exit facts a deal lacks (0 in a stage without any)."""
    if not slots:
        return cast(0, Integer)
    whens, n = [], 0
    for i, checkboxes in enumerate(slots):
        terms = []
        for checkbox, buyer in checkboxes:
            terms.append(case((unmet(dialect, f"mk_{n}", checkbox, buyer), 1), else_=0))
            n += 1
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        whens.append((Deal.stage_id == bindparam(f"ms_{i}"), total))
    return case(*whens, else_=0)


def _last_activity(dialect: str):
    """SQL: the latest of a change to the deal and an activity logged on it."""
    latest = select(func.max(Activity.at)).where(Activity.deal_id == Deal.id).scalar_subquery()
    if dialect == "postgresql":
        return func.greatest(Deal.updated_at, latest, type_=DateTime)
    return func.max(Deal.updated_at, func.coalesce(latest, Deal.updated_at), type_=DateTime)  # SQLite's scalar max()


def _sort_keys(shape: Shape) -> list:
    """[(expression, nullable, reversed)] for the shape's sort column; the deal id breaks ties."""
    sort = shape.sort
    if sort == "title":
        return [(func.lower(Deal.title), False, False)]
    if sort == "stage":
        rank = case((Stage.kind == "open", 0), (Stage.kind == "won", 1), else_=2)
        pipeline_rank = select(Pipeline.position).where(Pipeline.id == Deal.pipeline_id).scalar_subquery()
        return [(pipeline_rank, False, False), (Deal.pipeline_id, False, False), (rank, False, False),
                (Stage.position, False, False)]
    if sort == "owner":
        return [(select(func.lower(User.name)).where(User.id == Deal.owner_id).scalar_subquery(), False, False)]
    if sort == "amount":
        return [(Deal.amount, True, False)]
    if sort == "status":
        return [(Deal.status, False, False)]
    if sort == "days":  # more days in stage: entered longer ago
        return [(Deal.stage_entered_at, False, True)]
    if sort == "activity":
        return [(_last_activity(shape.dialect), False, False)]
    if sort == "missing":
        return [(_missing_count(shape.dialect, shape.slots), False, False)]
    return [(Deal.expected_close_date, True, False)]


def _ordered(column, nullable: bool, desc: bool):
    ordered = column.desc() if desc else column.asc()
    return ordered.nulls_last() if nullable else ordered  # no date, no amount: last either way


def _where(stmt, shape: Shape):
    """The shape's joins and filters on a select from deal."""
    if shape.search:
        stmt = stmt.outerjoin(Company, Company.id == Deal.company_id).outerjoin(Contact, Contact.id == Deal.contact_id)
    if shape.needs_stage:
        stmt = stmt.join(Stage, Stage.id == Deal.stage_id)
    stmt = stmt.where(Deal.org_id == bindparam("org_id"))
    for name, column in (("pipeline", Deal.pipeline_id), ("stage", Deal.stage_id), ("owner", Deal.owner_id),
                         ("status", Deal.status)):
        if getattr(shape, name):
            stmt = stmt.where(column == bindparam(name))
    if shape.close == "none":
        stmt = stmt.where(Deal.expected_close_date.is_(None))
    if shape.close in ("from", "range"):
        stmt = stmt.where(Deal.expected_close_date >= bindparam("close_from", type_=Deal.expected_close_date.type))
    if shape.close in ("to", "range"):
        stmt = stmt.where(Deal.expected_close_date <= bindparam("close_to", type_=Deal.expected_close_date.type))
    if shape.stale:
        stmt = stmt.where(Deal.status == "open", Stage.kind == "open", neglected_clause(shape.dialect, Stage.max_days))
    if shape.missing:
        stmt = stmt.where(_missing_count(shape.dialect, shape.slots) > 0)
    if shape.search:
        q = bindparam("q")
        linked = aliased(Contact)
        stmt = stmt.where(or_(
            Deal.title.ilike(q, escape="\\"), Company.name.ilike(q, escape="\\"),
            Contact.name.ilike(q, escape="\\"), Contact.email.ilike(q, escape="\\"),
            exists().where(DealContact.deal_id == Deal.id, linked.id == DealContact.contact_id,
                           or_(linked.name.ilike(q, escape="\\"), linked.email.ilike(q, escape="\\"))),
        ))
    return stmt

def _limits():
    # Rendered into the SQL (as the board's LIMIT is), so PostgreSQL plans the page with the numbers it reads.
    return bindparam("limit", type_=Integer, literal_execute=True), bindparam("offset", type_=Integer,
                                                                              literal_execute=True)


@prebuilt
def _count_statement(shape: Shape):
    return _where(select(func.count()).select_from(Deal), shape)


@prebuilt
def _tally_statement(by_owner: bool):
    """The count from stage_tally (app/models/tally.py): a few rows per stage, whatever the number of deals."""
    stmt = select(func.coalesce(func.sum(StageTally.deals), 0)).where(
        StageTally.org_id == bindparam("org_id"), StageTally.stage_id.in_(bindparam("stage_ids", expanding=True)))
    return stmt.where(StageTally.owner_id == bindparam("owner")) if by_owner else stmt


@prebuilt
def _page_statement(shape: Shape):
    """One page of rows: the inner select sorts and cuts the page, the outer reads those rows' extras."""
    keys = _sort_keys(shape)
    limit, offset = _limits()
    inner = _where(select(Deal.id.label("id"), *(expr.label(f"k{i}") for i, (expr, _, _) in enumerate(keys)))
                   .select_from(Deal), shape)
    order = [_ordered(expr, nullable, shape.desc != flip) for expr, nullable, flip in keys]
    page = (inner.order_by(*order, Deal.id.desc() if shape.desc else Deal.id.asc())
            .limit(limit).offset(offset).subquery("page"))
    neglected = case((and_(Deal.status == "open", Stage.kind == "open",
                           neglected_clause(shape.dialect, Stage.max_days)), True), else_=False)
    return (
        select(*(getattr(Deal, name) for name in ROW_COLUMNS), Company.name, _last_activity(shape.dialect),
               neglected)
        .select_from(page)
        .join(Deal, Deal.id == page.c.id)
        .join(Stage, Stage.id == Deal.stage_id)
        .outerjoin(Company, Company.id == Deal.company_id)
        .order_by(*[_ordered(page.c[f"k{i}"], nullable, shape.desc != flip)
                    for i, (_, nullable, flip) in enumerate(keys)],
                  page.c.id.desc() if shape.desc else page.c.id.asc())
    )


ROW_COLUMNS = ("id", "title", "amount", "currency", "pipeline_id", "stage_id", "owner_id", "status",
               "expected_close_date", "stage_entered_at", "facts", "version", "facts_meta")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _shape(view: ListView, structure: Structure, org_id: int, dialect: str, today: date, now: datetime) -> tuple:
    """(Shape, bound parameters) of a view."""
    params = {"org_id": org_id}
    close_from, close_to = view.period(today)
    if close_from == "none":
        close = "none"
    else:
        close = {(True, True): "range", (True, False): "from", (False, True): "to"}.get(
            (close_from is not None, close_to is not None), "")
        params.update(close_from=close_from, close_to=close_to)
    slots = ()
    if view.missing or view.sort == "missing":
        n = 0
        flags = []
        for i, (stage_id, fields) in enumerate(structure.missing_slots(view.pipeline_id)):
            params[f"ms_{i}"] = stage_id
            for f in fields:
                params[f"mk_{n}"] = key_value(dialect, f.key)
                n += 1
            flags.append(tuple((f.type == "checkbox", f.buyer) for f in fields))
        slots = tuple(flags)
    for name, value in (("pipeline", view.pipeline_id), ("stage", view.stage_id), ("owner", view.owner_id),
                        ("status", view.status if view.status != "all" else None)):
        if value:
            params[name] = value
    if view.q:
        params["q"] = _like(view.q)
    params.update(neglected_params(dialect, now))
    shape = Shape(dialect, pipeline=bool(view.pipeline_id), stage=bool(view.stage_id), owner=bool(view.owner_id),
                  status=view.status != "all", close=close, stale=view.stale, missing=view.missing, slots=slots,
                  search=bool(view.q), sort=view.sort, desc=view.desc)
    return shape, params


def _count(view: ListView, shape: Shape, params: dict, structure: Structure) -> int:
    """How many deals match: from stage_tally when only pipeline, stage, owner and status filter."""
    if not (shape.close or shape.stale or shape.missing or shape.search):
        stage_ids = [s.id for s in structure.stages.values()
                     if (not view.pipeline_id or s.pipeline_id == view.pipeline_id)
                     and (not view.stage_id or s.id == view.stage_id)
                     and (view.status == "all" or s.kind == view.status)]
        if not stage_ids:
            return 0
        tally = {"org_id": params["org_id"], "stage_ids": stage_ids, **({"owner": view.owner_id} if view.owner_id else {})}
        return int(db.session.execute(_tally_statement(bool(view.owner_id)), tally).scalar() or 0)
    counted = replace(shape, sort=DEFAULT_SORT, desc=False, slots=shape.slots if shape.missing else ())
    return db.session.execute(_count_statement(counted), params).scalar() or 0


# ---------------------------------------------------------------- rows

@dataclass(slots=True)  # up to 100 a page: slots make building and reading them cheaper
class Row:
    id: int
    title: str
    company: str | None
    pipeline: str
    stage: str
    stage_kind: str
    owner_id: int
    owner_name: str
    owner_initials: str
    amount: Decimal | None
    currency: str
    status: str
    close: date | None
    days: int
    max_days: int
    overdue: bool
    stale: bool
    activity: datetime | None
    missing: int
    version: int
    # Shown as is: formatted once here, not through a template filter per cell (~500 calls a page).
    show_url: str = ""
    amount_text: str = ""
    close_relative: str = ""
    activity_relative: str = ""
    activity_exact: str = ""


@dataclass
class ListPage:
    view: ListView  # the view as shown: its page within the pages there are
    rows: list
    total: int
    pages: int
    capped: bool  # more matches than MAX_ROWS: the last pages are out of reach

    @property
    def first(self) -> int:
        return (self.view.page - 1) * self.view.per + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _row(values, structure: Structure, users: dict, now: datetime, show_url: str) -> Row:
    (deal_id, title, amount, currency, pipeline_id, stage_id, owner_id, status, close, entered, facts,
     version, meta, company, activity, neglected) = values
    stage = structure.stages.get(stage_id)
    pipeline = structure.pipeline(pipeline_id)
    owner = users.get(owner_id)
    facts, meta = facts or {}, meta or {}
    days = max(0, (now - entered).days)
    is_open = stage is not None and stage.kind == "open"
    return Row(
        id=deal_id, title=title, company=company, pipeline=pipeline.name if pipeline else "",
        stage=stage.name if stage else "", stage_kind=stage.kind if stage else status,
        owner_id=owner_id, owner_name=owner.name if owner else "", owner_initials=owner.initials if owner else "?",
        amount=amount, currency=currency, status=status, close=close, days=days,
        max_days=stage.max_days if stage else 0, overdue=is_open and days > stage.max_days, stale=bool(neglected),
        activity=activity,
        # A won or lost deal has no stage to leave: nothing is missing (the board counts the same).
        missing=sum(1 for f in stage.exit_fields if not is_met(f, facts.get(f.key))
                    or (f.buyer and not confirmed_by_buyer(meta.get(f.key)))) if is_open else 0,
        version=version, show_url=show_url.format(deal_id), amount_text=money(amount, currency),
        close_relative=relative(close, now) if close else "",
        activity_relative=relative(activity, now) if activity else "", activity_exact=exact(activity),
    )


def load_page(view: ListView, structure: Structure, users: dict, org_id: int, today: date,
              now: datetime | None = None) -> ListPage:
    """Count the deals the view matches and read its page of rows (two statements)."""
    now = now or utcnow()
    dialect = db.session.get_bind().dialect.name
    shape, params = _shape(view, structure, org_id, dialect, today, now)
    total = _count(view, shape, params, structure)
    pages = max(1, -(-min(total, MAX_ROWS) // view.per))
    view = replace(view, page=min(view.page, pages))
    rows = []
    if total:
        params.update(limit=view.per, offset=(view.page - 1) * view.per)
        show_url = card_links()[0]  # the deal page's URL pattern, built once a page (as the board's cards)
        rows = [_row(values, structure, users, now, show_url)
                for values in db.session.execute(_page_statement(shape), params)]
    return ListPage(view, rows, total, pages, total > MAX_ROWS)


CSV_HEADER = ["Deal ID", "Deal", "Company", "Pipeline", "Stage", "Owner", "Amount", "Currency", "Status",
              "Expected close", "Days in stage", "Stale", "Last activity", "Missing facts"]


def csv_row(row: Row) -> list:
    """A row as the CSV has it (CSV_HEADER's order); app/csv_files.py defuses formulas."""
    return [row.id, row.title, row.company, row.pipeline, row.stage, row.owner_name, row.amount, row.currency,
            STATUSES.get(row.status, row.status), row.close, row.days, row.stale, row.activity, row.missing]
