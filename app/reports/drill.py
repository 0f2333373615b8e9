"""The deals behind one number of the report: the same period, pipeline, owner and rules as the number.

Each metric's deal list is the statement that counts it with the aggregate taken off (queries.py's
statements, kept side by side so a rule changed in one is seen in the other). `count` is always the
number it explains (entered, advanced, n, won, closed, open_count, a week's totals); the list is the
distinct deals behind it, by id, a page at a time. A deal with two stays in a stage (or two moves in a
week) is one item and counts twice.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, text

from app.extensions import db
from app.reports import queries, rooms
from app.reports.forecast import CUMULATIVE, close_windows
from app.reports.service import Period, forecast_category, local_today

PAGE_SIZE = 50
REQUIRED, OPTIONAL = "required", "optional"
# metric -> the parts it can explain (the first is the default) and whether it takes a stage. The last
# three are the weekly review's totals (week_totals).
METRICS = {
    "stage_conversion": (("entered", "advanced"), REQUIRED),
    "time_in_stage": (("stays",), REQUIRED),
    "win_rate": (("closed", "won", "lost"), None),
    "meeting_to_close": (("closed", "won"), None),
    "cycle_days": (("won",), None),
    "forecast": (("open",), OPTIONAL),
    "pipeline_added": (("created",), None),
    "moves": (("forward", "back"), None),
    "slipped_close": (("open",), None),
    # The deal room's share of the forecast and its win rate (reports/rooms.py).
    "buyer_plans": (("on_time", "other"), None),
    "room_win_rate": (("with_room", "with_room_won", "without_room", "without_room_won"), None),
}
# The forecast's narrowings: a window of expected close dates (forecast.close_windows, or every open
# deal) and a cumulative category (commit ⊆ best case ⊆ pipeline).
CLOSE_KEYS = ("this_month", "next_month", "this_quarter", "next_quarter", "later", "earlier", "no_date", "all")
CATEGORY_KEYS = tuple(CUMULATIVE)


@dataclass(frozen=True)
class Question:
    """Which number's deals: a metric, its part, a stage when the metric is per stage; for the forecast,
    a window of expected close dates and a category."""

    metric: str
    part: str
    stage_id: int | None = None
    close: str | None = None
    category: str | None = None


def read_question(args, stage_id: int | None, pipeline, errors: dict) -> Question:
    """The question a page link or an API call asks (`stage_id` already read as an id), errors filled in
    with one wording for both."""
    metric = args.get("metric", "")
    parts, stage_rule = METRICS.get(metric, ((), None))
    if not parts:
        errors["metric"] = "must be one of: " + ", ".join(METRICS)
        return Question("forecast", "open")
    part = args.get("part") or parts[0]
    if part not in parts:
        errors["part"] = f"must be one of: {', '.join(parts)} (for {metric})"
        part = parts[0]
    if stage_rule is REQUIRED and stage_id is None and "stage_id" not in errors:
        errors["stage_id"] = f"is required for {metric}"
    if stage_id is not None and pipeline is not None and stage_id not in {s.id for s in pipeline.stages}:
        errors["stage_id"] = "is not a stage of this pipeline"
    extra = {}
    for name, keys in (("close", CLOSE_KEYS), ("category", CATEGORY_KEYS)):
        value = args.get(name)
        if value and metric != "forecast":
            errors[name] = "only narrows the forecast"
        elif value and value not in keys:
            errors[name] = f"must be one of: {', '.join(keys)}"
        elif value:
            extra[name] = value
    return Question(metric, part, stage_id if stage_rule else None, **extra)


def _forecast_where(question: Question, pipeline, zone, params: dict) -> str:
    """The forecast's narrowings as conditions on `d`, their values put in `params`."""
    where = " AND d.stage_id = :stage_id" if question.stage_id else ""
    if question.category:
        inside = CUMULATIVE[question.category]
        params["category_stage_ids"] = [s.id for s in pipeline.stages if forecast_category(s) in inside] or [0]
        where += " AND d.stage_id IN :category_stage_ids"
    if question.close == "no_date":
        return where + " AND d.expected_close_date IS NULL"
    if question.close and question.close != "all":
        window = next(w for w in close_windows(local_today(zone)) if w[0] == question.close)
        params["close_from"], params["close_before"] = window[2], window[3]
        if window[2] is not None:
            where += " AND d.expected_close_date >= :close_from"
        if window[3] is not None:
            where += " AND d.expected_close_date < :close_before"
    return where


def _behind(question: Question, owner_id, forecast_where: str) -> tuple[str, str]:
    """(a WITH clause or "", the SELECT's body) giving one `deal_id` row per counted unit (entry, stay,
    move or deal) of the number asked."""
    owner = queries.owner_filter("d", owner_id)
    in_pipeline = "d.org_id = :org_id AND d.pipeline_id = :pipeline_id"
    if question.metric == "stage_conversion":
        advanced = " AND e.advanced = 1" if question.part == "advanced" else ""
        return queries.CONVERSION_ENTRIES, f"""e.deal_id FROM entries e JOIN deal d ON d.id = e.deal_id
        WHERE e.stage_id = :stage_id{advanced}{owner}"""
    if question.metric == "time_in_stage":
        return "", f"""t.deal_id FROM stage_transition t JOIN deal d ON d.id = t.deal_id
        WHERE t.org_id = :org_id AND t.to_stage_id IN :stage_ids AND t.at >= :start AND t.at < :end
          AND t.from_stage_id = :stage_id{owner}"""
    if question.metric == "moves":  # between two open stages, as week_totals counts them
        way = ">" if question.part == "forward" else "<"
        return "", f"""t.deal_id FROM stage_transition t JOIN deal d ON d.id = t.deal_id
        JOIN stage s ON s.id = t.from_stage_id JOIN stage g ON g.id = t.to_stage_id
        WHERE t.org_id = :org_id AND {in_pipeline} AND t.at >= :start AND t.at < :end
          AND s.kind = 'open' AND g.kind = 'open' AND g.position {way} s.position{owner}"""
    if question.metric == "forecast":
        return "", f"d.id AS deal_id FROM deal d WHERE {in_pipeline} AND d.status = 'open'{forecast_where}{owner}"
    if question.metric == "buyer_plans":
        negate = "" if question.part == "on_time" else "NOT "
        return "", f"""d.id AS deal_id FROM deal d
        WHERE {in_pipeline} AND d.status = 'open' AND {negate}{rooms.PLAN_ON_TIME}{owner}"""
    if question.metric == "room_win_rate":
        room = ("" if question.part.startswith("with_") else "NOT ") + rooms.HAS_ROOM
        statuses = "('won')" if question.part.endswith("_won") else "('won', 'lost')"
        return "", f"""d.id AS deal_id FROM deal d
        WHERE {in_pipeline} AND d.status IN {statuses} AND d.closed_at >= :start AND d.closed_at < :end
          AND {room}{owner}"""
    if question.metric == "pipeline_added":
        return "", f"""d.id AS deal_id FROM deal d
        WHERE {in_pipeline} AND d.created_at >= :start AND d.created_at < :end{owner}"""
    if question.metric == "slipped_close":  # expected in the window, not closed by its end
        return "", f"""d.id AS deal_id FROM deal d
        WHERE {in_pipeline} AND d.expected_close_date >= :start_day AND d.expected_close_date < :end_day
          AND (d.status = 'open' OR d.closed_at >= :end){owner}"""
    statuses = {"won": "('won')", "lost": "('lost')"}.get(question.part, "('won', 'lost')")
    if question.metric == "cycle_days":
        statuses = "('won')"
    met = f" AND {queries.MET_MEETING_STAGE}" if question.metric == "meeting_to_close" else ""
    return "", f"""d.id AS deal_id FROM deal d
    WHERE {in_pipeline} AND d.status IN {statuses}
      AND d.closed_at >= :start AND d.closed_at < :end{met}{owner}"""


def deals_behind(pipeline, period: Period, question: Question, owner_id, page: int = 1) -> dict:
    """{"items": [...], "count": n, "next_page"}: the deals behind one number, 50 a page."""
    stages = pipeline.stages
    params = {"org_id": pipeline.org_id, "pipeline_id": pipeline.id, "stage_ids": [s.id for s in stages] or [0],
              "meeting_ids": [s.id for s in stages if s.is_meeting] or [0], "stage_id": question.stage_id,
              "start": period.utc_start, "end": period.utc_end, "start_day": period.start, "end_day": period.end,
              "owner_id": owner_id, "limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE,
              "today": local_today(period.zone)}
    narrow = _forecast_where(question, pipeline, period.zone, params) if question.metric == "forecast" else ""
    head, select = _behind(question, owner_id, narrow)  # a WITH clause, if any, must open the statement
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


EXPANDING = ("stage_ids", "meeting_ids", "category_stage_ids")
DATES = ("start_day", "end_day", "close_from", "close_before", "today")


def _run(sql: str, params: dict):
    named = set(re.findall(r":(\w+)", sql))
    binds = [bindparam(name, expanding=True) for name in EXPANDING if name in named]
    binds += [bindparam(name, type_=db.DateTime) for name in ("start", "end") if name in named]
    binds += [bindparam(name, type_=db.Date) for name in DATES if name in named]
    return db.session.execute(text(sql).bindparams(*binds), {k: v for k, v in params.items() if k in named}).all()
