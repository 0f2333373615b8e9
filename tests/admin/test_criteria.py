"""Admin: the criteria editor (per-stage checklist, HTMX save, BANT/MEDDIC, Lost stages)."""

from app.models import FieldDef, Pipeline, StageRequirement
from tests import factories


def _keys(stage, when):
    return sorted(f.key for f in stage.required_fields(when))


def _ids(pipeline, *keys):
    by_key = {f.key: f.id for f in pipeline.fields}
    return [str(by_key[k]) for k in keys]


def test_criteria_page_shows_each_stage_with_ticks_and_guidance(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    page = client.get(f"/admin/pipelines/{pipeline.id}/criteria").get_data(as_text=True)
    for name in ("Qualified", "Discovery", "Proposal", "Negotiation", "Closed Won"):
        assert f"Save {name}" in page
    assert "Budget range captured: required to leave Qualified" in page
    assert "Confirm the ICP fit and the pain" in page  # Qualified's guidance beside its checklist
    assert "Lost stages take no facts" in page


def test_htmx_save_swaps_the_card_with_saved_and_persists(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    discovery = factories.stage(pipeline, "Discovery")
    response = client.post(f"/admin/stages/{discovery.id}/criteria", headers={"HX-Request": "true"}, data={
        "entry": _ids(pipeline, "dm_meeting_date"),
        "exit": _ids(pipeline, "needs", "next_steps", "budget_range")})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<section id="criteria-stage-{discovery.id}"')
    assert "<html" not in body and "✓ Saved" in body
    assert _keys(factories.stage(Pipeline.query.get(pipeline.id), "Discovery"), "exit") == [
        "budget_range", "needs", "next_steps"]


def test_unticking_removes_requirements(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    qualified = factories.stage(pipeline, "Qualified")
    client.post(f"/admin/stages/{qualified.id}/criteria", data={"entry": _ids(pipeline, "icp_confirmed")})
    qualified = factories.stage(Pipeline.query.get(pipeline.id), "Qualified")
    assert _keys(qualified, "entry") == ["icp_confirmed"] and _keys(qualified, "exit") == []


def test_plain_form_save_redirects_back_with_a_flash(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    proposal = factories.stage(pipeline, "Proposal")
    response = client.post(f"/admin/stages/{proposal.id}/criteria", data={"exit": _ids(pipeline, "proposal_acknowledged")},
                           follow_redirects=True)
    assert "Criteria for Proposal saved." in response.get_data(as_text=True)


def test_a_field_from_another_pipeline_is_refused_and_nothing_changes(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    other = factories.pipeline(factories.make_org())
    discovery = factories.stage(pipeline, "Discovery")
    before = StageRequirement.query.count()
    response = client.post(f"/admin/stages/{discovery.id}/criteria", headers={"HX-Request": "true"},
                           data={"exit": [str(other.fields[0].id), "abc"]})
    assert response.status_code == 200 and "not in this pipeline" in response.get_data(as_text=True)
    assert StageRequirement.query.count() == before
    assert _keys(factories.stage(pipeline, "Discovery"), "exit") == ["needs", "next_steps"]


def test_lost_stage_takes_no_facts(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    lost = factories.stage(pipeline, "Closed Lost")
    response = client.post(f"/admin/stages/{lost.id}/criteria", headers={"HX-Request": "true"},
                           data={"entry": _ids(pipeline, "pain")})
    assert "loss reason" in response.get_data(as_text=True)
    assert StageRequirement.query.filter_by(stage_id=lost.id).count() == 0


def test_apply_bant_creates_fields_and_requirements(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    negotiation = factories.stage(pipeline, "Negotiation")
    response = client.post(f"/admin/stages/{negotiation.id}/criteria/apply", data={"set_key": "bant", "when": "entry"},
                           follow_redirects=True)
    assert "BANT applied" in response.get_data(as_text=True)
    keys = {f.key for f in FieldDef.query.filter_by(pipeline_id=pipeline.id)}
    assert {"budget", "authority", "need", "timeline"} <= keys
    negotiation = factories.stage(Pipeline.query.get(pipeline.id), "Negotiation")
    assert {"budget", "authority", "need", "timeline", "verbal_interest"} == set(_keys(negotiation, "entry"))


def test_empty_pipeline_offers_bant_and_meddic_and_templates(client, org, login_as):
    login_as("admin")
    client.post("/admin/pipelines", data={"name": "Blank one"})
    pipeline = Pipeline.query.filter_by(name="Blank one").one()
    page = client.get(f"/admin/pipelines/{pipeline.id}/criteria").get_data(as_text=True)
    assert "Apply BANT" in page and "Apply MEDDIC" in page and "start a pipeline from a template" in page
    first = pipeline.stages[0]
    client.post(f"/admin/stages/{first.id}/criteria/apply", data={"set_key": "meddic", "when": "exit"})
    assert len(factories.stage(Pipeline.query.get(pipeline.id), "New").required_fields("exit")) == 6


def test_unknown_requirement_set_is_refused(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    before = FieldDef.query.count()
    response = client.post(f"/admin/stages/{pipeline.stages[0].id}/criteria/apply",
                           data={"set_key": "spiced", "when": "exit"}, follow_redirects=True)
    assert "Unknown requirement set" in response.get_data(as_text=True)
    assert FieldDef.query.count() == before
