"""Reports: the weekly forecast snapshots (a pipeline's, and each owner's share) that forecast accuracy is
measured against."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow


class ForecastSnapshot(TenantMixin, db.Model):
    """A pipeline's open forecast as it stood at the start of a week (Monday, organisation's zone)."""

    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False)
    week_start = db.Column(db.Date, nullable=False)
    taken_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    open_count = db.Column(db.Integer, nullable=False, default=0)
    # Whole cents: exact on every engine.
    amount_cents = db.Column(db.BigInteger, nullable=False, default=0)
    weighted_cents = db.Column(db.BigInteger, nullable=False, default=0)
    commit_cents = db.Column(db.BigInteger, nullable=False, default=0)
    best_case_cents = db.Column(db.BigInteger, nullable=False, default=0)
    pipeline_cents = db.Column(db.BigInteger, nullable=False, default=0)
    # The weighted forecast of the open deals expected to close in the month and the quarter that hold
    # the week's last day (a month or quarter starting this week): what accuracy compares with the won
    # amount. NULL on snapshots taken before these were kept.
    month_weighted_cents = db.Column(db.BigInteger)
    quarter_weighted_cents = db.Column(db.BigInteger)
    # Rebuilt afterwards from the stage history (a fresh install's past weeks), not frozen at the time.
    reconstructed = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    # One snapshot per pipeline and week: a sweep that runs twice (or two workers) inserts one.
    __table_args__ = (db.UniqueConstraint("pipeline_id", "week_start", name="uq_forecast_snapshot_week"),)


class OwnerForecastSnapshot(TenantMixin, db.Model):
    """One owner's open forecast in a pipeline at the start of a week: a rep's forecast accuracy is theirs.

    Written with the pipeline's snapshot, one row per active user of the organisation and per owner
    of an open deal (zeros included), so a missing row means no snapshot was taken that week.
    """

    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False)
    week_start = db.Column(db.Date, nullable=False)
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    open_count = db.Column(db.Integer, nullable=False, default=0)
    amount_cents = db.Column(db.BigInteger, nullable=False, default=0)
    weighted_cents = db.Column(db.BigInteger, nullable=False, default=0)
    month_weighted_cents = db.Column(db.BigInteger)  # as ForecastSnapshot's
    quarter_weighted_cents = db.Column(db.BigInteger)
    reconstructed = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    __table_args__ = (db.UniqueConstraint("pipeline_id", "week_start", "owner_id",
                                          name="uq_owner_forecast_snapshot_week"),)
