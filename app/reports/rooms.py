"""How much of the forecast rests on plans the buyer confirmed, and how deals with a deal room close.

An open deal's plan is *buyer-confirmed and on time* when its room has at least one buyer step the buyer
confirmed and none of its open buyer steps is past its date (the organisation's today). The win rate
with and without a room counts the deals closed in the period. One statement for every figure; the
drill-down lists use the same conditions (PLAN_ON_TIME, HAS_ROOM).
"""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, text

from app.extensions import db
from app.reports import queries
from app.reports.service import Period, local_today, rate

# Conditions on a deal aliased `d` (SQL shared with reports/drill.py).
HAS_ROOM = "EXISTS (SELECT 1 FROM deal_room r WHERE r.deal_id = d.id)"
PLAN_ON_TIME = """(EXISTS (SELECT 1 FROM room_step rs JOIN deal_room r ON r.id = rs.room_id
      WHERE r.deal_id = d.id AND rs.side = 'buyer' AND rs.status = 'done')
  AND NOT EXISTS (SELECT 1 FROM room_step rs JOIN deal_room r ON r.id = rs.room_id
      WHERE r.deal_id = d.id AND rs.side = 'buyer' AND rs.status = 'open' AND rs.due_on < :today))"""


def _amount(cents) -> Decimal:
    return (Decimal(cents or 0) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


def room_figures(pipeline, period: Period, owner_id=None) -> dict:
    """{"plans": {"on_time": {count, amount, weighted}, "other": {...}}, "closed": {"with_room": {closed, won,
    win_rate}, "without_room": {...}}, "rooms": deals with a room} for the pipeline (one owner's deals with
    `owner_id`)."""
    owner = queries.owner_filter("d", owner_id)
    sql = f"""
    SELECT 'open' AS part, CASE WHEN {PLAN_ON_TIME} THEN 1 ELSE 0 END AS yes, COUNT(*),
           SUM(ROUND(COALESCE(d.amount, 0) * 100)), SUM(ROUND(COALESCE(d.amount, 0) * 100) * s.probability)
    FROM deal d JOIN stage s ON s.id = d.stage_id
    WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id AND d.status = 'open'{owner}
    GROUP BY CASE WHEN {PLAN_ON_TIME} THEN 1 ELSE 0 END
    UNION ALL
    SELECT 'closed', CASE WHEN {HAS_ROOM} THEN 1 ELSE 0 END, COUNT(*),
           SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END), 0
    FROM deal d
    WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id AND d.status IN ('won', 'lost')
      AND d.closed_at >= :start AND d.closed_at < :end{owner}
    GROUP BY CASE WHEN {HAS_ROOM} THEN 1 ELSE 0 END
    UNION ALL
    SELECT 'rooms', 1, COUNT(*), 0, 0 FROM deal_room r JOIN deal d ON d.id = r.deal_id
    WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id{owner}"""
    params = {"org_id": pipeline.org_id, "pipeline_id": pipeline.id, "today": local_today(period.zone),
              "start": period.utc_start, "end": period.utc_end, **({"owner_id": owner_id} if owner_id else {})}
    statement = text(sql).bindparams(bindparam("today", type_=db.Date), bindparam("start", type_=db.DateTime),
                                     bindparam("end", type_=db.DateTime))
    rows = db.session.execute(statement, params).all()
    plans = {key: {"count": 0, "amount": _amount(0), "weighted": _amount(0)} for key in ("on_time", "other")}
    closed = {key: {"closed": 0, "won": 0, "win_rate": None} for key in ("with_room", "without_room")}
    rooms = 0
    for part, yes, n, a, b in rows:
        if part == "rooms":
            rooms = int(n)
        elif part == "open":
            plans["on_time" if yes else "other"] = {"count": int(n), "amount": _amount(a),
                                                    "weighted": _amount(Decimal(b or 0) / 100)}
        else:
            key = "with_room" if yes else "without_room"
            closed[key] = {"closed": int(n), "won": int(a or 0), "win_rate": rate(int(a or 0), int(n))}
    return {"plans": plans, "closed": closed, "rooms": rooms}
