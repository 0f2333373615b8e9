"""The deals behind one number of the report: the same period, pipeline, owner and rules as the number.

Each metric's deal list is the statement that counts it with the aggregate taken off (queries.py's
statements, kept side by side so a rule changed in one is seen in the other). `count` is always the
number it explains (entered, advanced, n, won, closed, open_count); the list is the distinct deals
behind it, by id, a page at a time. A deal with two stays in a stage is one item and counts twice.
"""

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, text

from app.extensions import db
from app.reports import queries
from app.reports.service import Period

PAGE_SIZE = 50
# metric -> the parts it can explain (the first is the default) and whether it needs a stage.
METRICS = {
    "stage_conversion": (("entered", "advanced"), True),
    "time_in_stage": (("stays",), True),
    "win_rate": (("closed", "won"), False),
    "meeting_to_close": (("closed", "won"), False),
    "cycle_days": (("won",), False),
    "forecast": (("open",), False),
}


@dataclass(frozen=True)
class Question:
    """Which number's deals: a metric, its part, a stage when the metric is per stage."""

    metric: str
    part: str
    stage_id: int | None = None


def _behind(question: Question, owner_id) -> tuple[str, str]:
    """(a WITH clause or "", the SELECT's body) giving one `deal_id` row per counted unit (entry, stay
    or deal) of the number asked."""
    owner = queries.owner_filter("d", owner_id)
    if question.metric == "stage_conversion":
        advanced = " AND e.advanced = 1" if question.part == "advanced" else ""
        return queries.CONVERSION_ENTRIES, f"""e.deal_id FROM entries e JOIN deal d ON d.id = e.deal_id
        WHERE e.stage_id = :stage_id{advanced}{owner}"""
    if question.metric == "time_in_stage":
        return "", f"""t.deal_id FROM stage_transition t JOIN deal d ON d.id = t.deal_id
        WHERE t.org_id = :org_id AND t.to_stage_id IN :stage_ids AND t.at >= :start AND t.at < :end
          AND t.from_stage_id = :stage_id{owner}"""
    if question.metric == "forecast":
        return "", f"""d.id AS deal_id FROM deal d
        WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id AND d.status = 'open'{owner}"""
    statuses = "('won')" if question.part == "won" or question.metric == "cycle_days" else "('won', 'lost')"
    met = f" AND {queries.MET_MEETING_STAGE}" if question.metric == "meeting_to_close" else ""
    return "", f"""d.id AS deal_id FROM deal d
    WHERE d.org_id = :org_id AND d.pipeline_id = :pipeline_id AND d.status IN {statuses}
      AND d.closed_at >= :start AND d.closed_at < :end{met}{owner}"""


def deals_behind(pipeline, period: Period, question: Question, owner_id, page: int = 1) -> dict:
    """{"items": [...], "count": n, "next_page"}: the deals behind one number, 50 a page."""
    stages = pipeline.stages
    params = {"org_id": pipeline.org_id, "pipeline_id": pipeline.id, "stage_ids": [s.id for s in stages] or [0],
              "meeting_ids": [s.id for s in stages if s.is_meeting] or [0], "stage_id": question.stage_id,
              "start": period.utc_start, "end": period.utc_end, "owner_id": owner_id,
              "limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE}
    head, select = _behind(question, owner_id)  # a WITH clause, if any, must open the statement
    count_sql = f"{head}SELECT COUNT(*) FROM (SELECT {select}) behind"
    list_sql = f"""{head}SELECT d.id, d.title, d.stage_id, u.email, d.amount, d.status
    FROM deal d LEFT JOIN "user" u ON u.id = d.owner_id
    WHERE d.id IN (SELECT {select}) ORDER BY d.id LIMIT :limit OFFSET :offset"""
    count = _run(count_sql, params)[0][0]
    rows = _run(list_sql, params)
    return {
        "items": [{"id": r[0], "title": r[1], "stage_id": r[2], "owner_email": r[3],
                   "amount": None if r[4] is None else f"{Decimal(r[4]).quantize(Decimal('0.01'))}",
                   "status": r[5]} for r in rows[:PAGE_SIZE]],
        "count": int(count),
        "next_page": page + 1 if len(rows) > PAGE_SIZE else None,
    }


def _run(sql: str, params: dict):
    binds = [bindparam(name, expanding=True) for name in ("stage_ids", "meeting_ids") if f":{name}" in sql]
    binds += [bindparam(name, type_=db.DateTime) for name in ("start", "end") if f":{name}" in sql]
    used = {k: v for k, v in params.items() if f":{k}" in sql}
    return db.session.execute(text(sql).bindparams(*binds), used).all()
