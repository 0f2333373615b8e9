"""Imports commit rows in batches, a savepoint per row: a bad row costs only itself."""

import csv
import io

import pytest

from app.extensions import db
from app.imports import service
from app.models import Company, Contact, Deal, ImportJob, ImportRow
from tests import factories
from tests.imports.conftest import import_id_from, mapping_form, upload

HEADER = ["Deal - Title", "Deal - Value", "Deal - Stage", "Deal - Organization", "Person - Email",
          "Deal - Deal created", "Deal - ICP confirmed", "Deal - Pain identified"]
ROWS = [
    ["Good Acme", "1000", "Qualified", "Acme Ltd", "ann@acme.example.com", "2024-03-01", "Yes", "Slow quotes"],
    # Refused by the gate (Qualified needs its facts): its new company and contact must not stay.
    ["Refused Initech", "2000", "Qualified", "Initech", "ian@initech.example.com", "2024-03-02", "", ""],
    ["Bad value Globex", "lots", "Discovery", "Globex", "gus@globex.example.com", "2024-03-03", "", ""],
    ["Good Acme qualified", "3000", "Qualified", "Acme Ltd", "ann@acme.example.com", "2024-03-04", "Yes",
     "Manual quoting"],
    ["Bad date Umbrella", "4000", "Discovery", "Umbrella", "uma@umbrella.example.com", "31/31/2024", "", ""],
    # The company and contact the refused row would have created: created now, exactly once.
    ["Good Initech", "5000", "Qualified", "Initech", "ian@initech.example.com", "2024-03-06", "Yes", "Churn"],
]


def _csv(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode()


def _queue(client, content, kind="deals", pipeline=None):
    import_id = import_id_from(upload(client, content, "batch.csv", kind, pipeline))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert client.post(f"/imports/{import_id}/mapping", data=mapping_form(page)).status_code == 303
    return import_id


def _report(client, import_id):
    text = client.get(f"/imports/{import_id}/errors.csv").get_data(as_text=True).lstrip("\ufeff")
    by_row: dict = {}
    for row, column, problem, imported in list(csv.reader(io.StringIO(text)))[1:]:
        by_row.setdefault(int(row), []).append((column, problem, imported))
    return by_row


def _state(org):
    return (sorted(d.title for d in Deal.query.filter_by(org_id=org.id)),
            sorted(c.name for c in Company.query.filter_by(org_id=org.id)),
            sorted(c.email for c in Contact.query.filter_by(org_id=org.id)))


def test_a_batch_with_a_refused_row_and_a_bad_value_keeps_every_good_row_and_reruns_create_nothing(
        client, org, login_as, drain):
    login_as("admin")
    import_id = _queue(client, _csv(ROWS), pipeline=factories.pipeline(org))
    drain()  # all six rows are one batch

    deals, companies, contacts = _state(org)
    assert deals == ["Good Acme", "Good Acme qualified", "Good Initech"]
    assert companies == ["Acme Ltd", "Initech"]
    assert contacts == ["ann@acme.example.com", "ian@initech.example.com"]
    initech = Deal.query.filter_by(org_id=org.id, title="Good Initech").one()
    assert initech.company.name == "Initech" and initech.contact.email == "ian@initech.example.com"

    report = _report(client, import_id)
    assert sorted(report) == [3, 4, 6]
    assert {p for _, p, _ in report[3]} == {"ICP confirmed is required to enter Qualified",
                                            "Pain identified is required to enter Qualified"}
    assert report[4][0][0] == "Deal - Value" and report[4][0][1].startswith("Amount ")
    assert report[6] == [("Deal - Deal created", "“31/31/2024” is not a date (use YYYY-MM-DD)", "no")]
    page = client.get(f"/imports/{import_id}").get_data(as_text=True)
    assert "<strong>3</strong> added" in page and "<strong>3</strong> not imported" in page

    # Run the same job again, as if a worker picked it up after a crash: nothing is created twice.
    job = db.session.get(ImportJob, import_id)
    job.status = "running"
    db.session.commit()
    service.run_import(import_id)
    db.session.expire_all()
    assert _state(org) == (deals, companies, contacts)
    assert ImportRow.query.filter_by(import_id=import_id).count() == 6
    job = db.session.get(ImportJob, import_id)
    assert (job.status, job.processed, job.created_count, job.error_count) == ("done", 6, 3, 3)


class _WorkerDied(BaseException):
    """Stands for the process being killed mid-batch (not an error a row could catch)."""


def test_a_crash_mid_batch_loses_only_that_batch_and_the_rerun_finishes_it_once(
        client, org, login_as, monkeypatch):
    login_as("admin")
    rows = "".join(f"Person {i},person{i}@example.com\n" for i in range(1, 6))
    import_id = _queue(client, ("Name,Email\n" + rows).encode(), kind="contacts")
    real_row = service._Importer.contact_row
    calls = []

    def dies_on_the_fourth_row(self, cells):
        calls.append(cells)
        if len(calls) == 4:
            raise _WorkerDied()
        return real_row(self, cells)

    monkeypatch.setattr(service._Importer, "contact_row", dies_on_the_fourth_row)
    with pytest.raises(_WorkerDied):
        service.run_import(import_id, batch_rows=2)
    db.session.rollback()  # the dead worker's open transaction is gone
    db.session.expire_all()
    # Rows 2-3 (the first batch) are in; row 4 was imported but its batch never committed.
    assert sorted(c.email for c in Contact.query.filter_by(org_id=org.id)) == [
        "person1@example.com", "person2@example.com"]
    assert [r.row_number for r in ImportRow.query.filter_by(import_id=import_id)] == [2, 3]
    job = db.session.get(ImportJob, import_id)
    assert (job.processed, job.created_count) == (2, 2)

    monkeypatch.setattr(service._Importer, "contact_row", real_row)
    assert service.run_import(import_id, batch_rows=2)["status"] == "done"
    db.session.expire_all()
    assert Contact.query.filter_by(org_id=org.id).count() == 5
    assert sorted(r.row_number for r in ImportRow.query.filter_by(import_id=import_id)) == [2, 3, 4, 5, 6]
    job = db.session.get(ImportJob, import_id)
    assert (job.status, job.processed, job.created_count, job.error_count) == ("done", 5, 5, 0)
