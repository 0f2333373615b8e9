"""Forecast snapshots (one per pipeline and week, with each owner's share) and forecast accuracy per month and
quarter, the team's or one owner's."""

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
