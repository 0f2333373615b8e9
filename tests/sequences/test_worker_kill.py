"""SIGKILL a real `python worker.py` in the middle of 200 sends, then count: nobody got a step twice."""

import contextlib
import os
import signal
import subprocess
from datetime import timedelta

from app.extensions import db
from app.models import Enrollment, StepSend, utcnow
from app.sequences import service
from app.sequences.sending import BATCH as CLAIM_BATCH
from app.sequences.sending import sweep_due
from tests.factories import make_contact
from tests.sequences.conftest import make_sequence
from tests.worker.conftest import queue, real_redis, start_worker, wait_for  # noqa: F401, F811

BATCH = 200


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _statuses() -> dict:
    rows = dict(db.session.query(StepSend.status, db.func.count()).group_by(StepSend.status).all())
    db.session.remove()  # never hold SQLite's lock while the worker writes
    return rows


def test_sigkill_during_a_batch_of_200_sends_never_sends_a_step_twice(app, org, smtp, start_worker):  # noqa: F811
    inbox = smtp(delay=0.03)  # each message takes a moment, so the kill lands mid-batch (50 is mid third batch)
    from tests import factories

    rep = factories.user(org, "rep")
    sequence = make_sequence(org, factories.user(org, "manager"), daily_cap=1000)
    for i in range(BATCH):
        service.enroll(sequence, make_contact(org, f"k{i}@batch.example", f"K{i}", None), rep, commit=False)
    db.session.commit()
    db.session.remove()

    first = start_worker(SMTP_URL=inbox.url, STAGEGATE_TICK_SECONDS=3600)  # ticks once on start
    wait_for(lambda: len(inbox.messages) >= 50, 60, what=f"sends to start; worker log:\n{first.output()}")
    for pid in _children(first.process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    first.kill(signal.SIGKILL)
    received_at_kill = len(inbox.messages)
    assert received_at_kill < BATCH, "the batch finished before the kill; slow the server down"
    cut_off = _statuses().get("sending", 0)
    assert cut_off <= CLAIM_BATCH  # one worker claims one batch at a time: at most that batch in flight
    print(f"killed after {received_at_kill} messages; {cut_off} send cut off")

    # The next sweep, later, calls the cut-off claims unknown; nothing resends them.
    result = sweep_due(utcnow() + timedelta(minutes=10))
    db.session.remove()
    assert result["unknown"] == cut_off
    second = start_worker(SMTP_URL=inbox.url, STAGEGATE_TICK_SECONDS=3600)
    wait_for(lambda: Enrollment.query.filter(Enrollment.status == "active", Enrollment.position == 1).count() == 0
             or db.session.remove(), 90, what=f"the rest to be sent; worker log:\n{second.output()}")
    wait_for(lambda: _statuses().get("sending", 0) == 0, 30, what="the last send to be marked")

    per_address: dict = {}
    for _, recipients, _message in inbox.messages:
        for r in recipients:
            per_address[r] = per_address.get(r, 0) + 1
    assert max(per_address.values()) == 1, "an address got the same step twice"
    statuses = _statuses()
    assert statuses.get("unknown", 0) == cut_off
    assert statuses.get("sent", 0) + statuses.get("unknown", 0) == BATCH
    assert statuses.get("sent", 0) <= len(inbox.messages) <= BATCH
    unknown = {s.to_email for s in StepSend.query.filter_by(status="unknown")}
    assert all(per_address.get(a, 0) <= 1 for a in unknown)
    db.session.remove()
