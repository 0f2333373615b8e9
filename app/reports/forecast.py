"""Forecast snapshots (one per pipeline and week, with each owner's share), forecast accuracy per month and
quarter, the team's or one owner's, and the open forecast by expected close date."""

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, and_, bindparam, case, cast, func, select

from app.extensions import db
from app.models import (
    Deal,
    ForecastSnapshot,
    Organization,
    OwnerForecastSnapshot,
    Pipeline,
    Stage,
    User,
    utcnow,
)
from app.reports import queries
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
    """Freeze each active pipeline's open forecast once per week (the unique key makes it idempotent)."""
    now = now or utcnow()
    created = 0
    for org in Organization.query.order_by(Organization.id):
        week = week_start(local_today(org.zone, now))
        pipelines = Pipeline.query.filter_by(org_id=org.id, archived=False).all()
        people = [user_id for (user_id,) in db.session.query(User.id).filter_by(org_id=org.id, active=True)]
        taken = {pid for (pid,) in db.session.query(ForecastSnapshot.pipeline_id).filter(
            ForecastSnapshot.org_id == org.id, ForecastSnapshot.week_start == week)}
        for pipeline in pipelines:
            if pipeline.id in taken:
                continue
            values = _totals(pipeline)
            result = db.session.execute(
                dialect_insert(ForecastSnapshot.__table__).values(
                    org_id=org.id, pipeline_id=pipeline.id, week_start=week, taken_at=now, **values)
                .on_conflict_do_nothing(index_elements=["pipeline_id", "week_start"]),
                execution_options={"preserve_rowcount": True})
            if result.rowcount:  # this process took the week's snapshot: it writes the owners' shares too
                created += result.rowcount
                _snapshot_owners(pipeline, week, people)
        db.session.commit()
    return {"created": created}


def _snapshot_owners(pipeline, week: date, people: list) -> None:
    """Freeze each owner's open forecast in `pipeline` (every active user gets a row, zeros included)."""
    shares = {user_id: {"open_count": 0, "amount_cents": 0, "weighted_cents": 0} for user_id in people}
    for owner_id, _, count, cents, weighted in queries.open_by_owner_stage_rows(pipeline.org_id, pipeline.id):
        share = shares.setdefault(owner_id, {"open_count": 0, "amount_cents": 0, "weighted_cents": 0})
        share["open_count"] += int(count)
        share["amount_cents"] += int(cents or 0)
        share["weighted_cents"] += int(Decimal(int(weighted or 0)) / 100)  # per stage, as the team's total
    if shares:
        db.session.execute(dialect_insert(OwnerForecastSnapshot.__table__).values([
            {"org_id": pipeline.org_id, "pipeline_id": pipeline.id, "week_start": week, "owner_id": owner_id, **share}
            for owner_id, share in shares.items()]).on_conflict_do_nothing(
                index_elements=["pipeline_id", "week_start", "owner_id"]))


def _totals(pipeline) -> dict:
    stages = {s.id: s for s in pipeline.stages}
    totals = dict.fromkeys(("amount_cents", "weighted_cents", "commit_cents", "best_case_cents", "pipeline_cents"),
                           0)
    totals["open_count"] = 0
    for stage_id, count, cents, weighted in queries.open_by_stage_rows(pipeline.org_id, pipeline.id):
        totals["open_count"] += int(count)
        totals["amount_cents"] += int(cents or 0)
        totals["weighted_cents"] += int(Decimal(int(weighted or 0)) / 100)
        category = forecast_category(stages[stage_id])
        if category in ("commit", "best_case", "pipeline"):
            totals[f"{category}_cents"] += int(cents or 0)
    return totals


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
    """Open deals of a pipeline (or one owner's) per month bucket: (bucket, count, cents, cents × probability).

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
    return (select(bucket, func.count(), func.sum(cents), func.sum(cents * Stage.probability))
            .select_from(Deal).join(Stage, Stage.id == Deal.stage_id).where(*where).group_by(bucket))


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
    found = {int(b): (int(n), int(c or 0), Decimal(w or 0))
             for b, n, c, w in db.session.execute(_by_close_statement(owner_id is not None), params)}
    rows = []
    for key, label, start, end in [*close_windows(today), ("all", "All open deals", None, None)]:
        parts = [found[b] for b in _buckets(key, today) if b in found]
        rows.append({"key": key, "label": label, "from": start, "before": end,
                     "open_count": sum(p[0] for p in parts), "amount": _amount(sum(p[1] for p in parts)),
                     "weighted": _amount(sum((p[2] for p in parts), Decimal(0)) / 100)})
    return rows


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
        forecast = Decimal(snapshot.weighted_cents) if snapshot else None
        actual = Decimal(int(won_cents or 0))
        row = {"kind": kind, "from": period.start, "to": period.end, "won": actual / 100,
               "forecast": forecast / 100 if forecast is not None else None, "accuracy": None, "bias": None}
        if forecast:
            row["accuracy"] = _ratio(1 - abs(actual - forecast) / forecast)
            row["bias"] = _ratio((actual - forecast) / forecast)
        rows.append(row)
    return rows
