"""API: GET /pipelines/<id>/criteria-changes and PUT /pipelines/<id>/stages/<id>/requirements."""

from datetime import UTC, timedelta

from app.models import CriteriaChange, StageRequirement, utcnow
from tests import factories


def _url(pipeline, stage):
    return f"/api/v1/pipelines/{pipeline.id}/stages/{stage.id}/requirements"


def test_an_admin_key_changes_criteria_and_the_log_lists_it_newest_first(client, org, key_for):
    admin = key_for("admin")
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Discovery")
    old_exit = sorted(f.key for f in stage.required_fields("exit"))
    first = client.put(_url(pipeline, stage), headers=admin, json={"entry": [], "exit": ["budget_range"]})
    assert first.status_code == 200, first.json
    body = first.json
    assert body["stage_id"] == stage.id and body["by"] == factories.user(org, "admin").email
    assert body["before"]["exit"] == old_exit and body["after"]["exit"] == ["budget_range"]
    assert body["windows"]["after"] is None and body["windows"]["before"]["entered"] == 0
    assert [f.key for f in factories.stage(factories.pipeline(org), "Discovery").required_fields("exit")] == [
        "budget_range"]
    second = client.put(_url(pipeline, stage), headers=admin,
                        json={"entry": ["pain"], "exit": ["budget_range"], "buyer": [], "next_step": True})
    assert second.status_code == 200 and second.json["after"]["next_step"] is True
    listed = client.get(f"/api/v1/pipelines/{pipeline.id}/criteria-changes?stage_id={stage.id}", headers=admin)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json["items"]] == [second.json["id"], first.json["id"]]


def test_a_rep_or_manager_key_is_refused_and_nothing_is_written(client, org, key_for, counts):
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Discovery")
    before = counts()
    for role in ("rep", "manager"):
        response = client.put(_url(pipeline, stage), headers=key_for(role), json={"entry": [], "exit": []})
        assert response.status_code == 403
    after = counts()
    assert after["criteria_change"] == before["criteria_change"] == 0
    assert after["stage_requirement"] == before["stage_requirement"]
    # Any key of the organisation reads the log.
    assert client.get(f"/api/v1/pipelines/{pipeline.id}/criteria-changes", headers=key_for("rep")).status_code == 200


def test_another_organisations_pipeline_or_stage_is_a_404(client, org, key_for):
    other = factories.make_org()
    theirs = factories.pipeline(other)
    their_stage = factories.stage(theirs, "Discovery")
    mine = factories.pipeline(org)
    admin = key_for("admin")
    assert client.get(f"/api/v1/pipelines/{theirs.id}/criteria-changes", headers=admin).status_code == 404
    assert client.put(_url(theirs, their_stage), headers=admin, json={"entry": [], "exit": []}).status_code == 404
    assert client.put(_url(mine, their_stage), headers=admin, json={"entry": [], "exit": []}).status_code == 404
    assert client.get(f"/api/v1/pipelines/{mine.id}/criteria-changes?stage_id={their_stage.id}",
                      headers=admin).status_code == 404
    assert client.get(f"/api/v1/pipelines/{2**31}/criteria-changes", headers=admin).status_code == 404
    assert client.put(f"/api/v1/pipelines/{mine.id}/stages/{2**40}/requirements", headers=admin,
                      json={"entry": [], "exit": []}).status_code == 404
    assert StageRequirement.query.filter_by(stage_id=their_stage.id).count() > 0


def test_at_backfills_a_change_brought_over_from_elsewhere(client, org, key_for):
    admin = key_for("admin")
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Proposal")
    at = (utcnow() - timedelta(days=40)).replace(microsecond=0)
    response = client.put(_url(pipeline, stage), headers=admin,
                          json={"entry": [], "exit": [], "at": at.replace(tzinfo=UTC).isoformat()})
    assert response.status_code == 200, response.json
    assert response.json["at"] == at.replace(tzinfo=UTC).isoformat()
    after = response.json["windows"]["after"]
    assert after is not None and after["to"] == (at.date() + timedelta(days=30)).isoformat()
    earlier = (at - timedelta(days=1)).replace(tzinfo=UTC).isoformat()
    refused = client.put(_url(pipeline, stage), headers=admin, json={"entry": [], "exit": [], "at": earlier})
    assert refused.status_code == 422 and "at" in refused.json["fields"]


def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(client, org, key_for, counts):
    admin = key_for("admin")
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Proposal")
    future = (utcnow() + timedelta(days=1)).replace(tzinfo=UTC).isoformat()
    before = counts()
    cases = [
        ({"entry": [], "exit": [], "at": future}, "at"),
        ({"entry": [], "exit": [], "colour": "red"}, "colour"),
        ({"entry": ["no_such_field"], "exit": []}, "entry"),
        ({"entry": [], "exit": "budget_range"}, "exit"),
        ({"entry": []}, "exit"),
        ({"entry": [], "exit": [], "buyer": ["budget_range"]}, "buyer"),
        ({"entry": [], "exit": [], "next_step": "yes"}, "next_step"),
        ({"entry": [], "exit": [], "at": "yesterday"}, "at"),
    ]
    for payload, field in cases:
        response = client.put(_url(pipeline, stage), headers=admin, json=payload)
        assert response.status_code == 422, (payload, response.json)
        assert field in response.json["fields"], (payload, response.json)
    surrogate = client.put(_url(pipeline, stage), headers={**admin, "Content-Type": "application/json"},
                           data=b'{"entry": ["\\ud800"], "exit": []}')
    assert surrogate.status_code == 422 and "entry" in surrogate.json["fields"]
    assert client.put(_url(pipeline, stage), headers=admin, data="nope").status_code == 400
    bad_query = client.get(f"/api/v1/pipelines/{pipeline.id}/criteria-changes?stage_id=x&y=1", headers=admin)
    assert bad_query.status_code == 422 and set(bad_query.json["fields"]) == {"stage_id", "y"}
    assert counts() == before
    assert CriteriaChange.query.count() == 0


def test_the_openapi_document_has_both_operations(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["paths"]["/pipelines/{pipeline_id}/criteria-changes"]["get"]["operationId"] == "listCriteriaChanges"
    put = doc["paths"]["/pipelines/{pipeline_id}/stages/{stage_id}/requirements"]["put"]
    assert put["operationId"] == "putStageRequirements" and "403" in put["responses"]
