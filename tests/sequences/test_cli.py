"""flask run-due --now runs the sweeps as of a later time: a multi-day schedule in one drill."""

from datetime import timedelta

from app.models import Enrollment, StepSend, Task, utcnow
from app.sequences import service
from tests.factories import make_contact


def test_run_due_now_walks_a_sequence_through_its_days(app, org, sequence, rep, smtp):
    inbox = smtp()
    contact = make_contact(org)
    service.enroll(sequence, contact, rep)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["run-due"])
    assert first.exit_code == 0 and "sequence_steps:" in first.output and "1 sent" in first.output
    later = (utcnow() + timedelta(days=3, hours=1)).isoformat() + "+00:00"
    second = runner.invoke(args=["run-due", "--now", later])
    assert "1 sent" in second.output
    last = (utcnow() + timedelta(days=5, hours=2)).isoformat() + "+00:00"
    third = runner.invoke(args=["run-due", "--now", last])
    assert "1 task" in third.output
    seen = [(rcpts, m["Subject"]) for _, rcpts, m in inbox.messages]
    assert len(inbox.to(contact.email)) == 2, (first.output, second.output, third.output, seen, contact.email)
    assert StepSend.query.filter_by(status="sent").count() == 2
    assert Task.query.filter_by(kind="call").count() == 1 and Enrollment.query.one().status == "finished"


def test_run_due_now_refuses_a_time_it_cannot_read(app):
    result = app.test_cli_runner().invoke(args=["run-due", "--now", "next tuesday"])
    assert result.exit_code != 0 and "must be ISO 8601" in result.output
