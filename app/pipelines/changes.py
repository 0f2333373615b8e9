"""The criteria change log: every edit of a stage's criteria or guidance, with who and when.

Every path that changes what a stage requires (the criteria editor, a BANT/MEDDIC set, the stage
form's guidance, archiving a required field, the API) takes a snapshot before it and calls
`record_change` after it, in the same transaction. The figures beside each change (conversion and
time in stage before and after it) are the reports' (app/reports/criteria.py).
"""

from datetime import datetime

from app.extensions import db
from app.models import CriteriaChange, Stage, utcnow

SOURCES = ("editor", "set", "stage", "field", "api")


def snapshot(stage: Stage) -> dict:
    """The stage's criteria as they stand: entry, exit and buyer keys, the next-step rule and the guidance."""
    reqs = [r for r in stage.requirements if r.field is not None and not r.field.archived]

    def keys(when):
        return sorted(r.field.key for r in reqs if r.when == when)

    return {
        "entry": keys("entry"),
        "exit": keys("exit"),
        "buyer": sorted({r.field.key for r in reqs if r.buyer}),
        "next_step": bool(stage.needs_next_step),
        "guidance": stage.guidance or "",
    }


def record_change(stage: Stage, before: dict, actor=None, source: str = "editor", at: datetime | None = None,
                  always: bool = False) -> CriteriaChange | None:
    """Add the change from `before` to the stage's criteria now (not committed); None when nothing changed.

    `always` records it even when nothing changed (the API's PUT records what it was told); `at` (in
    the past) dates a change brought over from elsewhere.
    """
    db.session.flush()  # the requirement rows just added or removed are what `snapshot` reads
    db.session.expire(stage, ["requirements"])
    after = snapshot(stage)
    if after == before and not always:
        return None
    now = utcnow()
    change = CriteriaChange(org_id=stage.org_id, pipeline_id=stage.pipeline_id, stage_id=stage.id,
                            user_id=getattr(actor, "id", None), at=at or now, before=before, after=after,
                            source=source, recorded_at=now)
    db.session.add(change)
    return change


def latest_change_at(stage: Stage) -> datetime | None:
    """When the stage's latest recorded change happened (None before any)."""
    return db.session.query(db.func.max(CriteriaChange.at)).filter(CriteriaChange.stage_id == stage.id).scalar()
