"""What /healthz reports: the database, Redis, and when a worker last ticked."""

from datetime import timedelta

import redis
from flask import current_app
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.extensions import db
from app.models import WorkerTick, iso, utcnow
from app.queue import get_redis, queue_name

# A worker ticks every TICK_SECONDS (60); three missed ticks means it is down or stuck.
WORKER_MAX_SILENCE = timedelta(minutes=3)


def record_tick(now=None) -> None:
    """Note that a worker ran the periodic tick now (its own short transaction)."""
    now = now or utcnow()
    name = queue_name()
    try:
        if db.session.execute(update(WorkerTick).where(WorkerTick.queue == name)
                              .values(ticked_at=now)).rowcount == 0:
            db.session.add(WorkerTick(queue=name, ticked_at=now))
        db.session.commit()
    except IntegrityError:  # another worker inserted the row first: its tick is as good
        db.session.rollback()


def _database() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        return {"ok": True}
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"ok": False, "error": f"unreachable ({type(exc).__name__})"}


def _redis() -> dict:
    mode = "redis" if current_app.config["REDIS_URL"] else "embedded"
    try:
        get_redis().ping()
        return {"ok": True, "mode": mode}
    except redis.RedisError as exc:
        return {"ok": False, "mode": mode, "error": f"unreachable ({type(exc).__name__})"}


def _worker(database_ok: bool) -> dict:
    if not database_ok:
        return {"ok": False, "last_tick": None, "error": "unknown: the database is unreachable"}
    try:
        # A column read, not session.get: the session's identity map must not answer from memory.
        ticked_at = db.session.execute(select(WorkerTick.ticked_at).where(WorkerTick.queue == queue_name())).scalar()
    except SQLAlchemyError as exc:
        db.session.rollback()
        return {"ok": False, "last_tick": None, "error": f"unknown ({type(exc).__name__})"}
    if ticked_at is None:
        return {"ok": False, "last_tick": None, "error": "no worker has ticked yet"}
    silence = utcnow() - ticked_at
    seconds = max(0, int(silence.total_seconds()))
    result = {"ok": silence <= WORKER_MAX_SILENCE, "last_tick": iso(ticked_at), "seconds_since": seconds}
    if not result["ok"]:
        result["error"] = f"no tick for {seconds} s (limit {int(WORKER_MAX_SILENCE.total_seconds())} s)"
    return result


def health() -> tuple[dict, int]:
    """Return the health report and its status: 200 when every check is ok, else 503."""
    database = _database()
    checks = {"database": database, "redis": _redis(), "worker": _worker(database["ok"])}
    ok = all(check["ok"] for check in checks.values())
    return {"status": "ok" if ok else "fail", "checks": checks}, 200 if ok else 503
