"""Imports that lost their wake-up or their worker are found by the periodic sweep and finished."""

from datetime import timedelta

from app.extensions import db
from app.models import Contact, ImportJob, ImportRow, utcnow
from app.queue import get_queue
from app.sweeps import SWEEPS, run_all
from tests.imports.test_import import _start

PEOPLE = ("Name,Email\n" + "".join(f"Person {i},person{i}@example.com\n" for i in range(1, 6))).encode()


def _quiet_for(import_id, minutes, **changes):
    """Make an import look as if nothing had happened to it for `minutes` (and apply `changes`)."""
    job = db.session.get(ImportJob, import_id)
    job.progress_at = utcnow() - timedelta(minutes=minutes)
    for name, value in changes.items():
        setattr(job, name, value)
    db.session.commit()


def _job(import_id):
    db.session.expire_all()
    return db.session.get(ImportJob, import_id)


def test_a_queued_import_whose_wake_up_was_lost_is_finished_after_the_next_sweep(client, org, login_as, drain):
    login_as("admin")
    import_id, _ = _start(client, PEOPLE, "people.csv", "contacts")
    get_queue().empty()  # the wake-up is lost (Redis was down when the mapping was confirmed)
    assert "resume_imports" in dict(SWEEPS)
    assert run_all()["resume_imports"] == {"resumed": 0}  # queued a moment ago: not stuck yet
    drain()
    assert _job(import_id).status == "queued"

    _quiet_for(import_id, 3)
    assert run_all()["resume_imports"] == {"resumed": 1}
    assert run_all()["resume_imports"] == {"resumed": 0}  # woken once, not on every tick
    drain()
    job = _job(import_id)
    assert (job.status, job.processed, job.created_count) == ("done", 5, 5)
    assert Contact.query.filter_by(org_id=org.id).count() == 5


def test_a_running_import_quiet_for_two_minutes_resumes_at_its_first_uncommitted_row(
        client, org, login_as, drain):
    login_as("admin")
    import_id, _ = _start(client, PEOPLE, "people.csv", "contacts")
    get_queue().empty()
    # Its worker was killed after committing rows 2-3: their contacts and row records exist.
    for n in (2, 3):
        db.session.add(Contact(org_id=org.id, email=f"person{n - 1}@example.com", name="Before the crash"))
        db.session.add(ImportRow(org_id=org.id, import_id=import_id, row_number=n, outcome="created"))
    _quiet_for(import_id, 1, status="running", processed=2, created_count=2)
    assert run_all()["resume_imports"] == {"resumed": 0}  # one quiet minute may be a slow batch
    _quiet_for(import_id, 2.5)
    assert run_all()["resume_imports"] == {"resumed": 1}
    drain()
    job = _job(import_id)
    assert (job.status, job.processed, job.created_count) == ("done", 5, 5)
    assert Contact.query.filter_by(org_id=org.id).count() == 5
    assert Contact.query.filter_by(email="person1@example.com").one().name == "Before the crash"


def test_finished_failed_and_unconfirmed_imports_are_left_to_people(client, org, login_as, drain):
    login_as("admin")
    done_id, _ = _start(client, PEOPLE, "done.csv", "contacts")
    drain()
    failed_id, _ = _start(client, PEOPLE, "failed.csv", "contacts")
    get_queue().empty()
    _quiet_for(done_id, 10)
    _quiet_for(failed_id, 10, status="failed")
    assert run_all()["resume_imports"] == {"resumed": 0}
    assert len(get_queue()) == 0


def test_resume_is_offered_on_any_import_that_is_not_done_and_carries_it_on(client, org, login_as, drain):
    login_as("manager")
    import_id, _ = _start(client, PEOPLE, "people.csv", "contacts")
    get_queue().empty()
    page = client.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "Waiting for the worker" in page and "Resume the import</button>" in page
    _quiet_for(import_id, 0, status="running")
    assert "Resume the import</button>" in client.get(f"/imports/{import_id}").get_data(as_text=True)
    response = client.post(f"/imports/{import_id}/resume", follow_redirects=True)
    assert "carry on from the first row not yet imported" in response.get_data(as_text=True)
    drain()
    assert _job(import_id).status == "done"
    page = client.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "Import finished" in page and "Resume the import" not in page
    again = client.post(f"/imports/{import_id}/resume", follow_redirects=True)
    assert "already finished" in again.get_data(as_text=True)
