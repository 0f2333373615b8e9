"""The job queue: RQ on Redis, or on an in-process fakeredis with a worker thread.

Redis carries wake-ups only; due work lives in database columns, so a lost job is
picked up again by the next tick (DESIGN.md).
"""

import fcntl
import logging
import os
import threading
import time

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
# RQ's worker TTL; its blocking dequeue waits TTL - 15 s, so the worker's socket timeout must be longer.
WORKER_TTL = 420


def queue_name() -> str:
    """The RQ queue this installation uses (STAGEGATE_QUEUE lets tests run side by side)."""
    return os.environ.get("STAGEGATE_QUEUE", "default")


def get_redis(url: str | None = None) -> redis.Redis:
    """Return the Redis connection for REDIS_URL, or the process's shared fakeredis."""
    url = current_app.config["REDIS_URL"] if url is None else url
    if url not in _connections:
        if url:
            # Web requests: a short timeout so a hung Redis delays a request, never blocks it.
            _connections[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2,
                                                     health_check_interval=30)
        else:
            _connections[url] = fakeredis.FakeRedis(server=_fake_server)
    return _connections[url]


def worker_redis(url: str, worker_ttl: int = WORKER_TTL) -> redis.Redis:
    """A connection of the worker's own, whose socket timeout outlasts RQ's blocking dequeue.

    RQ blocks in BLPOP for `worker_ttl - 15` seconds; a shorter socket timeout (the web
    connection's 5 s) makes RQ log "Redis connection timeout, quitting" and exit. RQ raises
    the timeout of a pool's *future* connections only, so the worker must not share a pool
    that already holds short-timeout connections. Keepalive and the health check notice a
    Redis that restarted, and the dequeue loop reconnects.
    """
    dequeue_timeout = max(1, worker_ttl - 15)
    return redis.Redis.from_url(url, socket_timeout=dequeue_timeout + 10, socket_connect_timeout=5,
                                socket_keepalive=True, health_check_interval=30)


def get_queue(name: str | None = None) -> Queue:
    return Queue(name or queue_name(), connection=get_redis())


def enqueue_after_commit(func: str, *args, **kwargs) -> None:
    """Enqueue the job named `func` ("app.jobs.run_import") once the current transaction commits.

    By name, so a service queues work without importing the worker's entry points. A Redis
    outage only delays the job: the next tick finds its due rows.

    If the transaction rolls back instead, nothing is enqueued.
    """
    queue = get_queue()
    session = db.session()

    def enqueue(_session):
        db.event.remove(session, "after_soft_rollback", forget)
        try:
            queue.enqueue(func, *args, **kwargs)
        except redis.RedisError as exc:
            log.warning("Redis unavailable (%s); %s will run on the next tick", exc,
                        func if isinstance(func, str) else func.__name__)

    def forget(_session, _previous_transaction):
        if db.event.contains(session, "after_commit", enqueue):
            db.event.remove(session, "after_commit", enqueue)

    db.event.listen(session, "after_commit", enqueue, once=True)
    db.event.listen(session, "after_soft_rollback", forget, once=True)


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that can live in a thread: no signal handlers, timer-based timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


_embedded_guard = threading.Lock()
_embedded: dict = {}


def _take_file_lock(app):
    """Hold instance/embedded-worker.lock so only one process on this machine runs the worker."""
    os.makedirs(app.instance_path, exist_ok=True)
    handle = open(os.path.join(app.instance_path, "embedded-worker.lock"), "a+")  # noqa: SIM115
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def start_embedded_worker(app, tick_seconds: float = TICK_SECONDS) -> threading.Thread | None:
    """Run the jobs and the periodic tick on a daemon thread of this (single) process.

    Safe to call twice (wsgi imported twice): a module-level guard keeps one thread per
    process, and a file lock in instance/ keeps one process per machine. Returns the
    thread, or None when another process already runs it. `thread.stop()` ends it.
    """
    with _embedded_guard:
        thread = _embedded.get("thread")
        if thread is not None and thread.is_alive():
            return thread
        lock = _take_file_lock(app)
        if lock is None:
            log.info("Another process runs the embedded worker; this one only enqueues.")
            return None
        stop = threading.Event()

        def loop():
            try:
                with app.app_context():
                    queue = get_queue()
                    worker = ThreadWorker([queue], connection=queue.connection)
                    next_tick = 0.0
                    while not stop.is_set():
                        if time.monotonic() >= next_tick:
                            queue.enqueue("app.jobs.run_due")
                            next_tick = time.monotonic() + tick_seconds
                        try:
                            worker.work(burst=True, logging_level="WARNING")
                        except Exception:  # keep the embedded worker alive whatever a job does
                            log.exception("embedded worker loop")
                        stop.wait(0.5)
            finally:
                lock.close()  # releases the file lock

        thread = threading.Thread(target=loop, name="stagegate-worker", daemon=True)
        thread.stop = lambda: (stop.set(), thread.join(10))
        _embedded["thread"] = thread
        thread.start()
        return thread
