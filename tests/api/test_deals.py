"""Deals through the API: create, list, read, edit, move and history, all through the gate."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import Contact, Deal, StageTransition, utcnow
from tests import factories
from tests.api.conftest import row_counts

ENTRY = {"icp_confirmed": True, "pain": "Losing renewals to a competitor"}


def stage_id(pipeline, name):
    return factories.stage(pipeline, name).id


@pytest.fixture
def manager_h(key_for):
    return key_for("manager")


def post_deal(client, headers, pipeline, **body):
    return client.post("/api/v1/deals", headers=headers, json={"pipeline_id": pipeline.id, **body})


def test_create_deal_enters_first_open_stage_and_answers_201(client, org, admin_h, pipeline):
    before = utcnow()
    response = post_deal(client, admin_h, pipeline, title="Acme renewal", amount="12500",
                         facts=ENTRY)
    assert response.status_code == 201, response.json
    deal = response.json
    assert response.headers["Location"].endswith(f"/api/v1/deals/{deal['id']}")
    assert set(deal) == {"id", "title", "pipeline_id", "stage_id", "status", "owner_email", "amount",
                         "currency", "facts", "facts_meta", "version", "stage_entered_at", "created_at",
                         "closed_at", "company_id", "company", "contact_email", "expected_close_date"}
    # Every fact the key wrote says so (shared/API.md: facts_meta).
    assert {k: v["source"] for k, v in deal["facts_meta"].items()} == {k: "api" for k in ENTRY}
    assert deal["title"] == "Acme renewal"
    assert deal["stage_id"] == stage_id(pipeline, "Qualified")
    assert deal["status"] == "open" and deal["closed_at"] is None
    assert deal["amount"] == "12500.00" and deal["currency"] == "USD"
    assert deal["owner_email"] == factories.user(org, "admin").email
    assert deal["facts"] == ENTRY and deal["version"] == 1
    created = datetime.fromisoformat(deal["created_at"])
    assert created.utcoffset() == timedelta(0) and created.replace(tzinfo=None) >= before.replace(microsecond=0)


def test_create_deal_without_entry_facts_is_refused_by_the_gate_and_writes_nothing(
        client, org, admin_h, pipeline):
    before = row_counts()
    response = post_deal(client, admin_h, pipeline, title="Acme", facts={"icp_confirmed": True},
                         contact_email="new.person@acme.example")
    assert response.status_code == 422
    body = response.json
    assert body["error"] == "gate" and "Pain identified" in body["message"]
    assert body["missing"] == [{"field": "pain", "label": "Pain identified", "when": "entry",
                                "stage_id": stage_id(pipeline, "Qualified")}]
    assert row_counts() == before
    assert Contact.query.count() == 0


WAY_TO_PROPOSAL = {**ENTRY, "budget_range": "20000", "decision_maker": "dee@acme.example",
                   "dm_meeting_date": "2031-01-01", "needs": "Faster quoting", "next_steps": "Demo on Friday"}


def test_create_deal_in_a_later_stage_needs_every_earlier_stages_criteria(client, org, admin_h, pipeline):
    proposal = stage_id(pipeline, "Proposal")
    qualified, discovery = stage_id(pipeline, "Qualified"), stage_id(pipeline, "Discovery")
    before = row_counts()
    # Only Proposal's own entry fact: a deal walking there would have shown much more.
    refused = post_deal(client, admin_h, pipeline, title="Mid-flight", stage_id=proposal,
                        facts={"proposal_drafted": True})
    assert refused.status_code == 422 and refused.json["error"] == "gate"
    assert [(m["field"], m["when"], m["stage_id"]) for m in refused.json["missing"]] == [
        ("icp_confirmed", "entry", qualified), ("pain", "entry", qualified),
        ("budget_range", "exit", qualified), ("decision_maker", "exit", qualified),
        ("dm_meeting_date", "entry", discovery), ("needs", "exit", discovery), ("next_steps", "exit", discovery)]
    assert row_counts() == before
    # The article pipeline forbids skips, yet a deal with every earlier criterion may start there.
    created = post_deal(client, admin_h, pipeline, title="Mid-flight", stage_id=proposal,
                        facts={**WAY_TO_PROPOSAL, "proposal_drafted": True})
    assert created.status_code == 201, created.json
    assert created.json["stage_id"] == proposal
    [transition] = client.get(f"/api/v1/deals/{created.json['id']}/transitions", headers=admin_h).json
    assert transition["kind"] == "create" and len(transition["criteria"]) == 8


def test_create_deal_straight_into_won_needs_the_whole_pipeline(client, org, admin_h, pipeline):
    won = stage_id(pipeline, "Closed Won")
    refused = post_deal(client, admin_h, pipeline, title="Signed", stage_id=won,
                        facts={"contract_signed": True, "onboarding_handoff": "Call Lee"})
    assert refused.status_code == 422
    assert {m["stage_id"] for m in refused.json["missing"]} == {
        stage_id(pipeline, n) for n in ("Qualified", "Discovery", "Proposal", "Negotiation")}


def test_manager_key_creates_past_the_gate_with_an_override_reason_recorded(
        client, org, manager_h, pipeline):
    response = post_deal(client, manager_h, pipeline, title="Migrated", stage_id=stage_id(pipeline, "Proposal"),
                         override_reason="Moved over from our old CRM")
    assert response.status_code == 201, response.json
    [transition] = client.get(f"/api/v1/deals/{response.json['id']}/transitions", headers=manager_h).json
    assert transition["kind"] == "override" and transition["override"] is True
    assert transition["reason"] == "Moved over from our old CRM"


def test_rep_key_cannot_override_the_gate_on_create_or_move(client, org, rep_h, pipeline):
    before = row_counts()
    response = post_deal(client, rep_h, pipeline, title="Sneaky", stage_id=stage_id(pipeline, "Proposal"),
                         override_reason="trust me")
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert "override" in response.json["message"]
    assert row_counts() == before
    deal = post_deal(client, rep_h, pipeline, title="Honest", facts=ENTRY).json
    moved = client.post(f"/api/v1/deals/{deal['id']}/move", headers=rep_h,
                        json={"stage_id": stage_id(pipeline, "Discovery"), "override_reason": "trust me"})
    assert moved.status_code == 403 and "override" in moved.json["message"]
    assert db.session.get(Deal, deal["id"]).stage.name == "Qualified"


def test_manager_key_moves_past_the_gate_with_an_override_reason(client, org, manager_h, pipeline):
    deal = post_deal(client, manager_h, pipeline, title="Fast track", facts=ENTRY).json
    moved = client.post(f"/api/v1/deals/{deal['id']}/move", headers=manager_h,
                        json={"stage_id": stage_id(pipeline, "Discovery"), "override_reason": "Exec sponsor call"})
    assert moved.status_code == 200, moved.json
    assert moved.json["stage_id"] == stage_id(pipeline, "Discovery")
    history = client.get(f"/api/v1/deals/{deal['id']}/transitions", headers=manager_h).json
    assert history[-1]["kind"] == "override" and history[-1]["reason"] == "Exec sponsor call"


def test_create_deal_with_history_dates_converts_them_to_utc(client, org, admin_h, pipeline):
    response = post_deal(client, admin_h, pipeline, title="From HubSpot", facts=ENTRY,
                         created_at="2024-03-01T09:00:00+02:00", stage_entered_at="2024-03-05T10:30:00-05:00")
    assert response.status_code == 201, response.json
    assert response.json["created_at"] == "2024-03-01T07:00:00+00:00"
    assert response.json["stage_entered_at"] == "2024-03-05T15:30:00+00:00"
    [transition] = client.get(f"/api/v1/deals/{response.json['id']}/transitions", headers=admin_h).json
    assert transition["at"] == "2024-03-05T15:30:00+00:00"


@pytest.mark.parametrize("field, value, message_part", [
    ("created_at", "2999-01-01T00:00:00+00:00", "past"),
    ("created_at", "2024-03-01T09:00:00", "offset"),
    ("created_at", "yesterday", "ISO 8601"),
    ("stage_entered_at", 1700000000, "ISO 8601"),
])
def test_create_deal_with_bad_dates_names_the_field(client, org, admin_h, pipeline, field, value, message_part):
    before = row_counts()
    response = post_deal(client, admin_h, pipeline, title="T", facts=ENTRY, **{field: value})
    assert response.status_code == 422
    assert response.json["error"] == "invalid"
    assert message_part in response.json["fields"][field]
    assert row_counts() == before


def test_stage_entered_before_created_is_invalid(client, org, admin_h, pipeline):
    response = post_deal(client, admin_h, pipeline, title="T", facts=ENTRY,
                         created_at="2024-03-05T00:00:00+00:00", stage_entered_at="2024-03-01T00:00:00+00:00")
    assert response.status_code == 422 and "stage_entered_at" in response.json["fields"]


def test_create_deal_finds_or_creates_the_contact_in_the_org(client, org, admin_h, pipeline):
    first = post_deal(client, admin_h, pipeline, title="One", facts=ENTRY, contact_email="Pat@Acme.example")
    second = post_deal(client, admin_h, pipeline, title="Two", facts=ENTRY, contact_email="pat@acme.example")
    assert first.status_code == second.status_code == 201
    contact = Contact.query.one()
    assert contact.email == "pat@acme.example" and contact.org_id == org.id
    assert {d.contact_id for d in Deal.query} == {contact.id}


def test_manager_creates_deal_for_a_rep_by_email(client, org, key_for, pipeline):
    rep = factories.user(org, "rep")
    response = post_deal(client, key_for("manager"), pipeline, title="For Rae", facts=ENTRY,
                         owner_email=rep.email.upper())
    assert response.status_code == 201 and response.json["owner_email"] == rep.email


def test_rep_cannot_create_deals_for_someone_else(client, org, rep_h, pipeline):
    response = post_deal(client, rep_h, pipeline, title="Not mine", facts=ENTRY,
                         owner_email=factories.user(org, "manager").email)
    assert response.status_code == 422 and "owner_email" in response.json["fields"]


def test_create_deal_invalid_values_name_every_bad_field_and_write_nothing(client, org, admin_h, pipeline):
    before = row_counts()
    response = post_deal(client, admin_h, pipeline, title="  ", amount="lots", currency="dollars",
                         facts={"budget_range": "a lot", "nonsense": 1, "icp_confirmed": "maybe"})
    assert response.status_code == 422
    assert response.json["error"] == "invalid"
    assert set(response.json["fields"]) == {"title", "amount", "currency", "budget_range", "nonsense",
                                            "icp_confirmed"}
    assert row_counts() == before


def test_create_deal_unknown_people_and_wrong_types_name_every_bad_field(client, org, admin_h, pipeline):
    before = row_counts()
    response = post_deal(client, admin_h, pipeline, title=["A"], amount=True, currency=3, facts=[1],
                         owner_email="nobody@nowhere.example", contact_email="not-an-email",
                         stage_id="5", created_at=20240101, colour="red")
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"title", "amount", "currency", "facts", "owner_email",
                                            "contact_email", "stage_id", "created_at", "colour"}
    assert row_counts() == before


def test_create_deal_needs_a_json_object(client, org, admin_h):
    for data, ctype in [("not json", "application/json"), ("[1, 2]", "application/json"), ("", None),
                        ('{"title": NaN}', "application/json")]:
        response = client.post("/api/v1/deals", headers=admin_h, data=data, content_type=ctype)
        assert response.status_code == 400, data
        assert response.json["error"] == "bad_request"
    assert Deal.query.count() == 0


def test_create_deal_requires_pipeline_and_title(client, org, admin_h):
    response = client.post("/api/v1/deals", headers=admin_h, json={"pipline_id": 1})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"pipeline_id", "title", "pipline_id"}


def test_create_in_another_orgs_pipeline_or_stage_is_404(client, org, admin_h, pipeline):
    other = factories.make_org()
    theirs = factories.pipeline(other)
    assert post_deal(client, admin_h, theirs, title="X", facts=ENTRY).status_code == 404
    response = post_deal(client, admin_h, pipeline, title="X", facts=ENTRY, stage_id=theirs.stages[0].id)
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert Deal.query.count() == 0


def test_list_deals_filters_and_pages_by_id(client, org, admin_h, pipeline):
    rep = factories.user(org, "rep")
    deals = [factories.make_deal(org, title=f"Deal {i}", owner=rep) for i in range(52)]
    mover = factories.make_deal(org, stage_name="Discovery", title="Moved", owner=factories.user(org, "manager"))
    factories.make_deal(factories.make_org(), title="Someone else's")
    page1 = client.get("/api/v1/deals", headers=admin_h).json
    assert [d["id"] for d in page1["items"]] == [d.id for d in deals[:50]]
    assert page1["next_page"] == 2
    page2 = client.get("/api/v1/deals?page=2", headers=admin_h).json
    assert [d["id"] for d in page2["items"]] == [deals[50].id, deals[51].id, mover.id]
    assert page2["next_page"] is None
    by_stage = client.get(f"/api/v1/deals?stage_id={stage_id(pipeline, 'Discovery')}", headers=admin_h).json
    assert [d["title"] for d in by_stage["items"]] == ["Moved"]
    by_owner = client.get(f"/api/v1/deals?owner_email={mover.owner.email}&pipeline_id={pipeline.id}",
                          headers=admin_h).json
    assert [d["title"] for d in by_owner["items"]] == ["Moved"]
    assert client.get("/api/v1/deals?status=won", headers=admin_h).json == {"items": [], "next_page": None}


@pytest.mark.parametrize("query", ["page=0", "page=abc", "status=closed", "pipeline_id=-1", "stage_id=1.5",
                                   "page=99999999999999999999"])
def test_list_deals_with_bad_filters_is_422(client, org, admin_h, query):
    response = client.get(f"/api/v1/deals?{query}", headers=admin_h)
    assert response.status_code == 422
    assert query.split("=")[0] in response.json["fields"]


def test_get_deal_and_another_orgs_deal_is_404(client, org, admin_h):
    deal = factories.make_deal(org, amount="99.5")
    response = client.get(f"/api/v1/deals/{deal.id}", headers=admin_h)
    assert response.status_code == 200 and response.json["amount"] == "99.50"
    theirs = factories.make_deal(factories.make_org())
    for url in (f"/api/v1/deals/{theirs.id}", f"/api/v1/deals/{theirs.id}/transitions", "/api/v1/deals/999999"):
        response = client.get(url, headers=admin_h)
        assert response.status_code == 404 and response.json["error"] == "not_found"


def test_patch_updates_title_amount_and_facts_and_bumps_version(client, org, admin_h):
    deal = factories.make_deal(org)
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={
        "version": 1, "title": "Acme expansion", "amount": 4200, "facts": {"budget_range": "50000"}})
    assert response.status_code == 200, response.json
    assert response.json["title"] == "Acme expansion" and response.json["amount"] == "4200.00"
    assert response.json["facts"]["budget_range"] == "50000.00" and response.json["version"] == 2
    cleared = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"version": 2, "amount": None})
    assert cleared.json["amount"] is None


def test_patch_without_version_is_422_and_stale_version_is_409(client, org, admin_h):
    deal = factories.make_deal(org)
    missing = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"title": "New"})
    assert missing.status_code == 422 and "version" in missing.json["fields"]
    assert client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h,
                        json={"version": 1, "title": "First"}).status_code == 200
    stale = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"version": 1, "title": "Second"})
    assert stale.status_code == 409 and stale.json["error"] == "conflict"
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).title == "First"


def test_patch_cannot_clear_a_fact_the_current_stage_required(client, org, admin_h):
    deal = factories.make_deal(org)
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"version": 1, "facts": {"pain": ""}})
    assert response.status_code == 422 and "pain" in response.json["fields"]


def test_patch_refuses_stage_changes_and_unknown_keys(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h,
                            json={"version": 1, "stage_id": stage_id(pipeline, "Discovery"), "colour": "red"})
    assert response.status_code == 422
    assert "move" in response.json["fields"]["stage_id"] and "colour" in response.json["fields"]
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).stage.name == "Qualified"


def test_rep_cannot_edit_someone_elses_deal(client, org, rep_h):
    deal = factories.make_deal(org, owner=factories.user(org, "manager"))
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=rep_h, json={"version": 1, "title": "Mine now"})
    assert response.status_code == 403 and response.json["error"] == "forbidden"


def move(client, headers, deal, **body):
    return client.post(f"/api/v1/deals/{deal.id}/move", headers=headers, json=body)


def test_move_refused_by_gate_lists_exactly_the_missing_facts_and_writes_nothing(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    discovery = stage_id(pipeline, "Discovery")
    before = row_counts()
    response = move(client, admin_h, deal, stage_id=discovery, facts={"budget_range": "20000"})
    assert response.status_code == 422
    body = response.json
    assert body["error"] == "gate" and body["fields"] == {}
    assert body["missing"] == [
        {"field": "decision_maker", "label": "Decision maker identified", "when": "exit",
         "stage_id": stage_id(pipeline, "Qualified")},
        {"field": "dm_meeting_date", "label": "DM meeting scheduled", "when": "entry", "stage_id": discovery},
    ]
    assert row_counts() == before
    db.session.expire_all()
    assert "budget_range" not in db.session.get(Deal, deal.id).facts


def test_move_with_the_missing_facts_passes_and_saves_them(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    response = move(client, admin_h, deal, stage_id=stage_id(pipeline, "Discovery"), version=1, facts={
        "budget_range": "20000", "decision_maker": "Dana@Acme.example", "dm_meeting_date": "2030-01-15"})
    assert response.status_code == 200, response.json
    assert response.json["stage_id"] == stage_id(pipeline, "Discovery") and response.json["version"] == 2
    assert response.json["facts"]["decision_maker"] == "dana@acme.example"
    assert Contact.query.filter_by(email="dana@acme.example", org_id=org.id).count() == 1
    history = client.get(f"/api/v1/deals/{deal.id}/transitions", headers=admin_h).json
    assert [t["kind"] for t in history] == ["create", "forward"]
    forward = history[1]
    assert set(forward) >= {"from_stage_id", "to_stage_id", "kind", "at", "user_email", "facts", "criteria"}
    assert forward["user_email"] == factories.user(org, "admin").email
    assert {c["field"] for c in forward["criteria"]} == {"budget_range", "decision_maker", "dm_meeting_date"}
    assert all(c["met"] for c in forward["criteria"])


def test_move_with_invalid_fact_is_422_naming_it(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    response = move(client, admin_h, deal, stage_id=stage_id(pipeline, "Discovery"),
                    facts={"dm_meeting_date": "next tuesday"})
    assert response.status_code == 422 and "dm_meeting_date" in response.json["fields"]


def test_move_with_stale_version_is_409_and_writes_nothing(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    before = row_counts()
    response = move(client, admin_h, deal, stage_id=stage_id(pipeline, "Closed Lost"), version=7, reason="Price")
    assert response.status_code == 409 and response.json["error"] == "conflict"
    assert row_counts() == before


def test_move_to_lost_accepts_an_integrations_own_wording_as_other(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    response = move(client, admin_h, deal, stage_id=stage_id(pipeline, "Closed Lost"),
                    reason="closed_lost: budget reallocated (HubSpot)")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "lost"
    stored = db.session.get(Deal, deal.id)
    assert stored.loss_reason is None and stored.loss_reason_other == "closed_lost: budget reallocated (HubSpot)"
    history = client.get(f"/api/v1/deals/{deal.id}/transitions", headers=admin_h).json
    assert history[-1]["reason"] == "closed_lost: budget reallocated (HubSpot)"


def test_create_a_lost_deal_with_a_listed_reason_in_another_case(client, org, admin_h, pipeline):
    response = post_deal(client, admin_h, pipeline, title="Old loss", stage_id=stage_id(pipeline, "Closed Lost"),
                         reason="no DECISION")
    assert response.status_code == 201, response.json
    assert db.session.get(Deal, response.json["id"]).loss_reason.label == "No decision"


def test_move_to_lost_needs_a_reason(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    lost = stage_id(pipeline, "Closed Lost")
    refused = move(client, admin_h, deal, stage_id=lost)
    assert refused.status_code == 422 and refused.json["error"] == "gate"
    assert "reason" in refused.json["fields"]
    closed = move(client, admin_h, deal, stage_id=lost, reason="Chose a competitor")
    assert closed.status_code == 200
    assert closed.json["status"] == "lost" and closed.json["closed_at"] is not None


def test_move_to_another_orgs_stage_is_404_and_another_pipelines_stage_is_422(client, org, admin_h):
    from app.pipelines.service import create_from_template

    deal = factories.make_deal(org)
    theirs = factories.pipeline(factories.make_org())
    response = move(client, admin_h, deal, stage_id=theirs.stages[1].id)
    assert response.status_code == 404
    other_pipeline = create_from_template(org, "b2b")
    response = move(client, admin_h, deal, stage_id=other_pipeline.stages[1].id)
    assert response.status_code == 422 and response.json["error"] == "invalid"
    assert "stage_id" in response.json["fields"]
    assert StageTransition.query.count() == 1


def test_moving_another_orgs_deal_is_404(client, org, admin_h):
    theirs = factories.make_deal(factories.make_org())
    response = move(client, admin_h, theirs, stage_id=theirs.pipeline.stages[1].id)
    assert response.status_code == 404


def test_move_without_stage_is_422(client, org, admin_h):
    deal = factories.make_deal(org)
    response = move(client, admin_h, deal, facts={})
    assert response.status_code == 422 and response.json["fields"]["stage_id"] == "is required"


def test_rep_cannot_move_someone_elses_deal(client, org, rep_h, pipeline):
    deal = factories.make_deal(org, owner=factories.user(org, "manager"))
    response = move(client, rep_h, deal, stage_id=stage_id(pipeline, "Closed Lost"), reason="Price")
    assert response.status_code == 403


def test_admin_records_a_past_move_with_at(client, org, admin_h, pipeline):
    created = post_deal(client, admin_h, pipeline, title="Imported", facts=ENTRY,
                        created_at="2024-01-10T00:00:00+00:00").json
    deal = db.session.get(Deal, created["id"])
    response = move(client, admin_h, deal, stage_id=stage_id(pipeline, "Closed Lost"), reason="Price",
                    at="2024-02-01T12:00:00+01:00")
    assert response.status_code == 200, response.json
    assert response.json["stage_entered_at"] == "2024-02-01T11:00:00+00:00"
    assert response.json["closed_at"] == "2024-02-01T11:00:00+00:00"


def test_at_before_latest_transition_or_in_future_is_422(client, org, admin_h, pipeline):
    deal = factories.make_deal(org)
    lost = stage_id(pipeline, "Closed Lost")
    early = move(client, admin_h, deal, stage_id=lost, reason="Price", at="2001-01-01T00:00:00+00:00")
    assert early.status_code == 422 and "at" in early.json["fields"]
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    late = move(client, admin_h, deal, stage_id=lost, reason="Price", at=future)
    assert late.status_code == 422 and "past" in late.json["fields"]["at"]


def test_only_admin_keys_may_send_at(client, org, key_for, pipeline):
    manager = factories.user(org, "manager")
    deal = factories.make_deal(org, owner=manager)
    response = move(client, key_for("manager"), deal, stage_id=stage_id(pipeline, "Closed Lost"), reason="Price",
                    at="2020-01-01T00:00:00+00:00")
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert StageTransition.query.count() == 1


@pytest.mark.parametrize("path_kind", ["create", "move", "lost"])
def test_a_lone_surrogate_in_a_reason_is_a_clear_422_that_writes_nothing(client, org, manager_h, pipeline, path_kind):
    deal = factories.make_deal(org)
    before = row_counts()
    if path_kind == "create":
        url, body, name = "/api/v1/deals", {"pipeline_id": pipeline.id, "title": "X",
                                            "stage_id": stage_id(pipeline, "Proposal"), "override_reason": "\ud800"}, \
            "override_reason"
    else:
        target = "Discovery" if path_kind == "move" else "Closed Lost"
        name = "override_reason" if path_kind == "move" else "reason"
        url, body = f"/api/v1/deals/{deal.id}/move", {"stage_id": stage_id(pipeline, target), name: "a\ud800b"}
    response = client.post(url, headers={**manager_h, "Content-Type": "application/json"},
                           data=json.dumps(body, ensure_ascii=True))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "lone surrogate" in response.json["fields"][name]
    assert row_counts() == before
def test_a_deals_company_is_set_by_name_case_insensitively_or_by_id_and_cleared_with_null(client, org, admin_h):
    from app.models import Company

    pipe = factories.pipeline(org)
    acme = Company(org_id=org.id, name="Acme Logistics")
    db.session.add(acme)
    db.session.commit()
    acme_id = acme.id
    response = client.post("/api/v1/deals", headers=admin_h, json={
        "pipeline_id": pipe.id, "title": "Renewal", "company": "ACME logistics",
        "facts": factories.full_facts(pipe, pipe.open_stages[0])})
    assert response.status_code == 201, response.json
    deal = response.json
    assert deal["company_id"] == acme_id and deal["company"] == "Acme Logistics"
    response = client.patch(f"/api/v1/deals/{deal['id']}", headers=admin_h,
                            json={"version": deal["version"], "company": "Birch Dental"})
    assert response.status_code == 200 and response.json["company"] == "Birch Dental"
    assert Company.query.filter_by(org_id=org.id).count() == 2  # a new name adds the company
    deal = response.json
    response = client.patch(f"/api/v1/deals/{deal['id']}", headers=admin_h,
                            json={"version": deal["version"], "company_id": acme_id})
    assert response.status_code == 200 and response.json["company"] == "Acme Logistics"
    deal = response.json
    response = client.patch(f"/api/v1/deals/{deal['id']}", headers=admin_h,
                            json={"version": deal["version"], "company_id": None})
    assert response.status_code == 200 and response.json["company_id"] is None


@pytest.mark.parametrize("body,field", [
    ({"company": "Acme", "company_id": 1}, "company"),
    ({"company_id": 2**31}, "company_id"),
    ({"company_id": 0}, "company_id"),
    ({"company_id": "1"}, "company_id"),
    ({"company": "x" * 201}, "company"),
    ({"company": "\ud800"}, "company"),
    ({"company": 5}, "company"),
    ({"company_id": 999_999}, "company_id"),
])
def test_a_bad_company_is_a_422_naming_it_and_changes_nothing(client, org, admin_h, body, field):
    from app.models import Company

    deal = factories.make_deal(org)
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"version": deal.version, **body})
    assert response.status_code == 422 and field in response.json["fields"], response.json
    db.session.expire_all()
    assert db.session.get(type(deal), deal.id).company_id is None and Company.query.count() == 0
