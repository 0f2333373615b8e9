"""Whether a deal is neglected: no open task and no activity for its stage's maximum days.

The board flags such cards (inside its card query) and the tasks' reminders read the same
rule, so it lives here, below both.
"""

from datetime import datetime

from sqlalchemy import String, and_, bindparam, exists, func, or_

from app.extensions import db
from app.models import Activity, Deal, Task


def neglected_now_param(dialect: str):
    """The bound parameter `neglected_clause` compares with: now, named for `neglected_params`."""
    if dialect == "postgresql":
        return bindparam("now", type_=db.DateTime)
    return bindparam("now_text", type_=String)


def neglected_params(dialect: str, now: datetime) -> dict:
    """The value of `neglected_now_param` for `now`."""
    if dialect == "postgresql":
        return {"now": now}
    return {"now_text": now.strftime("%Y-%m-%d %H:%M:%S.%f")}


def neglected_clause(dialect: str, max_days):
    """SQL: the deal has no open task and no activity for `max_days` (a column or a parameter) before now.

    Activity is a logged activity on the deal (call, note, email, ...), any change to the deal
    (a move or an edit bumps `updated_at`), and any task on it created or completed within
    the window. Built from bound parameters, so a caller can build its statement once.
    """
    now = neglected_now_param(dialect)
    if dialect == "postgresql":
        def older(column):
            return column < now - func.make_interval(0, 0, 0, max_days)
    else:
        def older(column):
            return func.julianday(now) - func.julianday(column) > max_days
    recent_task = exists().where(
        Task.deal_id == Deal.id,
        or_(Task.done_at.is_(None), ~older(Task.created_at),
            and_(Task.done_at.is_not(None), ~older(Task.done_at))),
    )
    recent_activity = exists().where(Activity.deal_id == Deal.id, ~older(Activity.at))
    return and_(older(Deal.stage_entered_at), older(Deal.updated_at), ~recent_task, ~recent_activity)
