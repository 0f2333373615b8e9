"""The daily cap is a cap: several `flask run-due` and two real workers at once never pass it."""

import os
import subprocess
import sys

from app.extensions import db
from app.models import Enrollment, SenderDay, StepSend, utcnow
from app.sequences import service
from tests import factories
from tests.factories import make_contact
from tests.sequences.conftest import make_sequence
from tests.worker.conftest import ROOT, queue, real_redis, start_worker, wait_for  # noqa: F401, F811

CAP = 5
DUE = 20


def _settled() -> bool:
    now = utcnow()
    busy = Enrollment.query.filter(Enrollment.status == "active", Enrollment.next_due_at <= now).count() \
        + StepSend.query.filter_by(status="sending").count()
    db.session.remove()  # never hold SQLite's lock while the processes write
    return busy == 0


def test_four_sweeps_and_two_workers_at_once_send_exactly_the_cap(app, org, smtp, start_worker):  # noqa: F811
    inbox = smtp(delay=0.2)  # each message takes a moment, so the processes overlap
    rep = factories.user(org, "rep")
    sequence = make_sequence(org, factories.user(org, "manager"), daily_cap=CAP)
    for i in range(DUE):
        service.enroll(sequence, make_contact(org, f"c{i}@cap.example", f"C{i}", None), rep, commit=False)
    db.session.commit()
    rep_id = rep.id
    db.session.remove()

    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SMTP_URL": inbox.url,
           "SECRET_KEY": "worker-test", "FLASK_APP": "wsgi", "REDIS_URL": "",
           "BASE_URL": app.config["BASE_URL"]}  # https, as the workers': without it a sweep holds every step
    env.pop("STAGEGATE_EMBEDDED_WORKER", None)
    sweeps = [subprocess.Popen([sys.executable, "-m", "flask", "run-due"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    workers = [start_worker(SMTP_URL=inbox.url, STAGEGATE_TICK_SECONDS=3600) for _ in range(2)]  # each ticks on start
    outputs = [p.communicate(timeout=180)[0] for p in sweeps]
    assert all(p.returncode == 0 for p in sweeps), outputs
    wait_for(_settled, 90, what="every due step to be sent or held for tomorrow; worker logs:\n"
             + "\n".join(w.output() for w in workers))
    wait_for(lambda: all("Job OK" in w.output() for w in workers), 60, what="both workers to have run their tick")
    wait_for(_settled, 30, what="the workers' ticks to settle")

    assert len(inbox.messages) == CAP, outputs
    assert len({r for _, rcpts, _ in inbox.messages for r in rcpts}) == CAP
    assert StepSend.query.filter_by(status="sent").count() == CAP
    assert db.session.query(SenderDay.sent).filter_by(user_id=rep_id).scalar() == CAP
    tomorrow = Enrollment.query.filter(Enrollment.position == 1).all()
    assert len(tomorrow) == DUE - CAP and all(e.next_due_at > utcnow() for e in tomorrow)
    db.session.remove()
