"""The job queue: RQ on Redis, or on an in-process fakeredis with a worker thread.

Redis carries wake-ups only; due work lives in database columns, so a lost job is
picked up again by the next tick (DESIGN.md).
"""

import logging
import threading

import fakeredis
import redis
from flask import current_app
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from app.extensions import db

log = logging.getLogger(__name__)
_fake_server = fakeredis.FakeServer()
_connections: dict[str, redis.Redis] = {}
TICK_SECONDS = 60


def get_redis(url: str | None = None) -> redis.Redis:
    """Return the Redis connection for REDIS_URL, or the process's shared fakeredis."""
    url = current_app.config["REDIS_URL"] if url is None else url
    if url not in _connections:
        if url:
            _connections[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        else:
            _connections[url] = fakeredis.FakeRedis(server=_fake_server)
    return _connections[url]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())


def enqueue_after_commit(func, *args, **kwargs) -> None:
    """Enqueue `func` once the current transaction commits; a Redis outage only delays it."""
    queue = get_queue()

    def enqueue(_session):
        try:
            queue.enqueue(func, *args, **kwargs)
        except redis.RedisError:
            log.warning("Redis unavailable; %s will run on the next tick", func.__name__)

    db.event.listen(db.session(), "after_commit", enqueue, once=True)


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that can live in a thread: no signal handlers, timer-based timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


def start_embedded_worker(app) -> threading.Thread:
    """Run the jobs and the periodic tick on a daemon thread of this (single) process."""

    def loop():
        import time

        from app.jobs import run_due

        with app.app_context():
            queue = get_queue()
            worker = ThreadWorker([queue], connection=queue.connection)
            next_tick = 0.0
            while True:
                if time.monotonic() >= next_tick:
                    queue.enqueue(run_due)
                    next_tick = time.monotonic() + TICK_SECONDS
                try:
                    worker.work(burst=True, logging_level="WARNING")
                except Exception:  # keep the embedded worker alive whatever a job does
                    log.exception("embedded worker loop")
                time.sleep(1)

    thread = threading.Thread(target=loop, name="stagegate-worker", daemon=True)
    thread.start()
    return thread
