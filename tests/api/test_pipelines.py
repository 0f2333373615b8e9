"""GET /api/v1/pipelines: stages in order with their requirements, fields with their types."""

from app.extensions import db
from tests import factories


def test_pipelines_list_stages_requirements_and_fields(client, org, admin_h):
    response = client.get("/api/v1/pipelines", headers=admin_h)
    assert response.status_code == 200
    [pipeline] = response.json
    assert pipeline["name"] == "Article five-stage"
    assert [s["name"] for s in pipeline["stages"]] == [
        "Qualified", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost"]
    qualified = pipeline["stages"][0]
    assert qualified == {
        "id": qualified["id"], "name": "Qualified", "position": 1, "kind": "open", "probability": 10,
        "max_days": 7, "meeting": False,
        "requirements": {"entry": ["icp_confirmed", "pain"], "exit": ["budget_range", "decision_maker"],
                         "buyer": []},
    }
    assert pipeline["stages"][1]["meeting"] is True
    assert [s["kind"] for s in pipeline["stages"][-2:]] == ["won", "lost"]
    fields = {f["key"]: f for f in pipeline["fields"]}
    assert fields["budget_range"] == {"key": "budget_range", "label": "Budget range captured",
                                      "type": "money", "choices": None}
    assert fields["terms_status"]["choices"] == ["Accepted", "Revised"]
    assert fields["decision_maker"]["type"] == "contact"


def test_archived_pipelines_stages_and_fields_are_left_out(client, org, admin_h):
    from app.pipelines.service import create_from_template

    extra = create_from_template(org, "b2b")
    pipeline = factories.pipeline(org)
    factories.stage(pipeline, "Proposal").archived = True
    next(f for f in pipeline.fields if f.key == "pain").archived = True
    extra.archived = True
    db.session.commit()
    [body] = client.get("/api/v1/pipelines", headers=admin_h).json
    assert "Proposal" not in [s["name"] for s in body["stages"]]
    assert "pain" not in [f["key"] for f in body["fields"]]
    assert body["stages"][0]["requirements"]["entry"] == ["icp_confirmed"]


def test_another_organisations_pipelines_are_not_listed(client, org, admin_h):
    factories.make_org(templates=["b2b", "insurance"])
    names = [p["name"] for p in client.get("/api/v1/pipelines", headers=admin_h).json]
    assert names == ["Article five-stage"]


def test_pipelines_are_in_position_order(client, org, admin_h):
    from app.pipelines.service import create_from_template

    create_from_template(org, "insurance")
    names = [p["name"] for p in client.get("/api/v1/pipelines", headers=admin_h).json]
    assert names == ["Article five-stage", "Insurance agency"]
