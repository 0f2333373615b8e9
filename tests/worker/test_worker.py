"""The worker that never forgets: a real RQ worker process, SIGKILL mid-sweep, Redis down."""

import logging
import os
import signal

from rq import SimpleWorker
from rq.job import JobStatus

from app.extensions import db
from app.jobs import run_due
from app.models import Notification, Task
from app.queue import enqueue_after_commit, get_queue
from tests import factories
from tests.tasks.helpers import stale_deal
from tests.worker.conftest import DOWN_REDIS_URL, REDIS_URL, wait_for


def counts():
    db.session.remove()  # a fresh read each time; never hold SQLite's lock while the worker writes
    reminders = Task.query.filter_by(kind="stale_reminder").all()
    notes = Notification.query.filter_by(kind="stale").count()
    db.session.remove()
    return reminders, notes


def test_real_worker_process_runs_an_enqueued_run_due_and_creates_the_reminder(org, queue, start_worker):
    deal = stale_deal(org, 8, max_days=7)
    expected = [(deal.id, deal.owner_id)]
    db.session.remove()
    worker = start_worker(STAGEGATE_TICK_SECONDS=0)  # no tick: only the job we enqueue runs
    job = queue.enqueue(run_due)
    wait_for(lambda: job.get_status(refresh=True) in (JobStatus.FINISHED, JobStatus.FAILED), 20,
             what=f"the worker to run the job; its log:\n{worker.output()}")
    assert job.get_status() == JobStatus.FINISHED, worker.output()
    assert job.return_value()["stale_reminders"] == {"created": 1, "resolved": 0}
    reminders, notes = counts()
    assert [(t.deal_id, t.owner_id) for t in reminders] == expected and notes == 1


def test_sigkill_mid_sweep_then_restart_leaves_exactly_one_reminder_per_stale_stay(org, queue, start_worker):
    deal_ids = sorted(stale_deal(org, 9, max_days=7, title=f"Stale {i}").id for i in range(25))
    db.session.remove()
    first = start_worker(STAGEGATE_SWEEP_PAUSE=60, STAGEGATE_TICK_SECONDS=3600)  # ticks once on start
    wait_for(first.horse_pids, 20, what=f"the sweep to start; worker log:\n{first.output()}")
    assert "25 reminders inserted" in first.output()  # inside the sweep's transaction, not committed
    for pid in first.horse_pids():
        os.kill(pid, signal.SIGKILL)
    first.kill(signal.SIGKILL)
    assert counts() == ([], 0)  # killed before commit: nothing half-done

    second = start_worker(STAGEGATE_TICK_SECONDS=3600)  # its first tick picks the work up
    wait_for(lambda: len(counts()[0]) == 25, 20, what=f"the reminders; worker log:\n{second.output()}")
    again = queue.enqueue(run_due)  # and the sweep running once more does nothing twice
    wait_for(lambda: again.get_status(refresh=True) == JobStatus.FINISHED, 20, what="the second run")
    assert again.return_value()["stale_reminders"]["created"] == 0
    reminders, notes = counts()
    assert sorted(t.deal_id for t in reminders) == deal_ids  # exactly one per stale stay
    assert notes == 25


def test_web_app_keeps_working_while_redis_is_down_and_the_work_happens_when_it_returns(
        app, client, org, queue, monkeypatch, caplog):
    rep = factories.user(org, "rep")
    deal = stale_deal(org, 8, max_days=7, owner=rep, title="Waiting Umbrella deal")
    stale_id, pipeline_id = deal.id, deal.pipeline_id
    pipeline = factories.pipeline(org)
    first, second = pipeline.open_stages[0], pipeline.open_stages[1]
    moving = factories.make_deal(org, second.name, owner=rep, title="Moving deal")
    monkeypatch.setitem(app.config, "REDIS_URL", DOWN_REDIS_URL)
    client.post("/auth/login", data={"email": rep.email, "password": factories.PASSWORD})

    with caplog.at_level(logging.WARNING, logger="app.queue"):
        assert client.get(f"/deals/board/{pipeline_id}").status_code == 200
        assert client.get("/tasks/").status_code == 200
        moved = client.post(f"/deals/{moving.id}/move", data={"stage_id": str(first.id), "version": str(moving.version)},
                            headers={"HX-Request": "true"})
        assert moved.status_code == 200, moved.get_data(as_text=True)
        added = client.post("/tasks/", data={"title": "Call them back", "kind": "call"},
                            headers={"HX-Request": "true"})
        assert added.status_code == 200 and "Call them back" in added.get_data(as_text=True)
        enqueue_after_commit(run_due)  # what a POST does after its work: wake the worker
        db.session.commit()  # the wake-up fails; the commit and the request do not
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)
    db.session.expire_all()
    assert db.session.get(type(moving), moving.id).stage_id == first.id
    assert counts() == ([], 0)  # nothing ran yet, and nothing is lost either: the rows are due

    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)  # Redis is back: the next tick runs
    get_queue().enqueue(run_due)
    SimpleWorker([get_queue()], connection=get_queue().connection).work(burst=True)
    reminders, notes = counts()
    assert [t.deal_id for t in reminders] == [stale_id] and notes == 1
