"""Deals that have sat in a stage, and counts of what the follow-through created."""

from datetime import timedelta

from app.deals.service import create_deal
from app.extensions import db
from app.models import Notification, Task, utcnow
from tests import factories


def stale_deal(org, days_in_stage=8, max_days=7, owner=None, title="Quiet Acme deal"):
    """Create an open deal that entered its (first) stage `days_in_stage` days ago."""
    pipeline = factories.pipeline(org)
    first = pipeline.open_stages[0]
    first.max_days = max_days
    db.session.commit()
    return create_deal(pipeline, factories.user(org, "admin"), title=title,
                       owner=owner or factories.user(org, "rep"),
                       facts=factories.full_facts(pipeline, first),
                       stage_entered_at=utcnow() - timedelta(days=days_in_stage))


def reminders(deal=None):
    db.session.expire_all()
    query = Task.query.filter_by(kind="stale_reminder")
    return query.filter_by(deal_id=deal.id).all() if deal is not None else query.all()


def stale_notifications(user=None):
    db.session.expire_all()
    query = Notification.query.filter_by(kind="stale")
    return query.filter_by(user_id=user.id).all() if user is not None else query.all()
