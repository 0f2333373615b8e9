"""Run a real RQ worker (with its scheduler) and the periodic tick against REDIS_URL.

Kill it at any moment: the database is the source of truth, each job is idempotent, and
the tick enqueues the sweeps again as soon as the worker is back.
"""

import os
import threading
import time

from rq import Worker

from app import create_app
from app.extensions import db
from app.jobs import run_due
from app.queue import TICK_SECONDS, get_queue, get_redis

app = create_app()


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


if __name__ == "__main__":
    with app.app_context():
        if not app.config["REDIS_URL"]:
            raise SystemExit("worker.py needs REDIS_URL; the embedded default runs jobs in the web process.")
        queue = get_queue()
        # 0 turns the tick off: this worker only runs what others enqueue (one ticker is enough).
        seconds = float(os.environ.get("STAGEGATE_TICK_SECONDS", TICK_SECONDS))
        if seconds > 0:
            threading.Thread(target=tick_forever, args=(queue, seconds), daemon=True).start()
        AppWorker([queue], connection=get_redis()).work(with_scheduler=True)
