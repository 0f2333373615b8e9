"""Run a real RQ worker (with its scheduler) and the periodic tick against REDIS_URL.

    REDIS_URL=redis://127.0.0.1:6379/0 DATABASE_URL=postgresql://... python worker.py

Kill it at any moment: the database is the source of truth, each job is idempotent, and
the tick enqueues the sweeps again as soon as the worker is back. It runs until SIGTERM or
Ctrl-C: when Redis goes away (restart, failover) it waits and reconnects, never exits.
STAGEGATE_WORKER_TTL (seconds, default 420) sets RQ's worker TTL; its blocking dequeue waits
TTL - 15 seconds between wake-ups.
"""

import logging
import os
import signal
import threading
import time

import redis
from rq import Worker

from app import create_app
from app.extensions import db
from app.jobs import run_due
from app.queue import TICK_SECONDS, WORKER_TTL, get_queue, queue_name, worker_redis

app = create_app()
log = logging.getLogger("stagegate.worker")
MAX_RESTART_WAIT = 30.0


class AppWorker(Worker):
    """An RQ worker whose forked work horse opens its own database connections."""

    def main_work_horse(self, job, queue):
        with app.app_context():
            db.engine.dispose(close=False)  # never share the parent's sockets across fork
        return super().main_work_horse(job, queue)


def tick_forever(queue, seconds: float) -> None:
    """Enqueue the sweeps now and every `seconds`; the database decides what is due."""
    while True:
        try:
            queue.enqueue(run_due, job_timeout=600)
        except Exception as exc:  # Redis down: the next tick tries again
            app.logger.warning("tick could not enqueue: %s", exc)
        time.sleep(seconds)


def serve(url: str, worker_ttl: int) -> None:
    """Run RQ workers one after another until a stop signal; Redis trouble only pauses the loop.

    RQ's own loop retries a refused connection while it waits for work, but quits on a
    socket timeout or on an error outside that wait (a Redis restart mid-heartbeat, or
    Redis down when the worker starts). Each time, a fresh worker starts after a short wait.
    """
    stop = threading.Event()
    wait = 1.0
    while not stop.is_set():
        worker, started = None, time.monotonic()
        if stop.is_set():
            break
        try:  # creating the worker talks to Redis too
            worker = AppWorker([queue_name()], connection=worker_redis(url, worker_ttl), worker_ttl=worker_ttl)
            worker.work(with_scheduler=True, logging_level="INFO")
        except redis.RedisError as exc:
            log.error("Redis unavailable (%s)", exc)
        if getattr(worker, "_shutdown_requested_date", None) is not None:
            break  # SIGTERM or Ctrl-C: RQ finished the current job and stopped
        # Between workers, a signal stops the loop (RQ's handlers belong to the finished worker).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        wait = 1.0 if time.monotonic() - started > 60 else min(wait * 2, MAX_RESTART_WAIT)
        log.warning("worker loop ended; starting a new worker in %.0f s", wait)
        stop.wait(wait)


if __name__ == "__main__":
    with app.app_context():
        if not app.config["REDIS_URL"]:
            raise SystemExit("worker.py needs REDIS_URL; the embedded default runs jobs in the web process.")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        # 0 turns the tick off: this worker only runs what others enqueue (one ticker is enough).
        seconds = float(os.environ.get("STAGEGATE_TICK_SECONDS", TICK_SECONDS))
        if seconds > 0:
            threading.Thread(target=tick_forever, args=(get_queue(), seconds), daemon=True).start()
        serve(app.config["REDIS_URL"], int(os.environ.get("STAGEGATE_WORKER_TTL", WORKER_TTL)))
