"""Submissions that pile up before the worker runs are made into leads in one batch, with the same
result as one by one, in a number of statements that does not grow with the batch."""

from sqlalchemy import event

from app.extensions import db
from app.models import Company, Contact, Task
from app.models.leads import LeadCrossing, LeadSubmission
from tests.conftest import drain_queue
from tests.leads.conftest import token_of


def _post(client, form, address="203.0.113.7", **fields):
    """A person's submission over HTTP (from their own address); the worker has not run yet."""
    where = {"REMOTE_ADDR": address}
    token = token_of(client.get(f"/f/{form.key}", environ_base=where).get_data(as_text=True))
    response = client.post(f"/f/{form.key}", data={"_t": token, **fields}, environ_base=where)
    assert response.status_code == 200 and "Thank you" in response.get_data(as_text=True)


def test_a_backlog_becomes_the_same_leads_as_one_by_one(client, org, make_form):
    form = make_form()
    _post(client, form, f_email="ana@lima-dental.example", f_name="Ana", f_company="Lima Dental")
    _post(client, form, f_email="bo@lima-dental.example", f_name="Bo", f_company="lima dental")
    _post(client, form, f_email="ana@lima-dental.example", f_name="Ana Lima")  # the same person again
    _post(client, form, f_email="cy@other.example", f_name="Cy")
    assert LeadSubmission.query.filter(LeadSubmission.processed_at.is_(None)).count() == 4
    assert Contact.query.count() == 0  # answered before the work

    drain_queue()

    assert LeadSubmission.query.filter(LeadSubmission.processed_at.is_(None)).count() == 0
    assert Company.query.filter(db.func.lower(Company.name) == "lima dental").count() == 1
    ana = Contact.query.filter_by(email="ana@lima-dental.example").one()
    bo = Contact.query.filter_by(email="bo@lima-dental.example").one()
    cy = Contact.query.filter_by(email="cy@other.example").one()
    assert Contact.query.count() == 3 and ana.name == "Ana Lima"
    # Two form fills: 40 points, MQL, as if the second came after the first was processed.
    assert (ana.lead_score, ana.score_level, bo.lead_score, cy.lead_score) == (40, "mql", 20, 20)
    assert ana.company_id == bo.company_id and bo.owner_id == ana.owner_id  # the company's owner
    titles = sorted(t.title for t in Task.query.filter_by(contact_id=ana.id, kind="lead_follow_up"))
    assert len(titles) == 2 and "(MQL)" in titles[0] and titles[1] == "Follow up: Ana filled in Contact us"
    assert cy.owner_id is not None and Task.query.filter_by(contact_id=cy.id).count() == 1
    assert LeadCrossing.query.filter_by(contact_id=ana.id, kind="arrival").count() == 2
    assert [s.created_new for s in LeadSubmission.query.filter_by(contact_id=ana.id).order_by(LeadSubmission.id)] \
        == [True, False]


def test_the_worker_reads_and_writes_a_backlog_in_a_handful_of_statements(app, client, org, make_form):
    form = make_form()
    for i in range(30):
        _post(client, form, f"203.0.113.{i + 10}", f_email=f"lead{i}@co{i % 5}.example", f_name=f"Lead {i}", f_company=f"Co {i % 5}")
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement.split("\n")[0][:90])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        drain_queue()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert Contact.query.count() == 30 and Task.query.filter_by(kind="lead_follow_up").count() == 30
    # One by one this took about 40 statements a submission (1,200 here). On PostgreSQL a batch takes a
    # fixed few; SQLite gets no multi-row INSERT ... RETURNING from SQLAlchemy's ORM, so there the four
    # rows a lead adds (activity, event, task, notification) are one statement each.
    bound = 60 if db.engine.dialect.name == "postgresql" else 60 + 4 * 30
    assert len(statements) < bound, statements
