"""The metrics of shared/METRICS.md: one service that the reports page, the CSV and the API call.

Aggregates run in SQL (app/reports/queries.py); this module turns a period of the
organisation's dates into UTC bounds, scopes by role, rounds as METRICS.md says and names
things for people.
"""

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from app.errors import Forbidden, Invalid
from app.extensions import db
from app.leads.service import speed_to_lead
from app.models import Organization, User, utcnow
from app.models.leads import DEFAULT_SPEED_MINUTES, LeadSettings
from app.reports import queries

DEFAULT_DAYS = 90
PRESETS = {
    "last_90_days": "Last 90 days",
    "this_week": "This week",
    "last_week": "Last week",
    "this_month": "This month",
    "last_month": "Last month",
    "this_quarter": "This quarter",
    "last_quarter": "Last quarter",
}
# Reference bands from the source article, shown beside the numbers.
BANDS = {
    "meeting_to_close": (Decimal("0.20"), Decimal("0.30"), "20–30 % (article benchmark)"),
    "reply_rate": (Decimal("0.05"), Decimal("0.06"), "5–6 % cold email, 10 % top performers"),
    "visitor_to_customer": (Decimal("0.02"), Decimal("0.05"), "2–5 % B2B"),
}
MIN_YEAR, MAX_YEAR = 1970, 2100
NO_DATA = {
    "reply_rate": "No data yet: no sequence sent its first email to anyone in this period.",
    "visitor_to_customer": "No data yet: no lead form was viewed in this period.",
    "speed_to_lead": "No data yet: no lead arrived or turned hot in this period.",
}


class ReportInvalid(Invalid):
    """Bad report input: `fields` maps each bad parameter to its message."""

    def __init__(self, fields: dict):
        super().__init__(fields, "Some report parameters are not valid.")


@dataclass(frozen=True)
class Period:
    """Dates [start, end) in the organisation's zone."""

    start: date
    end: date
    zone: ZoneInfo
    preset: str | None = None

    def _utc(self, day: date) -> datetime:
        local = datetime.combine(day, datetime.min.time()).replace(tzinfo=self.zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    @property
    def utc_start(self) -> datetime:
        return self._utc(self.start)

    @property
    def utc_end(self) -> datetime:
        return self._utc(self.end)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        return PRESETS.get(self.preset or "", f"{self.start.isoformat()} to {self.last_day.isoformat()}")


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or utcnow()).replace(tzinfo=UTC).astimezone(zone).date()


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def preset_period(preset: str, zone: ZoneInfo, today: date) -> Period:
    """Return the named period around `today` (a date in the organisation's zone).

    Weeks start on Monday (ISO 8601, the working week of the article's teams); there is no
    per-organisation week start yet.
    """
    if preset in ("this_week", "last_week"):
        start = today - timedelta(days=today.weekday()) - timedelta(days=7 if preset == "last_week" else 0)
        return Period(start, start + timedelta(days=7), zone, preset)
    if preset == "this_month":
        start = today.replace(day=1)
        return Period(start, start + timedelta(days=monthrange(start.year, start.month)[1]), zone, preset)
    if preset == "last_month":
        end = today.replace(day=1)
        return Period(add_months(end, -1), end, zone, preset)
    if preset == "this_quarter":
        start = quarter_start(today)
        return Period(start, add_months(start, 3), zone, preset)
    if preset == "last_quarter":
        end = quarter_start(today)
        return Period(add_months(end, -3), end, zone, preset)
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today + timedelta(days=1), zone, "last_90_days")


def _parse_day(raw, name: str, errors: dict):
    if raw is None or raw == "":
        return None
    try:
        if not isinstance(raw, str) or len(raw) != 10 or not raw.isascii():
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = "must be a date written YYYY-MM-DD"
        return None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors[name] = f"must be a date between {MIN_YEAR} and {MAX_YEAR}"
        return None
    return day


def parse_period(args, org: Organization, now: datetime | None = None) -> Period:
    """Read `preset` or `from`/`to` (dates, `to` not included) from a mapping; raise ReportInvalid."""
    zone = org.zone
    today = local_today(zone, now)
    errors = {}
    preset = args.get("preset") or None
    if preset is not None and preset not in PRESETS:
        errors["preset"] = "must be one of: " + ", ".join(PRESETS)
    start = _parse_day(args.get("from"), "from", errors)
    end = _parse_day(args.get("to"), "to", errors)
    if errors:
        raise ReportInvalid(errors)
    if start is None and end is None:
        return preset_period(preset or "last_90_days", zone, today)
    end = end or today + timedelta(days=1)
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ReportInvalid({"to": "must be after from (the period is [from, to), to not included)"})
    return Period(start, end, zone)


def _days(value) -> float | None:
    if value is None:
        return None
    # SQLite's julianday arithmetic is a float a few microseconds off; PostgreSQL's is exact.
    # Rounding to 6 places first (well under a second) makes both round to the same 2 places.
    return float(Decimal(str(round(float(value), 6))).quantize(Decimal("0.01"), ROUND_HALF_UP))


def rate(numerator: int, denominator: int) -> float | None:
    """A share 0–1 rounded to 4 places, or None when there is nothing to divide by."""
    if not denominator:
        return None
    return float((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _money(cents) -> str:
    return f"{(Decimal(cents or 0) / 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}"


def scope_owner(viewer) -> int | None:
    """Reps see their own numbers; managers and admins everyone's."""
    return None if viewer.has_role("manager") else viewer.id


def report_owner(viewer, email: str):
    """The user of `viewer`'s organisation whose numbers are asked for by email, or None for no filter.

    Managers and admins may ask for anyone's; a rep for their own only (Forbidden otherwise).
    """
    if not email:
        return None
    owner = User.query.filter_by(org_id=viewer.org_id, email=email.strip().lower()).one_or_none()
    return allowed_owner(viewer, owner, "owner_email")


def allowed_owner(viewer, owner, field: str):
    """`owner` when `viewer` may see that owner's numbers; ReportInvalid when there is no such user."""
    if owner is None or owner.org_id != viewer.org_id:
        raise ReportInvalid({field: "is not a user of this organisation"})
    if owner.id != viewer.id and not viewer.has_role("manager"):
        raise Forbidden(f"Reps see their own numbers only: {field} can only be you.")
    return owner


def forecast_category(stage) -> str:
    """The forecast category a stage counts in: the admin's mapping, else one from its kind and probability."""
    if stage.kind == "won":
        return "closed"
    if stage.kind == "lost":
        return "omitted"
    if getattr(stage, "forecast_category", None):
        return stage.forecast_category
    if stage.probability >= 70:
        return "commit"
    return "best_case" if stage.probability >= 40 else "pipeline"


def metrics(pipeline, period: Period, viewer, owner=None) -> dict:
    """Compute every METRICS.md number for `pipeline` over `period`, as `viewer` may see them.

    `owner` (a user `viewer` may report on: see `report_owner`) narrows every number to that
    owner's deals, time in stage included (the team's stays are the default, for comparison).
    """
    org_id = pipeline.org_id
    owner_id = owner.id if owner is not None else scope_owner(viewer)
    stages = sorted(pipeline.stages, key=lambda s: (s.position, s.id))
    stage_ids = [s.id for s in stages]
    shown = [s for s in stages if s.kind == "open" and not s.archived]
    start, end = period.utc_start, period.utc_end

    conversion = {row[0]: row for row in queries.conversion_rows(org_id, stage_ids or [0], start, end, owner_id)}
    stays = queries.stay_rows(org_id, stage_ids or [0], start, end)
    won, lost, met_closed, met_won, cycle_n, cycle_mean, cycle_median = queries.closed_row(
        org_id, pipeline.id, [s.id for s in stages if s.is_meeting], start, end, owner_id)
    open_rows = {row[0]: row for row in queries.open_by_stage_rows(org_id, pipeline.id, owner_id)}
    sent, replied, form_contacts, form_won, views = queries.outreach_row(
        org_id, start, end, period.start, period.end, owner_id)
    # Read the window here: speed_to_lead's own default would create missing lead settings (a write in a GET).
    window = db.session.query(LeadSettings.speed_minutes).filter_by(org_id=org_id).scalar()
    speed = speed_to_lead(org_id, start, end, owner_id=owner_id, window_minutes=window or DEFAULT_SPEED_MINUTES)
    users = {u.id: u for u in User.query.filter_by(org_id=org_id)}

    team = {row[0]: row for row in stays if row[1] is None}
    mine = {row[0]: row for row in stays if owner is not None and row[1] == owner.id}
    by_owner = [row for row in stays if row[1] is not None and (owner_id is None or row[1] == owner_id)]
    stage_rank = {s.id: i for i, s in enumerate(stages)}
    by_owner.sort(key=lambda r: (stage_rank.get(r[0], 0), users[r[1]].name if r[1] in users else ""))

    weighted_cents = sum(Decimal(int(r[3] or 0)) for r in open_rows.values()) / 100
    result = {
        "pipeline_id": pipeline.id,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "time_zone": period.zone.key,
        "scope": "all" if owner_id is None else "own",
        "stage_conversion": [_conversion(s, conversion.get(s.id)) for s in shown],
        "time_in_stage": [_stay(s.id, team.get(s.id) if owner is None else mine.get(s.id)) for s in shown],
        "time_in_stage_by_owner": [
            {"owner_email": users[r[1]].email if r[1] in users else None, "stage_id": r[0],
             "median_days": _days(r[4]), "mean_days": _days(r[3]), "n": int(r[2])}
            for r in by_owner if r[0] in {s.id for s in shown}
        ],
        "win_rate": rate(won, won + lost),
        "won": int(won), "lost": int(lost),
        "meeting_to_close": rate(met_won, met_closed),
        "meeting_closed": int(met_closed),
        "cycle_days": {"median": _days(cycle_median), "mean": _days(cycle_mean), "n": int(cycle_n)},
        "reply_rate": rate(replied, sent),
        "replies": {"enrolled": int(sent), "replied": int(replied)},
        "visitor_to_customer": rate(form_won, views),
        "visitors": {"views": int(views), "form_contacts": int(form_contacts), "customers": int(form_won)},
        "speed_to_lead": speed,
        "forecast": {
            "weighted": _money(weighted_cents),
            "open_count": sum(int(r[1]) for r in open_rows.values()),
            "by_stage": [_open_stage(s, open_rows.get(s.id)) for s in shown],
            "by_category": _categories(shown, open_rows),
        },
        "no_data": {k: v for k, v in NO_DATA.items()
                    if (k == "reply_rate" and not sent) or (k == "visitor_to_customer" and not views)
                    or (k == "speed_to_lead" and not speed["n"])},
        "people": [users[r[1]] for r in by_owner if r[1] in users],
        "users": sorted((u for u in users.values() if u.active), key=lambda u: u.name.lower()),  # the page's picker
    }
    return result


def stage_figures(pipeline, period: Period, owner_id=None) -> dict:
    """{open stage id: its conversion and time in stage over `period`} exactly as `metrics` computes them.

    The same statements and rounding as the page, the CSV and the API (the criteria change log and the
    quarterly review read stages through this): {"entered", "advanced", "rate", "median_days",
    "mean_days", "n"} per open stage, the whole team's unless `owner_id` is given.
    """
    stages = sorted(pipeline.stages, key=lambda s: (s.position, s.id))
    stage_ids = [s.id for s in stages] or [0]
    start, end = period.utc_start, period.utc_end
    conversion = {row[0]: row for row in queries.conversion_rows(pipeline.org_id, stage_ids, start, end, owner_id)}
    stays = {row[0]: row for row in queries.stay_rows(pipeline.org_id, stage_ids, start, end)
             if (row[1] is None) == (owner_id is None) and (owner_id is None or row[1] == owner_id)}
    figures = {}
    for stage in stages:
        if stage.kind != "open":
            continue
        conv, stay = _conversion(stage, conversion.get(stage.id)), _stay(stage.id, stays.get(stage.id))
        figures[stage.id] = {"entered": conv["entered"], "advanced": conv["advanced"], "rate": conv["rate"],
                             "median_days": stay["median_days"], "mean_days": stay["mean_days"], "n": stay["n"]}
    return figures


def _conversion(stage, row) -> dict:
    entered, advanced, closed, won = (int(v or 0) for v in row[1:5]) if row else (0, 0, 0, 0)
    return {"stage_id": stage.id, "entered": entered, "advanced": advanced, "rate": rate(advanced, entered),
            "closed": closed, "won": won, "win_rate": rate(won, closed), "probability": stage.probability}


def _stay(stage_id, row) -> dict:
    if row is None:
        return {"stage_id": stage_id, "median_days": None, "mean_days": None, "n": 0, "p75_days": None}
    return {"stage_id": stage_id, "median_days": _days(row[4]), "mean_days": _days(row[3]), "n": int(row[2]),
            "p75_days": _days(row[5])}


def _open_stage(stage, row) -> dict:
    count, cents, weighted = (int(v or 0) for v in row[1:4]) if row else (0, 0, 0)
    return {"stage_id": stage.id, "open_count": count, "amount": _money(cents),
            "weighted": _money(Decimal(weighted) / 100), "probability": stage.probability,
            "category": forecast_category(stage)}


def _categories(stages, open_rows) -> dict:
    totals = {"pipeline": 0, "best_case": 0, "commit": 0}
    for stage in stages:
        row = open_rows.get(stage.id)
        category = forecast_category(stage)
        if row and category in totals:
            totals[category] += int(row[2] or 0)
    return {k: _money(v) for k, v in totals.items()}


CATEGORIES = {"pipeline": "Pipeline", "best_case": "Best case", "commit": "Commit", "omitted": "Omitted"}
MAX_DAYS_LIMIT = 365


def _whole(raw, name: str, low: int, high: int) -> int:
    text = str(raw if raw is not None else "").strip()
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ReportInvalid({name: f"must be a whole number from {low} to {high}"})
    return int(text)


def _admin_stage(stage, actor):
    if not actor.has_role("admin") or stage.org_id != actor.org_id:
        raise PermissionError("Only an admin can change a stage.")


def adopt_probability(stage, actor, value) -> int:
    """Set a stage's win probability to the measured stage-to-win rate the admin saw."""
    _admin_stage(stage, actor)
    if stage.kind != "open":
        raise ReportInvalid({"probability": "is fixed for won and lost stages"})
    stage.probability = _whole(value, "probability", 0, 100)
    db.session.commit()
    return stage.probability


def apply_max_days(stage, actor, value) -> int:
    """Set a stage's maximum days (stale reminders follow it) to the suggested 75th percentile."""
    _admin_stage(stage, actor)
    stage.max_days = _whole(value, "max_days", 1, MAX_DAYS_LIMIT)
    db.session.commit()
    return stage.max_days


def set_forecast_category(stage, actor, category) -> str:
    """Map an open stage to a forecast category (pipeline, best case, commit, omitted)."""
    _admin_stage(stage, actor)
    if stage.kind != "open":
        raise ReportInvalid({"category": "won stages count as closed and lost ones are omitted"})
    if category not in CATEGORIES:
        raise ReportInvalid({"category": "must be one of: " + ", ".join(CATEGORIES)})
    stage.forecast_category = category
    db.session.commit()
    return category


def suggested_max_days(p75_days) -> int | None:
    """The 75th percentile of completed stays, rounded up to whole days (at least 1)."""
    if p75_days is None:
        return None
    whole = int(Decimal(str(p75_days)).to_integral_value(rounding="ROUND_CEILING"))
    return min(max(1, whole), MAX_DAYS_LIMIT)
