"""The leads API as shared/API.md says: leads, events, contacts, task filters."""

import pytest

from app.auth.service import create_api_key
from app.models import Contact, Task
from app.models.leads import FitRule
from tests import factories


@pytest.fixture
def api(client, org):
    raw, _ = create_api_key(factories.user(org, "admin"), "leads test")
    headers = {"Authorization": f"Bearer {raw}"}

    def call(method, url, **kwargs):
        return client.open(url, method=method, headers=headers, **kwargs)

    return call


def test_posting_a_lead_scores_it_from_fit_alone(api, org):
    from app.extensions import db

    db.session.add(FitRule(org_id=org.id, field="industry", operator="in", value="Insurance", points=15))
    db.session.commit()
    response = api("POST", "/api/v1/leads", json={"email": "Pat@Broker.example", "name": "Pat", "company": "Broker",
                                                 "industry": "Insurance", "utm": {"source": "ads"}})
    assert response.status_code == 201
    body = response.json
    assert (body["score"], body["fit"], body["engagement"], body["hot"], body["status"]) == (15, 15, 0, False, "new")
    assert body["owner_email"] is None  # marketing's until it crosses MQL


def test_the_same_email_again_updates_and_answers_200(api, org):
    first = api("POST", "/api/v1/leads", json={"email": "pat@broker.example"}).json
    again = api("POST", "/api/v1/leads", json={"email": "PAT@broker.example", "title": "Owner"})
    assert again.status_code == 200 and again.json["contact_id"] == first["contact_id"]
    assert Contact.query.filter_by(org_id=org.id).count() == 1


@pytest.mark.parametrize("body, field", [
    ({"name": "No email"}, "email"),
    ({"email": "not an email"}, "email"),
    ({"email": "a@b.example", "name": "x" * 201}, "name"),
    ({"email": "a@b.example", "utm": "ads"}, "utm"),
    ({"email": "a@b.example", "utm": {"bogus": "x"}}, "utm.bogus"),
    ({"email": "a@b.example", "colour": "red"}, "colour"),
    ({"email": "a@b.example", "name": "\ud800"}, "name"),
    ({"email": 12}, "email"),
])
def test_bad_lead_bodies_name_the_field_and_write_nothing(api, org, body, field):
    response = api("POST", "/api/v1/leads", json=body)
    assert response.status_code == 422 and field in response.json["fields"]
    assert Contact.query.count() == 0


def test_a_body_that_is_not_json_is_400(api):
    response = api("POST", "/api/v1/leads", data=b"\xff\xfe", content_type="application/json")
    assert response.status_code == 400 and response.json["error"] == "bad_request"


def test_events_move_a_lead_to_mql_then_hot_with_one_task_each(api, org):
    contact_id = api("POST", "/api/v1/leads", json={"email": "lee@acme.example"}).json["contact_id"]
    assert api("POST", "/api/v1/events", json={"contact_email": "lee@acme.example", "type": "meeting_booked"}
               ).json == {"contact_id": contact_id, "score": 40, "hot": False, "status": "mql"}
    response = api("POST", "/api/v1/events", json={"contact_email": "LEE@acme.example", "type": "email_reply",
                                                   "at": "2026-01-01T10:00:00+00:00"})
    assert response.status_code == 202
    for _ in range(2):
        last = api("POST", "/api/v1/events", json={"contact_email": "lee@acme.example", "type": "meeting_booked"})
    assert last.json["hot"] is True and last.json["status"] == "hot"
    kinds = api("GET", f"/api/v1/tasks?contact_id={contact_id}").json["items"]
    assert sorted(t["kind"] for t in kinds) == ["hot_lead", "lead_follow_up"]
    hot = api("GET", f"/api/v1/tasks?contact_id={contact_id}&kind=hot_lead").json["items"]
    assert len(hot) == 1 and hot[0]["owner_email"] == factories.user(org, "rep").email


def test_an_event_for_an_unknown_email_is_404_unknown_contact(api):
    response = api("POST", "/api/v1/events", json={"contact_email": "ghost@nowhere.example", "type": "page_view"})
    assert response.status_code == 404 and response.json["error"] == "unknown_contact"


@pytest.mark.parametrize("body, field", [
    ({"contact_email": "a@b.example", "type": "sneeze"}, "type"),
    ({"contact_email": "a@b.example", "type": "page_view", "at": "yesterday"}, "at"),
    ({"contact_email": "a@b.example", "type": "page_view", "at": "2026-01-01T10:00:00"}, "at"),
    ({"type": "page_view"}, "contact_email"),
])
def test_bad_events_name_the_field(api, body, field):
    response = api("POST", "/api/v1/events", json=body)
    assert response.status_code == 422 and field in response.json["fields"]


def test_contact_shows_score_and_breakdown_that_adds_up(api, org):
    contact_id = api("POST", "/api/v1/leads", json={"email": "lee@acme.example", "name": "Lee"}).json["contact_id"]
    api("POST", "/api/v1/events", json={"contact_email": "lee@acme.example", "type": "form_fill"})
    api("POST", "/api/v1/events", json={"contact_email": "lee@acme.example", "type": "email_click"})
    body = api("GET", f"/api/v1/contacts/{contact_id}").json
    assert body["score"] == 25 == sum(item["points"] for item in body["breakdown"])
    assert {item["rule"] for item in body["breakdown"]} == {"form fill", "email click"}
    assert all(item["at"].endswith("+00:00") for item in body["breakdown"])
    found = api("GET", "/api/v1/contacts?email=LEE@acme.example").json["items"]
    assert [c["id"] for c in found] == [contact_id]


def test_another_organisations_contact_is_404(api, org):
    other = factories.make_org(name="Elsewhere")
    raw, _ = create_api_key(factories.user(other, "admin"), "other")
    from app.extensions import db

    theirs = Contact(org_id=other.id, email="secret@else.example")
    db.session.add(theirs)
    db.session.commit()
    assert api("GET", f"/api/v1/contacts/{theirs.id}").status_code == 404
    assert api("GET", "/api/v1/contacts?email=secret@else.example").json["items"] == []
    response = api("POST", "/api/v1/events", json={"contact_email": "secret@else.example", "type": "page_view"})
    assert response.status_code == 404
    assert api("GET", f"/api/v1/contacts/{2**40}").status_code == 404
    assert Task.query.count() == 0


def test_an_api_lead_starts_the_speed_to_lead_clock_at_arrival(api, org, client):
    from datetime import timedelta

    from app.leads.service import speed_to_lead
    from app.models import utcnow

    start = utcnow() - timedelta(minutes=1)
    body = api("POST", "/api/v1/leads", json={"email": "ivy@clinic.example", "name": "Ivy"}).json
    assert body["owner_email"] is None and body["status"] == "new"  # marketing's, and the clock runs
    figures = speed_to_lead(org.id, start, utcnow() + timedelta(minutes=1))
    assert (figures["n"], figures["touched"], figures["within_window_share"]) == (1, 0, 0.0)
    # The same lead again (an integration's retry or update) starts no second clock.
    assert api("POST", "/api/v1/leads", json={"email": "IVY@clinic.example"}).status_code == 200
    assert speed_to_lead(org.id, start, utcnow() + timedelta(minutes=1))["n"] == 1
    # Crossing MQL hands it to a rep, who then owns the clock that started at arrival.
    api("POST", "/api/v1/events", json={"contact_email": "ivy@clinic.example", "type": "meeting_booked"})
    rep = factories.user(org, "rep")
    client.post("/auth/login", data={"email": rep.email, "password": factories.PASSWORD})
    assert client.post(f"/contacts/{body['contact_id']}/activities",
                       data={"kind": "call", "body": "Called Ivy"}).status_code == 303
    figures = speed_to_lead(org.id, start, utcnow() + timedelta(minutes=1))
    assert (figures["n"], figures["touched"], figures["within_window_share"]) == (1, 1, 1.0)
    assert [(r["owner_email"], r["n"], r["touched"]) for r in figures["by_rep"]] == [(rep.email, 1, 1)]
