"""Field history: the deal service records each change of a deal's amount, next-step date and expected close date."""

from app.extensions import db
from app.models import DealFieldChange, utcnow

TRACKED = ("amount", "next_step_due", "expected_close_date")


def _text(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else f"{value:.2f}"


def tracked_values(deal) -> dict:
    """Return the tracked fields as they stand, before an edit."""
    return {name: _text(getattr(deal, name)) for name in TRACKED}


def record_changes(deal, actor, before: dict) -> None:
    """Add one history row per tracked field the edit changed (in the edit's transaction)."""
    now = utcnow()
    for name, old in before.items():
        new = _text(getattr(deal, name))
        if new != old:
            db.session.add(DealFieldChange(org_id=deal.org_id, deal_id=deal.id, field=name, old_value=old,
                                           new_value=new, user_id=actor.id, at=now))
