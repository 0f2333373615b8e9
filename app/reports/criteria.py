"""The criteria change log with its figures, and the quarterly criteria review.

Each logged change of a stage's criteria (app/pipelines/changes.py) is shown with the stage's
conversion and time in stage over the 30 days before it and the 30 days after it, computed by the
reports' one metrics service (`stage_figures`) with the number of deals behind each figure. With d
the change's date in the organisation's zone: before = [d - 30, d), after = [d, d + 30), its end
today + 1 while the change is younger than that, and no after window at all while it is younger
than a day.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import CriteriaChange, Organization, Pipeline, Stage, Task, User, iso, utcnow
from app.reports.service import Period, add_months, local_today, quarter_start, stage_figures

WINDOW_DAYS = 30
YOUNG = timedelta(days=1)
LOG_LIMIT = 100
REVIEW_KIND = "criteria_review"
REVIEW_STAGES = 5  # the stages that moved most, listed in the quarterly task


def change_day(change_at: datetime, zone) -> date:
    """The change's date in the organisation's zone."""
    return local_today(zone, change_at)


def change_periods(change_at: datetime, zone, now: datetime | None = None) -> tuple:
    """(before, after) periods of a change made at `change_at` (naive UTC); after is None while young."""
    now = now or utcnow()
    day = change_day(change_at, zone)
    before = Period(day - timedelta(days=WINDOW_DAYS), day, zone)
    if now - change_at < YOUNG:
        return before, None
    end = min(day + timedelta(days=WINDOW_DAYS), local_today(zone, now) + timedelta(days=1))
    return before, Period(day, max(end, day + timedelta(days=1)), zone)


def _window(pipeline, stage_id: int, period: Period | None, seen: dict | None = None) -> dict | None:
    if period is None:
        return None
    seen = {} if seen is None else seen  # changes of one day share their windows: each period is read once
    key = (period.start, period.end)
    if key not in seen:
        seen[key] = stage_figures(pipeline, period)
    figures = seen[key].get(stage_id) or {
        "entered": 0, "advanced": 0, "rate": None, "median_days": None, "mean_days": None, "n": 0}
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), **figures}


def change_json(change: CriteriaChange, pipeline, zone, now=None, seen: dict | None = None) -> dict:
    """A change as the API and the editor show it: who, when, before/after and the two windows."""
    before, after = change_periods(change.at, zone, now)
    return {
        "id": change.id,
        "stage_id": change.stage_id,
        "at": iso(change.at),
        "by": change.user.email if change.user is not None else None,
        "source": change.source,
        "before": change.before,
        "after": change.after,
        "windows": {"before": _window(pipeline, change.stage_id, before, seen),
                    "after": _window(pipeline, change.stage_id, after, seen)},
    }


def change_log(pipeline: Pipeline, stage_id: int | None = None, now=None, limit: int = LOG_LIMIT) -> list[dict]:
    """The pipeline's logged criteria changes (of one stage when `stage_id`), newest first, with figures."""
    query = CriteriaChange.query.filter_by(org_id=pipeline.org_id, pipeline_id=pipeline.id)
    if stage_id is not None:
        query = query.filter_by(stage_id=stage_id)
    changes = query.order_by(CriteriaChange.at.desc(), CriteriaChange.id.desc()).limit(limit).all()
    zone = db.session.get(Organization, pipeline.org_id).zone
    seen: dict = {}
    return [change_json(c, pipeline, zone, now, seen) for c in changes]


# ---------------------------------------------------------------- the quarterly review

@dataclass
class Moved:
    stage: Stage
    before: dict  # stage_figures of the quarter before last
    after: dict  # stage_figures of last quarter
    score: float

    @property
    def rate_points(self) -> float | None:
        if self.before["rate"] is None or self.after["rate"] is None:
            return None
        return round((self.after["rate"] - self.before["rate"]) * 100, 1)

    @property
    def days_change(self) -> float | None:
        if self.before["median_days"] is None or self.after["median_days"] is None:
            return None
        return round(self.after["median_days"] - self.before["median_days"], 2)

    def words(self) -> str:
        parts = []
        if self.rate_points is not None:
            parts.append(f"conversion {_pct(self.before['rate'])} → {_pct(self.after['rate'])} "
                         f"({self.before['entered']} → {self.after['entered']} deals)")
        if self.days_change is not None:
            parts.append(f"median time in stage {self.before['median_days']} → {self.after['median_days']} days "
                         f"({self.before['n']} → {self.after['n']} stays)")
        return f"{self.stage.pipeline.name} · {self.stage.name}: " + "; ".join(parts)


def _pct(value) -> str:
    return "–" if value is None else f"{round(value * 100)} %"


def quarter_label(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def parse_quarter(label: str) -> date | None:
    """The first day of a quarter written 2026Q4, or None."""
    text = str(label or "")
    if len(text) != 6 or text[4] != "Q" or not text[:4].isdigit() or text[5] not in "1234":
        return None
    year = int(text[:4])
    if not 1970 <= year <= 2100:
        return None
    return date(year, 3 * (int(text[5]) - 1) + 1, 1)


def moved_most(org_id: int, quarter: date, limit: int = REVIEW_STAGES) -> list[Moved]:
    """The open stages whose conversion or median time in stage moved most from the quarter before
    `quarter`'s previous one to that previous one (the last complete quarter when `quarter` is this one)."""
    zone = db.session.get(Organization, org_id).zone
    last = Period(add_months(quarter, -3), quarter, zone)
    earlier = Period(add_months(quarter, -6), add_months(quarter, -3), zone)
    moved = []
    for pipeline in Pipeline.query.filter_by(org_id=org_id, archived=False).order_by(Pipeline.position, Pipeline.id):
        before, after = stage_figures(pipeline, earlier), stage_figures(pipeline, last)
        for stage in pipeline.open_stages:
            b, a = before.get(stage.id), after.get(stage.id)
            if b is None or a is None:
                continue
            score = 0.0
            if b["rate"] is not None and a["rate"] is not None:
                score = abs(a["rate"] - b["rate"])
            if b["median_days"] is not None and a["median_days"] is not None:
                base = max(b["median_days"], a["median_days"], 1.0)
                score = max(score, abs(a["median_days"] - b["median_days"]) / base)
            if score > 0:
                moved.append(Moved(stage, b, a, score))
    moved.sort(key=lambda m: (-m.score, m.stage.pipeline_id, m.stage.position))
    return moved[:limit]


def review_key(org_id: int, quarter: date) -> str:
    return f"criteria_review:org:{org_id}:{quarter_label(quarter)}"


def _admin(org_id: int) -> User | None:
    return (User.query.filter_by(org_id=org_id, role="admin", active=True).order_by(User.id).first())


def sweep_criteria_review(now: datetime | None = None) -> dict:
    """Give each organisation's first admin one criteria review task per quarter (its unique key), from
    its second quarter on.

    Run by the worker's tick: an organisation whose task for the quarter (in its own zone) exists is
    skipped with one query for all of them, so a second run, or a concurrent worker, makes nothing.
    """
    now = now or utcnow()
    created = 0
    orgs = Organization.query.order_by(Organization.id).all()
    keys = {o.id: review_key(o.id, quarter_start(local_today(o.zone, now))) for o in orgs}
    done = {k for (k,) in db.session.query(Task.unique_key).filter(Task.unique_key.in_(list(keys.values())))}
    for org in orgs:
        key = keys[org.id]
        if key in done:
            continue
        quarter = quarter_start(local_today(org.zone, now))
        if local_today(org.zone, org.created_at) >= quarter:
            continue  # a new organisation has no quarter of its own numbers to review yet
        admin = _admin(org.id)
        if admin is None:
            continue
        stages = moved_most(org.id, quarter)
        lines = [m.words() for m in stages] or ["No stage's conversion or time in stage moved last quarter."]
        task = Task(org_id=org.id, owner_id=admin.id, kind=REVIEW_KIND, unique_key=key, due_at=now, created_at=now,
                    title=f"Review stage criteria for {quarter_label(quarter)}",
                    notes=("Moved most last quarter against the one before: " + " | ".join(lines))[:4000])
        db.session.add(task)
        try:
            db.session.commit()
            created += 1
        except IntegrityError:  # another worker made it first
            db.session.rollback()
    return {"created": created}
