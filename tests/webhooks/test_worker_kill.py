"""SIGKILL a real `python worker.py` in the middle of 200 deliveries: nothing is lost, every event arrives
(a cut-off one again, with its id), and first arrivals keep the order the events happened in."""

import contextlib
import os
import signal
import subprocess
from datetime import timedelta

from app.extensions import db
from app.models import WebhookDelivery, utcnow
from app.webhooks.delivery import BATCH as CLAIM_BATCH
from app.webhooks.delivery import send_due
from app.webhooks.events import emit
from tests.worker.conftest import queue, real_redis, start_worker, wait_for  # noqa: F401, F811

EVENTS = 200


def _statuses() -> dict:
    rows = dict(db.session.query(WebhookDelivery.status, db.func.count()).group_by(WebhookDelivery.status).all())
    db.session.remove()  # never hold SQLite's lock while the worker writes
    return rows


def test_sigkill_mid_delivery_loses_nothing_and_keeps_the_order(app, org, receiver, subscribe, start_worker):  # noqa: F811
    subscribe()
    for i in range(EVENTS):
        emit(org.id, "deal.created", {"n": i})
    db.session.commit()
    db.session.remove()
    receiver.delay = 0.03  # each answer takes a moment, so the kill lands mid-run
    worker = start_worker(ALLOW_INTERNAL_HOSTS=1, SECRET_KEY=app.config["SECRET_KEY"], STAGEGATE_TICK_SECONDS=3600)
    wait_for(lambda: len(receiver.received) >= 30, 60, what=f"deliveries to start; worker log:\n{worker.output()}")
    out = subprocess.run(["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True).stdout
    for pid in map(int, out.split()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.kill(signal.SIGKILL)
    at_kill = len(receiver.received)
    assert at_kill < EVENTS, "every delivery finished before the kill; slow the receiver down"
    cut_off = _statuses().get("sending", 0)
    assert cut_off <= CLAIM_BATCH

    send_due(utcnow() + timedelta(minutes=10))  # the next tick, after the claim went stale
    db.session.remove()
    assert _statuses() == {"delivered": EVENTS}
    ids = [r["event"]["id"] for r in receiver.received]
    assert len(set(ids)) == EVENTS  # every event arrived
    assert len(ids) - EVENTS <= CLAIM_BATCH  # repeats (same id) only of the batch the kill cut off
    first_seen = list(dict.fromkeys(r["event"]["data"]["n"] for r in receiver.received))
    assert first_seen == list(range(EVENTS))
    assert all(r["verified"] for r in receiver.received)
