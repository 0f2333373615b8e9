"""A contacts import scores what it creates and updates through the one scoring service."""

from app.extensions import db
from app.models import Activity, Contact, Task
from app.models.leads import FitRule
from tests.imports.conftest import import_id_from, mapping_form, upload

CSV = (b"Email,Name,Job Title,Industry,Country\n"
       b"rita@harbour-insure.example,Rita,Head of Claims,Insurance,Portugal\n"
       b"tom@bakery.example,Tom,Owner,Retail,Spain\n")


def _import(client, content):
    import_id = import_id_from(upload(client, content, "leads.csv", "contacts"))
    page = client.get(f"/imports/{import_id}/mapping").get_data(as_text=True)
    assert client.post(f"/imports/{import_id}/mapping", data=mapping_form(page)).status_code == 303
    return import_id


def test_imported_contacts_are_scored_by_the_fit_rules_and_cross_once(client, org, login_as, drain):
    db.session.add_all([FitRule(org_id=org.id, field="industry", operator="in", value="Insurance", points=30),
                        FitRule(org_id=org.id, field="title", operator="contains", value="head", points=15)])
    db.session.commit()
    login_as("admin")
    _import(client, CSV)
    drain()
    rita = Contact.query.filter_by(email="rita@harbour-insure.example").one()
    tom = Contact.query.filter_by(email="tom@bakery.example").one()
    assert (rita.fit_score, rita.lead_score, rita.score_level) == (45, 45, "mql")
    assert rita.lead_facts == {"industry": "Insurance", "country": "Portugal"}
    assert (tom.lead_score, tom.score_level) == (0, "new")
    assert Task.query.filter_by(contact_id=rita.id, kind="lead_follow_up").count() == 1  # the hand-off
    assert Activity.query.filter_by(contact_id=rita.id, kind="lead").count() == 1  # "Became MQL" on the timeline
    page = client.get(f"/contacts/{rita.id}").get_data(as_text=True)
    assert "+30 industry Insurance" in page
    # The same file again, and an update that keeps Rita an MQL: no second crossing.
    _import(client, CSV)
    drain()
    _import(client, b"Email,Job Title\nrita@harbour-insure.example,Head of Claims and Fraud\n")
    drain()
    assert Task.query.filter_by(contact_id=rita.id).count() == 1
    # An update that the fit rules now like raises Tom's score.
    _import(client, b"Email,Industry\ntom@bakery.example,Insurance\n")
    drain()
    tom = db.session.get(Contact, tom.id)
    assert (tom.lead_score, tom.score_level) == (30, "new")
