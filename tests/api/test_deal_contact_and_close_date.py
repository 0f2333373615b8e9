"""A deal's contact (by email) and expected close date through the API: create, read, edit, and the
422s for bad dates and bad emails, which write nothing; another organisation's contact stays its own."""

import pytest

from app.extensions import db
from app.models import Contact, Deal
from tests import factories
from tests.api.conftest import row_counts

ENTRY = {"icp_confirmed": True, "pain": "Losing renewals to a competitor"}


def post_deal(client, headers, pipeline, **body):
    return client.post("/api/v1/deals", headers=headers, json={"pipeline_id": pipeline.id, "title": "Acme", **body})


def test_a_deal_is_created_with_its_contact_and_expected_close_date_and_read_back(client, org, admin_h, pipeline):
    response = post_deal(client, admin_h, pipeline, facts=ENTRY, contact_email=" Dana@Acme.example ",
                         expected_close_date="2031-11-03")
    assert response.status_code == 201, response.json
    assert response.json["contact_email"] == "dana@acme.example"
    assert response.json["expected_close_date"] == "2031-11-03"
    dana = Contact.query.filter_by(org_id=org.id, email="dana@acme.example").one()  # added to the organisation
    read = client.get(f"/api/v1/deals/{response.json['id']}", headers=admin_h).json
    assert (read["contact_email"], read["expected_close_date"]) == ("dana@acme.example", "2031-11-03")
    # The same email again is the same contact, not a second one.
    again = post_deal(client, admin_h, pipeline, facts=ENTRY, contact_email="dana@acme.example")
    assert again.json["expected_close_date"] is None
    assert db.session.get(Deal, again.json["id"]).contact_id == dana.id
    listed = client.get("/api/v1/deals", headers=admin_h).json["items"]
    assert {d["contact_email"] for d in listed} == {"dana@acme.example"}


def test_patch_sets_clears_and_keeps_the_expected_close_date(client, org, admin_h, pipeline):
    deal = post_deal(client, admin_h, pipeline, facts=ENTRY).json
    url = f"/api/v1/deals/{deal['id']}"
    set_ = client.patch(url, headers=admin_h, json={"version": deal["version"], "expected_close_date": "2031-12-24"})
    assert set_.status_code == 200 and set_.json["expected_close_date"] == "2031-12-24"
    kept = client.patch(url, headers=admin_h, json={"version": set_.json["version"], "title": "Acme 2"})
    assert kept.json["expected_close_date"] == "2031-12-24"
    cleared = client.patch(url, headers=admin_h, json={"version": kept.json["version"], "expected_close_date": None})
    assert cleared.status_code == 200 and cleared.json["expected_close_date"] is None
    stale = client.patch(url, headers=admin_h, json={"version": deal["version"], "expected_close_date": "2032-01-01"})
    assert stale.status_code == 409 and stale.json["error"] == "conflict"
    assert client.get(url, headers=admin_h).json["expected_close_date"] is None


BAD_DATES = ["2031-02-30", "2031-13-01", "03/11/2031", "20311103", "2031-W45-2", " 2031-11-03", "2031-11-03T00:00",
             "", "1969-12-31", "2101-01-01", 20311103, True, ["2031-11-03"], "２０３１-11-03"]


@pytest.mark.parametrize("value", BAD_DATES, ids=[repr(v) for v in BAD_DATES])
def test_a_bad_expected_close_date_is_a_422_naming_it_and_writes_nothing(client, org, admin_h, pipeline, value):
    deal = post_deal(client, admin_h, pipeline, facts=ENTRY).json
    before = row_counts()
    created = post_deal(client, admin_h, pipeline, facts=ENTRY, contact_email="new@acme.example",
                        expected_close_date=value)
    assert created.status_code == 422 and created.json["error"] == "invalid"
    assert created.json["fields"]["expected_close_date"].startswith("must be a date")
    patched = client.patch(f"/api/v1/deals/{deal['id']}", headers=admin_h,
                           json={"version": deal["version"], "expected_close_date": value})
    assert patched.status_code == 422 and "expected_close_date" in patched.json["fields"]
    assert row_counts() == before


@pytest.mark.parametrize("email", ["dana", "dana@", "dana@acme", "dana@acme.test", "dana acme@x.example", 7, "a" * 250 + "@x.io"])
def test_a_bad_contact_email_is_a_422_naming_it_and_writes_nothing(client, org, admin_h, pipeline, email):
    before = row_counts()
    response = post_deal(client, admin_h, pipeline, facts=ENTRY, contact_email=email)
    assert response.status_code == 422 and "contact_email" in response.json["fields"], response.json
    assert row_counts() == before


def test_a_gate_refusal_adds_no_contact(client, org, admin_h, pipeline):
    before = row_counts()
    response = post_deal(client, admin_h, pipeline, contact_email="early@acme.example", expected_close_date="2031-01-01")
    assert response.status_code == 422 and response.json["error"] == "gate"
    assert row_counts() == before


def test_another_organisations_contact_is_never_attached(client, org, admin_h, pipeline):
    elsewhere = factories.make_org()
    theirs = factories.make_contact(elsewhere, email="shared@buyer.example", name="Their Contact")
    response = post_deal(client, admin_h, pipeline, facts=ENTRY, contact_email="shared@buyer.example")
    assert response.status_code == 201
    deal = db.session.get(Deal, response.json["id"])
    # A contact of this organisation with that email, not theirs (nothing of theirs read or changed).
    assert deal.contact.org_id == org.id and deal.contact_id != theirs.id and deal.contact.name == ""
    db.session.expire_all()
    assert db.session.get(Contact, theirs.id).name == "Their Contact"
    assert Contact.query.filter_by(org_id=elsewhere.id).count() == 1
    # Their deal is a 404 to this key, and so is editing its date.
    their_deal = factories.make_deal(elsewhere)
    assert client.get(f"/api/v1/deals/{their_deal.id}", headers=admin_h).status_code == 404
    patched = client.patch(f"/api/v1/deals/{their_deal.id}", headers=admin_h,
                           json={"version": their_deal.version, "expected_close_date": "2031-01-01"})
    assert patched.status_code == 404
