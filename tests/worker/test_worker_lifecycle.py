"""`python worker.py` stays up: past RQ's blocking-dequeue timeout, and across a Redis restart."""

import signal
import time

import pytest
import redis
from rq import Queue
from rq.job import JobStatus

from app.extensions import db
from app.jobs import run_due
from app.models import Organization
from tests.tasks.helpers import stale_deal
from tests.worker.conftest import RedisServer, wait_for
from tests.worker.test_worker import counts

# RQ blocks in BLPOP for TTL - 15 s: 5 s here, so the test can outlast it (and the 5 s web
# socket timeout that used to end the worker after ~11 s) in well under a minute.
SHORT_TTL = 20


def run_and_wait(queue, worker, timeout=30):
    job = queue.enqueue(run_due)
    wait_for(lambda: job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED), timeout,
             what=f"the worker to run the job; its log:\n{worker.output()}")
    assert job.get_status() == JobStatus.FINISHED, worker.output()
    return job.return_value()


def test_worker_outlives_its_dequeue_timeout_and_runs_work_enqueued_afterwards(client, org, queue, start_worker):
    # Ticking as in production: the tick thread's enqueue used to leave a 5 s-timeout connection
    # in the pool the worker's blocking dequeue then reused.
    worker = start_worker(STAGEGATE_TICK_SECONDS=3600, STAGEGATE_WORKER_TTL=SHORT_TTL)
    wait_for(lambda: "Listening on" in worker.output(), 20, what=f"the worker to start:\n{worker.output()}")
    time.sleep(SHORT_TTL + 2)  # four dequeue timeouts and past the worker's socket timeout (15 s)
    assert worker.process.poll() is None, f"the worker exited:\n{worker.output()}"
    assert "quitting" not in worker.output()
    assert client.get("/healthz").get_json()["checks"]["worker"]["ok"] is True  # its start-up tick

    deal_id = stale_deal(org, 8, max_days=7).id  # work that appears only now
    assert run_and_wait(queue, worker)["stale_reminders"] == {"created": 1, "resolved": 0}
    assert [t.deal_id for t in counts()[0]] == [deal_id]


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.stop()


def test_worker_reconnects_after_a_redis_restart_and_runs_the_work_enqueued_then(org, own_redis, start_worker):
    first, org_id = stale_deal(org, 8, max_days=7, title="Before the restart").id, org.id
    worker = start_worker(REDIS_URL=own_redis.url, STAGEGATE_QUEUE="restart-test", STAGEGATE_TICK_SECONDS=3600,
                          STAGEGATE_WORKER_TTL=SHORT_TTL)
    wait_for(lambda: len(counts()[0]) == 1, 30, what=f"the first tick's reminder:\n{worker.output()}")

    own_redis.stop()  # in-memory Redis: the restart also forgets every queued job
    time.sleep(3)
    assert worker.process.poll() is None, f"the worker exited with Redis down:\n{worker.output()}"
    own_redis.start()

    second = stale_deal(db.session.get(Organization, org_id), 8, max_days=7, title="After the restart").id
    queue = Queue("restart-test", connection=redis.Redis.from_url(own_redis.url))
    assert run_and_wait(queue, worker, timeout=45)["stale_reminders"]["created"] == 1
    assert worker.process.poll() is None
    assert sorted(t.deal_id for t in counts()[0]) == sorted([first, second])


def test_worker_stops_cleanly_on_sigterm(queue, start_worker):
    worker = start_worker(STAGEGATE_TICK_SECONDS=0, STAGEGATE_WORKER_TTL=SHORT_TTL)
    # Registries are cleaned inside the work loop, once RQ's signal handlers are in place.
    wait_for(lambda: "cleaning registries" in worker.output(), 20, what=f"the worker to start:\n{worker.output()}")
    worker.process.send_signal(signal.SIGTERM)  # what a process supervisor sends
    assert worker.process.wait(20) == 0, worker.output()
    assert "warm shut down requested" in worker.output()
