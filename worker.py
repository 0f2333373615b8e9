"""Run a real RQ worker (with its scheduler) and the periodic tick against REDIS_URL."""

import threading
import time

from rq import Worker

from app import create_app
from app.jobs import run_due
from app.queue import TICK_SECONDS, get_queue, get_redis

app = create_app()


def tick_forever(queue) -> None:
    """Enqueue the sweeps every minute; the database decides what is due."""
    while True:
        try:
            queue.enqueue(run_due, job_timeout=600)
        except Exception as exc:  # Redis down: the next tick tries again
            app.logger.warning("tick could not enqueue: %s", exc)
        time.sleep(TICK_SECONDS)


if __name__ == "__main__":
    with app.app_context():
        if not app.config["REDIS_URL"]:
            raise SystemExit("worker.py needs REDIS_URL; the embedded default runs jobs in the web process.")
        queue = get_queue()
        threading.Thread(target=tick_forever, args=(queue,), daemon=True).start()
        Worker([queue], connection=get_redis()).work(with_scheduler=True)
