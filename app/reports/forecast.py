"""Forecast snapshots (one per pipeline and week, with each owner's share), forecast accuracy per month and
quarter, the team's or one owner's, and the open forecast by expected close date."""

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, and_, bindparam, case, cast, func, select

from app.extensions import db
from app.models import (
    Deal,
    DealFieldChange,
    ForecastSnapshot,
    Organization,
    OwnerForecastSnapshot,
    Pipeline,
    Stage,
    StageTransition,
    User,
    utcnow,
)
from app.reports.service import (
    Period,
    add_months,
    forecast_category,
    local_today,
    quarter_start,
)
from app.statements import dialect_insert, prebuilt

MONTHS, QUARTERS = 6, 4


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def snapshot_forecasts(now: datetime | None = None) -> dict:
    """Freeze each active pipeline's open forecast once per week (the unique key makes it idempotent),
    and rebuild from the stage history the past weeks forecast accuracy reads and nobody froze."""
    now = now or utcnow()
    created = rebuilt = 0
    for org in Organization.query.order_by(Organization.id):
        today = local_today(org.zone, now)
        week = week_start(today)
        pipelines = Pipeline.query.filter_by(org_id=org.id, archived=False).all()
        people = [user_id for (user_id,) in db.session.query(User.id).filter_by(org_id=org.id, active=True)]
        needed = sorted({week_start(period.start) for _, period in _periods(org.zone, today)} | {week})
        taken = set(db.session.query(ForecastSnapshot.pipeline_id, ForecastSnapshot.week_start).filter(
            ForecastSnapshot.org_id == org.id, ForecastSnapshot.week_start.in_(needed)))
        for pipeline in pipelines:
            for monday in needed:
                if (pipeline.id, monday) in taken:
                    continue
                live = monday == week
                shares = _live_shares(pipeline, monday) if live else _rebuilt_shares(pipeline, monday, org.zone)
                if _insert_snapshot(pipeline, monday, now, shares, people, reconstructed=not live):
                    created, rebuilt = created + live, rebuilt + (not live)
        db.session.commit()
    return {"created": created, "rebuilt": rebuilt}


def _month_and_quarter(monday: date) -> dict:
    """The month and quarter a snapshot of the week of `monday` forecasts: those holding the week's last
    day (so a month or quarter starting in that week), as bound days."""
    last = monday + timedelta(days=6)
    month, quarter = last.replace(day=1), quarter_start(last)
    return {"ms": month, "me": add_months(month, 1), "qs": quarter, "qe": add_months(quarter, 3)}


SHARE_KEYS = ("open_count", "amount_cents", "weighted_cents", "commit_cents", "best_case_cents", "pipeline_cents",
              "month_weighted_cents", "quarter_weighted_cents")


def _shares(rows, stages: dict) -> dict:
    """Aggregate open deals (owner_id, stage_id, cents, expected close) into each owner's frozen forecast and
    the team's (key None): weighted cents per stage truncated as the live forecast is, the month's and the
    quarter's weighted cents (those expected to close in them) rounded once."""
    per_stage: dict = {}
    windows: dict = {}
    for owner_id, stage_id, cents, in_month, in_quarter in rows:
        stage = stages[stage_id]
        for key in (owner_id, None):
            n, amount, weighted = per_stage.get((key, stage_id), (0, 0, 0))
            per_stage[(key, stage_id)] = (n + 1, amount + cents, weighted + cents * stage.probability)
            month, quarter = windows.get(key, (0, 0))
            windows[key] = (month + (cents * stage.probability if in_month else 0),
                            quarter + (cents * stage.probability if in_quarter else 0))
    shares: dict = {}
    for (key, stage_id), (n, amount, weighted) in per_stage.items():
        share = shares.setdefault(key, dict.fromkeys(SHARE_KEYS, 0))
        share["open_count"] += n
        share["amount_cents"] += amount
        share["weighted_cents"] += int(Decimal(weighted) / 100)
        category = forecast_category(stages[stage_id])
        if category in ("commit", "best_case", "pipeline"):
            share[f"{category}_cents"] += amount
    for key, (month, quarter) in windows.items():
        shares[key]["month_weighted_cents"] = int(_amount(Decimal(month) / 100) * 100)  # cents × percent
        shares[key]["quarter_weighted_cents"] = int(_amount(Decimal(quarter) / 100) * 100)
    return shares


@prebuilt
def _open_now_statement():
    """The pipeline's open deals now: (owner, stage, cents, expected in the month, expected in the quarter)."""
    cents = cast(func.round(func.coalesce(Deal.amount, 0) * 100), BigInteger)
    close = Deal.expected_close_date
    return (select(Deal.owner_id, Deal.stage_id, cents,
                   and_(close >= bindparam("ms", type_=db.Date), close < bindparam("me", type_=db.Date)),
                   and_(close >= bindparam("qs", type_=db.Date), close < bindparam("qe", type_=db.Date)))
            .where(Deal.org_id == bindparam("org_id"), Deal.pipeline_id == bindparam("pipeline_id"),
                   Deal.status == "open"))


def _live_shares(pipeline, monday: date) -> dict:
    rows = db.session.execute(_open_now_statement(), {"org_id": pipeline.org_id, "pipeline_id": pipeline.id,
                                                      **_month_and_quarter(monday)})
    return _shares([(o, s, int(c or 0), bool(m), bool(q)) for o, s, c, m, q in rows],
                   {s.id: s for s in pipeline.stages})


@prebuilt
def _open_then_statement():
    """Deals of a pipeline open at the instant :at, each with its stage then: the last transition at or before
    it (creation is the first), when that stage is an open one. Amount and expected close are today's; the
    edits after :at are read separately and undone."""
    latest = (select(StageTransition.deal_id, StageTransition.to_stage_id,
                     func.row_number().over(partition_by=StageTransition.deal_id,
                                            order_by=(StageTransition.at.desc(), StageTransition.id.desc()))
                     .label("rn"))
              .join(Deal, Deal.id == StageTransition.deal_id)
              .where(StageTransition.org_id == bindparam("org_id"), Deal.pipeline_id == bindparam("pipeline_id"),
                     StageTransition.at <= bindparam("at", type_=db.DateTime))
              .subquery())
    return (select(Deal.id, Deal.owner_id, latest.c.to_stage_id, Deal.amount, Deal.expected_close_date)
            .join(latest, and_(latest.c.deal_id == Deal.id, latest.c.rn == 1))
            .join(Stage, and_(Stage.id == latest.c.to_stage_id, Stage.kind == "open")))


def _rebuilt_shares(pipeline, monday: date, zone) -> dict:
    """What a snapshot taken at `monday`'s midnight (the organisation's zone) would have frozen, from the
    stage history and the field history (amount and expected close edits since then are undone). The
    stages' probabilities and the deals' owners are today's: their past values are not kept."""
    at = Period(monday, monday, zone).utc_start
    deals = db.session.execute(_open_then_statement(), {"org_id": pipeline.org_id, "pipeline_id": pipeline.id,
                                                        "at": at}).all()
    earliest: dict = {}
    if deals:
        for change in (DealFieldChange.query.filter(
                DealFieldChange.org_id == pipeline.org_id, DealFieldChange.at > at,
                DealFieldChange.field.in_(("amount", "expected_close_date")),
                DealFieldChange.deal_id.in_([d[0] for d in deals]))
                .order_by(DealFieldChange.at.desc(), DealFieldChange.id.desc())):
            earliest[(change.deal_id, change.field)] = change.old_value  # the first edit after :at wins
    window = _month_and_quarter(monday)
    rows = []
    for deal_id, owner_id, stage_id, amount, close in deals:
        if (deal_id, "amount") in earliest:
            amount = earliest[(deal_id, "amount")]
        if (deal_id, "expected_close_date") in earliest:
            old = earliest[(deal_id, "expected_close_date")]
            close = date.fromisoformat(old) if old else None
        cents = int((Decimal(amount or 0) * 100).quantize(Decimal(1), ROUND_HALF_UP))
        rows.append((owner_id, stage_id, cents, close is not None and window["ms"] <= close < window["me"],
                     close is not None and window["qs"] <= close < window["qe"]))
    return _shares(rows, {s.id: s for s in pipeline.stages})


def _insert_snapshot(pipeline, monday: date, now: datetime, shares: dict, people: list, reconstructed: bool) -> bool:
    """Insert the week's team snapshot and, when this process took it, each owner's (every active user gets a
    row, zeros included); False when another process took the week first."""
    team = shares.get(None) or dict.fromkeys(SHARE_KEYS, 0)
    result = db.session.execute(
        dialect_insert(ForecastSnapshot.__table__).values(
            org_id=pipeline.org_id, pipeline_id=pipeline.id, week_start=monday, taken_at=now,
            reconstructed=reconstructed, **team)
        .on_conflict_do_nothing(index_elements=["pipeline_id", "week_start"]),
        execution_options={"preserve_rowcount": True})
    if not result.rowcount:
        return False
    owner_keys = ("open_count", "amount_cents", "weighted_cents", "month_weighted_cents", "quarter_weighted_cents")
    owners = {user_id: dict.fromkeys(owner_keys, 0) for user_id in people}
    owners.update({k: {key: v[key] for key in owner_keys} for k, v in shares.items() if k is not None})
    if owners:
        db.session.execute(dialect_insert(OwnerForecastSnapshot.__table__).values([
            {"org_id": pipeline.org_id, "pipeline_id": pipeline.id, "week_start": monday, "owner_id": owner_id,
             "reconstructed": reconstructed, **share} for owner_id, share in owners.items()])
            .on_conflict_do_nothing(index_elements=["pipeline_id", "week_start", "owner_id"]))
    return True


def _periods(zone, today: date) -> list:
    """The last closed months and quarters, newest first: (kind, Period)."""
    months, quarters = [], []
    end = today.replace(day=1)
    for _ in range(MONTHS):
        start = add_months(end, -1)
        months.append(("month", Period(start, end, zone)))
        end = start
    end = quarter_start(today)
    for _ in range(QUARTERS):
        start = add_months(end, -3)
        quarters.append(("quarter", Period(start, end, zone)))
        end = start
    return months + quarters


def _ratio(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.0001"), ROUND_HALF_UP))


@prebuilt
def _won_statement(periods: int, by_owner: bool):
    """Cents won in each of `periods` windows [s<i>, e<i>) of a pipeline (or one owner's deals in it):
    one SUM each, one pass over its won deals."""
    cents = cast(func.round(func.coalesce(Deal.amount, 0) * 100), BigInteger)
    where = [Deal.org_id == bindparam("org_id"), Deal.pipeline_id == bindparam("pipeline_id"), Deal.status == "won"]
    if by_owner:
        where.append(Deal.owner_id == bindparam("owner_id"))
    return (
        select(*(func.sum(case((and_(Deal.closed_at >= bindparam(f"s{i}", type_=db.DateTime),
                                     Deal.closed_at < bindparam(f"e{i}", type_=db.DateTime)), cents), else_=0))
                 for i in range(periods)))
        .where(*where)
    )


def close_windows(today: date) -> list:
    """The expected-close windows around `today` (a day in the organisation's zone): (key, label, from, before).

    This and next month fall inside this or next quarter; before this quarter, this quarter, next quarter,
    later and no date split the open deals with nothing counted twice.
    """
    month, quarter = today.replace(day=1), quarter_start(today)
    return [
        ("this_month", "This month", month, add_months(month, 1)),
        ("next_month", "Next month", add_months(month, 1), add_months(month, 2)),
        ("this_quarter", "This quarter", quarter, add_months(quarter, 3)),
        ("next_quarter", "Next quarter", add_months(quarter, 3), add_months(quarter, 6)),
        ("later", "Later", add_months(quarter, 6), None),
        ("earlier", "Before this quarter (date passed)", None, quarter),
        ("no_date", "No expected close date", None, None),
    ]


# Open deals are counted per month of expected close from this quarter's start (months 0-5: this and next
# quarter), before it (-1), after them (6) and without a date (-2); every window of `close_windows` is a
# union of these buckets.
MONTHS_AHEAD, EARLIER, NO_DATE = 6, -1, -2


@prebuilt
def _by_close_statement(by_owner: bool):
    """Open deals of a pipeline (or one owner's) per month bucket and stage: (bucket, stage, count, cents,
    cents × probability).

    One pass over the pipeline's open deals (ix_deal_expected_close), each row's amount and bucket worked
    out once; the buckets' bounds are bound days (m0 = this quarter's start ... m6).
    """
    close = Deal.expected_close_date
    bucket = case((close.is_(None), NO_DATE), (close < bindparam("m0", type_=db.Date), EARLIER),
                  *((close < bindparam(f"m{i + 1}", type_=db.Date), i) for i in range(MONTHS_AHEAD)),
                  else_=MONTHS_AHEAD).label("bucket")
    cents = cast(func.round(func.coalesce(Deal.amount, 0) * 100), BigInteger)
    where = [Deal.org_id == bindparam("org_id"), Deal.pipeline_id == bindparam("pipeline_id"), Deal.status == "open"]
    if by_owner:
        where.append(Deal.owner_id == bindparam("owner_id"))
    return (select(bucket, Deal.stage_id, func.count(), func.sum(cents), func.sum(cents * Stage.probability))
            .select_from(Deal).join(Stage, Stage.id == Deal.stage_id).where(*where).group_by(bucket, Deal.stage_id))


def _amount(cents) -> Decimal:
    """Cents (a fraction of a cent after weighting) as an amount rounded to the cent, as the forecast is."""
    return (Decimal(cents or 0) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _buckets(key: str, today: date) -> set:
    """The month buckets (see `_by_close_statement`) that the window `key` is made of."""
    month = (today.month - 1) % 3  # this month's place in its quarter
    return {"this_month": {month}, "next_month": {month + 1}, "this_quarter": {0, 1, 2}, "next_quarter": {3, 4, 5},
            "later": {MONTHS_AHEAD}, "earlier": {EARLIER}, "no_date": {NO_DATE},
            "all": {NO_DATE, EARLIER, *range(MONTHS_AHEAD + 1)}}[key]


def by_expected_close(pipeline, org, now: datetime | None = None, owner_id: int | None = None) -> list:
    """The weighted forecast of open deals by when they are expected to close, in the organisation's zone.

    One row per window of `close_windows`, then every open deal (the weighted forecast of METRICS.md): open
    deals, their amount and weighted amount (amount × stage probability / 100, rounded once per row as the
    forecast is). With `owner_id` (a rep's view): that owner's deals only.
    """
    today = local_today(org.zone, now)
    quarter = quarter_start(today)
    params = {"org_id": org.id, "pipeline_id": pipeline.id}
    params.update({f"m{i}": add_months(quarter, i) for i in range(MONTHS_AHEAD + 1)})
    if owner_id is not None:
        params["owner_id"] = owner_id
    categories = {s.id: forecast_category(s) for s in pipeline.stages}
    found: dict = {}  # bucket -> [(category, count, cents, cents × probability)]
    for b, stage_id, n, c, w in db.session.execute(_by_close_statement(owner_id is not None), params):
        found.setdefault(int(b), []).append((categories.get(stage_id, "pipeline"), int(n), int(c or 0),
                                             Decimal(w or 0)))
    rows = []
    for key, label, start, end in [*close_windows(today), ("all", "All open deals", None, None)]:
        parts = [part for b in _buckets(key, today) for part in found.get(b, ())]
        rows.append({"key": key, "label": label, "from": start, "before": end,
                     "open_count": sum(p[1] for p in parts), "amount": _amount(sum(p[2] for p in parts)),
                     "weighted": _amount(sum((p[3] for p in parts), Decimal(0)) / 100),
                     "categories": _cumulative(parts)})
    return rows


# Forecast categories as forecasting tools show them: each includes the ones above it.
CUMULATIVE = {"commit": ("commit",), "best_case": ("commit", "best_case"),
              "pipeline": ("commit", "best_case", "pipeline")}


def _cumulative(parts: list) -> dict:
    """{category: (open deals, amount, weighted)}, commit ⊆ best case ⊆ pipeline."""
    return {name: (sum(p[1] for p in parts if p[0] in inside), _amount(sum(p[2] for p in parts if p[0] in inside)),
                   _amount(sum((p[3] for p in parts if p[0] in inside), Decimal(0)) / 100))
            for name, inside in CUMULATIVE.items()}


def accuracy(pipeline, org, now: datetime | None = None, owner_id: int | None = None) -> list:
    """Per closed month and quarter: the forecast frozen at its start, the amount won in it, accuracy and bias.

    accuracy = 1 - |won - forecast| / forecast; bias = (won - forecast) / forecast (negative: over-forecast).
    With `owner_id` (a rep's view, as every other report table): that owner's frozen share against what
    their deals won. Two statements whatever the number of periods.
    """
    zone = org.zone
    periods = _periods(zone, local_today(zone, now))
    earliest = min(p.start for _, p in periods) - timedelta(days=7)
    model = ForecastSnapshot if owner_id is None else OwnerForecastSnapshot
    query = model.query.filter(model.pipeline_id == pipeline.id, model.org_id == org.id, model.week_start >= earliest)
    if owner_id is not None:
        query = query.filter(model.owner_id == owner_id)
    snapshots = sorted(query.all(), key=lambda s: s.week_start)
    params = {"org_id": org.id, "pipeline_id": pipeline.id}
    if owner_id is not None:
        params["owner_id"] = owner_id
    for i, (_, period) in enumerate(periods):
        params[f"s{i}"], params[f"e{i}"] = period.utc_start, period.utc_end
    won = db.session.execute(_won_statement(len(periods), owner_id is not None), params).one()
    rows = []
    for (kind, period), won_cents in zip(periods, won, strict=True):
        # The snapshot of the week the period starts in: the forecast as it stood at its start.
        snapshot = next((s for s in reversed(snapshots) if s.week_start <= period.start), None)
        if snapshot is not None and snapshot.week_start < period.start - timedelta(days=6):
            snapshot = None
        frozen = None if snapshot is None else (
            snapshot.month_weighted_cents if kind == "month" else snapshot.quarter_weighted_cents)
        forecast = Decimal(frozen) if frozen is not None else None
        actual = Decimal(int(won_cents or 0))
        row = {"kind": kind, "from": period.start, "to": period.end, "won": actual / 100,
               "forecast": forecast / 100 if forecast is not None else None, "accuracy": None, "bias": None,
               "reconstructed": bool(snapshot is not None and snapshot.reconstructed)}
        if forecast:
            row["accuracy"] = _ratio(1 - abs(actual - forecast) / forecast)
            row["bias"] = _ratio((actual - forecast) / forecast)
        rows.append(row)
    return rows
