"""OpenAPI paths and schemas of GET /api/v1/metrics (merged into app/api/openapi.py)."""

from app.api.openapi_base import error, json_response, ref
from app.ids import MAX_ID
from app.reports.drill import CATEGORY_KEYS, CLOSE_KEYS, METRICS
from app.reports.service import MAX_YEAR, MIN_YEAR, PRESETS


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1,
        "description": "A share 0–1 rounded to 4 places; null when its denominator is 0."}
DAYS = {"type": ["number", "null"], "minimum": 0, "description": "Days as a decimal, 2 places; null without data."}
COUNT = {"type": "integer", "minimum": 0}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "A decimal string, e.g. \"12500.00\"."}
ID = {"type": "integer", "minimum": 1}
SPEED = {"n": COUNT, "touched": COUNT,
         "median_minutes": {"type": ["number", "null"], "minimum": 0},
         "within_window_share": RATE}


def _object(properties: dict, optional=()) -> dict:
    return {"type": "object", "required": [k for k in properties if k not in optional], "properties": properties}


SCHEMAS = {
    "Metrics": _object({
        "pipeline_id": ID,
        "from": {"type": "string", "format": "date", "description": "First day of the period (organisation's zone)."},
        "to": {"type": "string", "format": "date", "description": "Day after the period (not included)."},
        "time_zone": {"type": "string", "description": "IANA zone in which the period's days are counted."},
        "scope": {"enum": ["all", "own"], "description": "own: a rep's key sees that rep's deals (and team medians)."},
        "stage_conversion": {"type": "array", "items": _object({
            "stage_id": ID, "entered": COUNT, "advanced": COUNT, "rate": RATE, "closed": COUNT, "won": COUNT,
            "win_rate": RATE, "probability": {"type": "integer", "minimum": 0, "maximum": 100}})},
        "time_in_stage": {"type": "array", "items": _object({
            "stage_id": ID, "median_days": DAYS, "mean_days": DAYS, "n": COUNT, "p75_days": DAYS})},
        "time_in_stage_by_owner": {"type": "array", "items": _object({
            "owner_email": {"type": ["string", "null"]}, "stage_id": ID, "median_days": DAYS, "mean_days": DAYS,
            "n": COUNT})},
        "win_rate": RATE, "won": COUNT, "lost": COUNT,
        "meeting_to_close": RATE, "meeting_closed": COUNT,
        "cycle_days": _object({"median": DAYS, "mean": DAYS, "n": COUNT}),
        "reply_rate": RATE,
        "visitor_to_customer": RATE,
        "forecast": _object({
            "weighted": MONEY, "open_count": COUNT,
            "by_stage": {"type": "array", "items": _object({
                "stage_id": ID, "open_count": COUNT, "amount": MONEY, "weighted": MONEY,
                "probability": {"type": "integer", "minimum": 0, "maximum": 100},
                "category": {"enum": ["pipeline", "best_case", "commit", "omitted"]}})},
            "by_category": _object({"pipeline": MONEY, "best_case": MONEY, "commit": MONEY}),
        }),
        "replies": _object({"enrolled": COUNT, "replied": COUNT}),
        "visitors": _object({"views": COUNT, "form_contacts": COUNT, "customers": COUNT}),
        "speed_to_lead": _object({
            "window_minutes": {"type": "integer", "minimum": 0}, **SPEED,
            "by_rep": {"type": "array", "items": _object({"owner_id": {"type": ["integer", "null"]},
                                                         "owner_email": {"type": ["string", "null"]}, **SPEED})},
        }),
        "no_data": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "Why a metric is null for lack of data (e.g. no sequences yet)."},
    }),
    "MetricDeals": _object({
        "items": {"type": "array", "items": _object({
            "id": ID, "title": {"type": "string"}, "stage_id": ID, "owner_email": {"type": ["string", "null"]},
            "amount": {**MONEY, "type": ["string", "null"]}, "status": {"enum": ["open", "won", "lost"]}})},
        "count": {**COUNT, "description": "The number the list explains (entered, advanced, n, won, closed, "
                                          "open_count); a deal with two stays is one item and counts twice."},
        "next_page": {"type": ["integer", "null"], "minimum": 2},
    }),
}

DATE = {"type": "string", "format": "date", "minLength": 10, "maxLength": 10,
        "pattern": "^(19[7-9][0-9]|20[0-9][0-9]|2100)-[0-9]{2}-[0-9]{2}$"}
assert (MIN_YEAR, MAX_YEAR) == (1970, 2100), "update DATE's pattern"
# What every report endpoint takes, and how it refuses.
REPORT_PARAMETERS = [
    _query("pipeline_id", {**ID, "maximum": MAX_ID}, "The pipeline (default: the first one)."),
    _query("from", DATE, "First day of the period, YYYY-MM-DD."),
    _query("to", DATE, "The day after the period, YYYY-MM-DD (not included)."),
    _query("preset", {"enum": list(PRESETS)}, "A named period instead of from/to."),
    _query("owner_email", {"type": "string", "format": "email", "maxLength": 254},
           "Only this owner's deals (managers and admins: anyone's; a rep's key: its own only)."),
]
REPORT_ERRORS = {
    "403": error("403", "A rep's key asked for someone else's numbers."),
    "404": error("404", "No such pipeline in this organisation."),
    "422": error("422", "A parameter is not valid (each one named in fields).", "Invalid"),
}
PATHS = {
    "/metrics": {"get": {
        "operationId": "getMetrics",
        "summary": "The numbers of METRICS.md for a pipeline over a period.",
        "description": f"Period [from, to) in the organisation's time zone (to must be after from; with only "
                       f"one of them the period is 90 days); default the last 90 days. Dates "
                       f"from {MIN_YEAR} to {MAX_YEAR}. A rep's key sees the rep's own deals and the team medians.",
        "parameters": REPORT_PARAMETERS,
        "responses": {"200": json_response(ref("Metrics"), "The metrics."), **REPORT_ERRORS},
    }},
    "/metrics/deals": {"get": {
        "operationId": "getMetricDeals",
        "summary": "The deals behind one number of GET /metrics, for the same parameters, 50 a page.",
        "description": "metric and part: stage_conversion (entered | advanced, with stage_id), time_in_stage "
                       "(stays, with stage_id), win_rate (closed | won | lost), meeting_to_close (closed | won), "
                       "cycle_days (won), forecast (open; stage_id, close and category narrow it as the "
                       "report's forecast tables do), and the weekly review's totals: pipeline_added "
                       "(created), moves (forward | back, between open stages), slipped_close (open: "
                       "expected to close in the period, not closed by its end). count equals the number it "
                       "explains. A rep's key lists the rep's own deals (for time_in_stage: their own stays).",
        "parameters": [
            *REPORT_PARAMETERS,
            {**_query("metric", {"enum": list(METRICS)}, "Which number's deals."), "required": True},
            _query("part", {"enum": sorted({p for parts, _ in METRICS.values() for p in parts})},
                   "Which part of the number (default: the metric's first)."),
            _query("stage_id", {**ID, "maximum": MAX_ID},
                   "The stage, for stage_conversion and time_in_stage (required) and forecast (optional)."),
            _query("close", {"enum": list(CLOSE_KEYS)},
                   "forecast only: open deals expected to close in this window (the organisation's months and "
                   "quarters; earlier = a date before this quarter)."),
            _query("category", {"enum": list(CATEGORY_KEYS)},
                   "forecast only: open deals in this category, cumulative (best_case includes commit)."),
            _query("page", {"type": "integer", "minimum": 1, "maximum": 100_000}, "Page number (default 1)."),
        ],
        "responses": {"200": json_response(ref("MetricDeals"), "The deals and the count they explain."),
                      **REPORT_ERRORS},
    }},
}
