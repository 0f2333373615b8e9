"""Forecast snapshots (one per pipeline and week) and forecast accuracy per month and quarter."""

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, and_, bindparam, case, cast, func, select

from app.extensions import db
from app.models import Deal, ForecastSnapshot, Organization, Pipeline, utcnow
from app.reports import queries
from app.reports.service import (
    Period,
    add_months,
    forecast_category,
    local_today,
    org_zone,
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
        week = week_start(local_today(org_zone(org), now))
        pipelines = Pipeline.query.filter_by(org_id=org.id, archived=False).all()
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
            created += result.rowcount or 0
        db.session.commit()
    return {"created": created}


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
def _won_statement(periods: int):
    """Cents won in each of `periods` windows [s<i>, e<i>) of a pipeline: one SUM each, one pass over its won deals."""
    cents = cast(func.round(func.coalesce(Deal.amount, 0) * 100), BigInteger)
    return (
        select(*(func.sum(case((and_(Deal.closed_at >= bindparam(f"s{i}", type_=db.DateTime),
                                     Deal.closed_at < bindparam(f"e{i}", type_=db.DateTime)), cents), else_=0))
                 for i in range(periods)))
        .where(Deal.org_id == bindparam("org_id"), Deal.pipeline_id == bindparam("pipeline_id"),
               Deal.status == "won")
    )


def accuracy(pipeline, org, now: datetime | None = None) -> list:
    """Per closed month and quarter: the forecast frozen at its start, the amount won in it, accuracy and bias.

    accuracy = 1 - |won - forecast| / forecast; bias = (won - forecast) / forecast (negative: over-forecast).
    Two statements whatever the number of periods.
    """
    zone = org_zone(org)
    periods = _periods(zone, local_today(zone, now))
    earliest = min(p.start for _, p in periods) - timedelta(days=7)
    snapshots = sorted(ForecastSnapshot.query.filter(
        ForecastSnapshot.pipeline_id == pipeline.id, ForecastSnapshot.org_id == org.id,
        ForecastSnapshot.week_start >= earliest).all(), key=lambda s: s.week_start)
    params = {"org_id": org.id, "pipeline_id": pipeline.id}
    for i, (_, period) in enumerate(periods):
        params[f"s{i}"], params[f"e{i}"] = period.utc_start, period.utc_end
    won = db.session.execute(_won_statement(len(periods)), params).one()
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
