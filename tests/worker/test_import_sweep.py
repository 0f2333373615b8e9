"""A real `python worker.py` finishes imports that lost their wake-up or their worker."""

from datetime import timedelta

from app.extensions import db
from app.imports.service import confirm_mapping, start_import
from app.models import Contact, ImportJob, ImportRow, utcnow
from tests import factories
from tests.worker.conftest import DOWN_REDIS_URL, wait_for

PEOPLE = "Name,Email\n" + "".join(f"Person {i},person{i}@example.com\n" for i in range(1, 6))


def _import(org, name):
    admin = factories.user(org, "admin")
    job = start_import(admin, "contacts", name, PEOPLE.replace("person", f"{name[:3]}-person"), "", None)
    confirm_mapping(job, job.mapping)  # its wake-up goes to a Redis that is down: lost
    return job.id


def _statuses(ids):
    db.session.remove()  # a fresh read; never hold SQLite's lock while the worker writes
    found = {j.id: j.status for j in ImportJob.query.filter(ImportJob.id.in_(ids))}
    db.session.remove()
    return [found[i] for i in ids]


def test_the_worker_tick_finishes_a_queued_import_and_one_whose_worker_died(app, org, queue, start_worker,
                                                                           monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", DOWN_REDIS_URL)
    org_id = org.id
    queued = _import(org, "queued.csv")
    stalled = _import(org, "stalled.csv")
    # The second one's worker was killed after committing rows 2-3.
    for n in (2, 3):
        db.session.add(Contact(org_id=org.id, email=f"sta-person{n - 1}@example.com", name="Before the crash"))
        db.session.add(ImportRow(org_id=org.id, import_id=stalled, row_number=n, outcome="created"))
    for job_id, status in ((queued, "queued"), (stalled, "running")):
        job = db.session.get(ImportJob, job_id)
        job.status, job.progress_at = status, utcnow() - timedelta(minutes=5)
        if status == "running":
            job.processed = job.created_count = 2
    db.session.commit()
    assert _statuses([queued, stalled]) == ["queued", "running"] and len(queue) == 0

    worker = start_worker(STAGEGATE_TICK_SECONDS=3600)  # ticks once on start: the sweep finds both
    wait_for(lambda: _statuses([queued, stalled]) == ["done", "done"], 30,
             what=f"both imports to finish; worker log:\n{worker.output()}")
    jobs = {j.id: j for j in ImportJob.query.filter(ImportJob.id.in_([queued, stalled]))}
    assert [(jobs[i].processed, jobs[i].created_count) for i in (queued, stalled)] == [(5, 5), (5, 5)]
    assert Contact.query.filter_by(org_id=org_id).count() == 10
    assert Contact.query.filter_by(email="sta-person1@example.com").one().name == "Before the crash"
    db.session.remove()
