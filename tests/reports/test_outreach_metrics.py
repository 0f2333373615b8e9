"""Reply rate and visitor-to-customer from the sequences' and lead forms' rows, as METRICS.md defines them."""

from datetime import datetime, timedelta

from app.extensions import db
from app.models import Contact, Enrollment, Sequence
from app.models.leads import LeadForm, LeadFormView
from app.reports.service import Period, metrics
from tests import factories
from tests.reports.history import make_history

DAY = timedelta(days=1)


def _period(org, days=30):
    today = datetime.utcnow().date()
    return Period(today - timedelta(days=days - 1), today + DAY, org.zone)


def test_reply_rate_counts_enrollments_first_emailed_in_the_period_that_got_a_reply_later(org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    sequence = Sequence(org_id=org.id, name="Cold")
    db.session.add(sequence)
    db.session.flush()
    now = datetime.utcnow()
    rows = [  # (owner, first email sent, replied)
        (rep, now - 5 * DAY, now - 4 * DAY), (rep, now - 6 * DAY, None), (rep, now - 7 * DAY, None),
        (manager, now - 3 * DAY, now - 2 * DAY), (manager, None, None),  # never emailed: not counted
        (rep, now - 60 * DAY, now - 59 * DAY),  # first emailed before the period
    ]
    for i, (owner, sent, replied) in enumerate(rows):
        contact = Contact(org_id=org.id, email=f"p{i}@prospect.example")
        db.session.add(contact)
        db.session.flush()
        db.session.add(Enrollment(org_id=org.id, sequence_id=sequence.id, contact_id=contact.id, owner_id=owner.id,
                                  status="replied" if replied else "active", first_sent_at=sent, replied_at=replied))
    db.session.commit()
    pipeline = factories.pipeline(org)
    everyone = metrics(pipeline, _period(org), manager)
    assert everyone["reply_rate"] == 0.5 and everyone["replies"] == {"enrolled": 4, "replied": 2}
    assert "reply_rate" not in everyone["no_data"]
    assert metrics(pipeline, _period(org), rep)["reply_rate"] == 0.3333  # the rep's own: 1 of 3


def test_visitor_to_customer_divides_form_contacts_later_won_by_form_views(org):
    rep = factories.user(org, "rep")
    form = LeadForm(org_id=org.id, key="demo-form-key", name="Demo")
    db.session.add(form)
    db.session.flush()
    today = datetime.utcnow().date()
    for i in range(40):  # 40 views in the period, 5 before it
        db.session.add(LeadFormView(org_id=org.id, form_id=form.id, visitor=f"v{i}", day=today - timedelta(days=i % 20)))
    for i in range(5):
        db.session.add(LeadFormView(org_id=org.id, form_id=form.id, visitor=f"old{i}", day=today - timedelta(days=90)))
    now = datetime.utcnow()
    contacts = []
    for i in range(3):
        contact = Contact(org_id=org.id, email=f"lead{i}@buyer.example", source_form_id=form.id,
                          created_at=now - timedelta(days=10))
        db.session.add(contact)
        contacts.append(contact)
    db.session.add(Contact(org_id=org.id, email="typed@buyer.example", created_at=now - 10 * DAY))  # not from a form
    db.session.commit()
    t0 = now - 9 * DAY
    won = [("Qualified", t0), ("Discovery", t0 + DAY), ("Proposal", t0 + 2 * DAY), ("Negotiation", t0 + 3 * DAY),
           ("Closed Won", t0 + 4 * DAY)]
    make_history(org, rep, won, contact=contacts[0], title="Won from the form")
    make_history(org, rep, won[:2], contact=contacts[1], title="Still open")
    numbers = metrics(factories.pipeline(org), _period(org), factories.user(org, "admin"))
    assert numbers["visitors"] == {"views": 40, "form_contacts": 3, "customers": 1}
    assert numbers["visitor_to_customer"] == 0.025  # 1 / 40, inside the article's 2-5 % band


def test_without_sequences_or_forms_the_rates_are_null_and_say_no_data_yet(client, org, login_as):
    numbers = metrics(factories.pipeline(org), _period(org), factories.user(org, "admin"))
    assert numbers["reply_rate"] is None and numbers["visitor_to_customer"] is None
    assert set(numbers["no_data"]) == {"reply_rate", "visitor_to_customer", "speed_to_lead"}
    login_as("manager")
    page = client.get(f"/reports/{factories.pipeline(org).id}").get_data(as_text=True)
    assert page.count("No data yet") >= 2
