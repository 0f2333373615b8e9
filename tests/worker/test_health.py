"""/healthz tells a process supervisor the truth: database, Redis, and the worker's last tick."""

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from rq import SimpleWorker

from app.extensions import db
from app.jobs import run_due
from app.models import WorkerTick, utcnow
from app.queue import get_queue, queue_name, start_embedded_worker
from tests.worker.conftest import DOWN_REDIS_URL, ROOT, wait_for


@pytest.fixture(autouse=True)
def _own_queue(monkeypatch):
    """A queue of this test's own: with REDIS_URL set, never run other tests' leftover jobs."""
    monkeypatch.setenv("STAGEGATE_QUEUE", f"health-test-{uuid.uuid4().hex[:10]}")


def health(client):
    response = client.get("/healthz")
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def tick_through_a_worker():
    """Run the periodic job the way a worker does: dequeued and executed by RQ."""
    get_queue().enqueue(run_due)
    SimpleWorker([get_queue()], connection=get_queue().connection).work(burst=True)


def test_healthz_is_503_until_a_worker_ticks_then_200_naming_each_check(client):
    status, body = health(client)
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["worker"] == {"ok": False, "last_tick": None, "error": "no worker has ticked yet"}

    run_due()  # `flask run-due` or a test calling the sweeps is not a worker ticking
    assert health(client)[0] == 503

    tick_through_a_worker()
    status, body = health(client)
    assert status == 200 and body["status"] == "ok", body
    assert body["checks"]["worker"]["ok"] is True and body["checks"]["worker"]["seconds_since"] < 60
    assert body["checks"]["worker"]["last_tick"].endswith("+00:00")


def test_healthz_is_503_once_the_worker_has_been_silent_for_three_minutes(client):
    tick_through_a_worker()
    tick = db.session.get(WorkerTick, queue_name())
    tick.ticked_at = utcnow() - timedelta(seconds=170)
    db.session.commit()
    assert health(client)[0] == 200  # under three minutes: still healthy

    tick.ticked_at = utcnow() - timedelta(seconds=190)
    db.session.commit()
    status, body = health(client)
    assert status == 503 and body["checks"]["worker"]["ok"] is False
    assert "no tick for 19" in body["checks"]["worker"]["error"]

    tick_through_a_worker()  # the worker is back: healthy again, one row per queue
    assert health(client)[0] == 200
    assert WorkerTick.query.count() == 1


def test_healthz_is_503_when_redis_is_unreachable(app, client, monkeypatch):
    tick_through_a_worker()
    monkeypatch.setitem(app.config, "REDIS_URL", DOWN_REDIS_URL)
    status, body = health(client)
    assert status == 503
    assert body["checks"]["redis"] == {"ok": False, "mode": "redis", "error": "unreachable (ConnectionError)"}
    assert body["checks"]["database"]["ok"] is True and body["checks"]["worker"]["ok"] is True


UNREACHABLE_DATABASE = """
import json
from app import create_app
response = create_app().test_client().get("/healthz")
print(json.dumps([response.status_code, response.get_json()]))
"""


def test_healthz_is_503_when_the_database_is_unreachable():
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none", "REDIS_URL": "",
           "SECRET_KEY": "health-test"}
    done = subprocess.run([sys.executable, "-c", UNREACHABLE_DATABASE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    status, body = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["database"] == {"ok": False, "error": "unreachable (OperationalError)"}
    assert body["checks"]["worker"]["ok"] is False


def test_the_embedded_worker_thread_ticks_for_healthz(app, client, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    assert health(client)[0] == 503
    thread = start_embedded_worker(app, tick_seconds=3600)
    try:
        wait_for(lambda: health(client)[0] == 200, 15, what="the embedded worker's first tick")
    finally:
        thread.stop()
