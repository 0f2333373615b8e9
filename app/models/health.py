"""The worker's heartbeat: when a worker last ran the periodic tick."""

from app.extensions import db


class WorkerTick(db.Model):
    """One row per queue: the last time a worker ran the periodic sweeps (naive UTC)."""

    queue = db.Column(db.String(100), primary_key=True)
    ticked_at = db.Column(db.DateTime, nullable=False)
