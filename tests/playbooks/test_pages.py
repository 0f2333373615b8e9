"""The demo prep sheet, the hand-off document and the playbook editor."""

from app.auth.service import create_organization
from app.deals.service import create_deal, move_deal, update_deal
from app.extensions import db
from app.models import DiscoveryPrompt, Objection, Playbook, Task
from app.pipelines.catalog import REQUIREMENT_SETS, TEMPLATES
from app.pipelines.service import apply_requirement_set, org_pipelines
from app.playbooks.service import add_set_prompts, record_objections, save_answers
from app.playbooks.starter import SET_PROMPTS
from tests import factories
from tests.playbooks.helpers import fresh

B2B = "B2B sales"
PLACEHOLDERS = ("todo", "lorem", "tbd", "xxx", "placeholder")


def test_every_template_ships_a_playbook_from_the_articles_advice(app):
    org = create_organization("All templates", "all@templates.example.com", factories.PASSWORD,
                              templates=list(TEMPLATES))
    for key, spec in TEMPLATES.items():
        pipeline = factories.pipeline(org, spec["name"])
        book = Playbook.query.filter_by(pipeline_id=pipeline.id).one()
        fields = {f.key for f in pipeline.fields}
        assert book.handoff_intro and set(book.demo_keys) <= fields and len(book.demo_keys) >= 4, key
        prompts = DiscoveryPrompt.query.filter(DiscoveryPrompt.stage_id.in_([s.id for s in pipeline.stages])).all()
        assert {p.kind for p in prompts} == {"question", "silence", "summary"}, key
        mapped = [p for p in prompts if p.field_key]
        assert len(mapped) >= 3 and {p.field_key for p in mapped} <= fields, key
        guide = Objection.query.filter_by(pipeline_id=pipeline.id).all()
        assert len(guide) == 5 and all(len(o.responses) == 3 for o in guide), key
        words = " ".join([p.text for p in prompts] + [o.text for o in guide] + [r for o in guide for r in o.responses])
        assert not any(w in words.lower() for w in PLACEHOLDERS), key
    assert Playbook.query.filter_by(org_id=org.id).count() == len(TEMPLATES)


def test_bant_and_meddic_questions_map_to_their_sets_fields(org):
    assert set(SET_PROMPTS) == set(REQUIREMENT_SETS)
    for key, spec in REQUIREMENT_SETS.items():
        assert {k for _, _, k in SET_PROMPTS[key] if k} == {f[0] for f in spec["fields"]}, key
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Proposal")
    apply_requirement_set(stage, "meddic")
    added = add_set_prompts(stage, factories.user(org, "admin"), "meddic")
    lines = DiscoveryPrompt.query.filter_by(stage_id=stage.id).all()
    assert added == len(lines) and {p.field_key for p in lines if p.field_key} == {
        f[0] for f in REQUIREMENT_SETS["meddic"]["fields"]}


def test_the_demo_prep_sheet_gathers_the_discovery_facts_on_one_page(client, login_as):
    org = factories.make_org(templates=["b2b"])
    rep = login_as(who=factories.user(org, "rep"))
    deal = factories.make_deal(org, "Presentation/Demo", owner=rep, pipeline_name=B2B)
    update_deal(deal, rep, version=deal.version, facts={"pain_points": "Leads go cold after the first call",
                                                        "authority": "Dana Ortiz <dana@acme.example>, CFO"})
    discovery = factories.stage(deal.pipeline, "Discovery")
    team = DiscoveryPrompt.query.filter_by(stage_id=discovery.id).filter(
        DiscoveryPrompt.text.like("How many people%")).one()
    save_answers(deal, discovery, rep, {team.id: "Twelve reps and two managers"}, deal.version)
    price = Objection.query.filter_by(pipeline_id=deal.pipeline_id).order_by(Objection.position).first()
    record_objections(fresh(type(deal), deal.id), rep, {price.id: 2}, fresh(type(deal), deal.id).version)
    page = client.get(f"/playbooks/deals/{deal.id}/demo-prep")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("Demo prep: Acme renewal", "Leads go cold after the first call", "Dana Ortiz",
                 "Decision maker", "Twelve reps and two managers", team.text, price.responses[2]):
        assert text.replace("'", "&#39;") in body, text
    assert "css/playbooks.css" in body  # its print stylesheet makes the page a PDF from the browser
    assert b"@media print" in client.get("/static/css/playbooks.css").data


def test_a_won_deal_has_a_hand_off_document_with_the_warm_introduction_task(client, login_as):
    org = factories.make_org(templates=["b2b"])
    rep = login_as(who=factories.user(org, "rep"))
    deal = factories.make_deal(org, "Closing", owner=rep, pipeline_name=B2B)
    update_deal(deal, rep, version=deal.version, facts={"authority": "Dana Ortiz <dana@acme.example>, CFO"})
    assert client.get(f"/playbooks/deals/{deal.id}/handoff").status_code == 404
    won = deal.pipeline.stage_by_kind("won")
    move_deal(deal, won, rep, facts={"contract_signed": True,
                                     "onboarding_handoff": "Promised a kickoff on Monday with their ops lead"})
    task = Task.query.filter_by(deal_id=deal.id, kind="handoff").one()
    page = client.get(f"/playbooks/deals/{deal.id}/handoff")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("Onboarding hand-off: Acme renewal", task.title, "Promised a kickoff on Monday",
                 "Dana Ortiz", "Decision maker", "Closing → Won", "warm introduction".capitalize()):
        assert text in body, text
    assert "Hand-off document" in client.get(f"/deals/{deal.id}").get_data(as_text=True)


def test_admins_edit_the_playbook_and_others_cannot(client, org, login_as):
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Proposal")
    login_as("rep")
    assert client.get(f"/playbooks/pipelines/{pipeline.id}").status_code == 403
    assert client.post(f"/playbooks/stages/{stage.id}/prompts", data={}).status_code == 403
    login_as("admin")
    page = client.get(f"/playbooks/pipelines/{pipeline.id}")
    assert page.status_code == 200 and "Discovery call sheets" in page.get_data(as_text=True)
    response = client.post(f"/playbooks/stages/{stage.id}/prompts", data={
        "prompt_id": ["", ""], "kind": ["question", "summary"], "text": ["Who reviews the proposal?", ""],
        "field": ["next_steps", ""]})
    assert response.status_code == 302
    assert [(p.text, p.field_key) for p in DiscoveryPrompt.query.filter_by(stage_id=stage.id)] == [
        ("Who reviews the proposal?", "next_steps")]
    bad = client.post(f"/playbooks/stages/{stage.id}/prompts", data={
        "prompt_id": [""], "kind": ["question"], "text": ["bad\x00line"], "field": [""]})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert "bad\x00line" in bad.get_data(as_text=True)  # what was typed comes back, escaped as text
    assert DiscoveryPrompt.query.filter_by(stage_id=stage.id).count() == 1
    guide = Objection.query.filter_by(pipeline_id=pipeline.id, archived=False).order_by(Objection.position).all()
    data = {"objection_id": [str(o.id) for o in guide] + [""], "objection": [o.text for o in guide] + ["Too <b>risky</b>"]}
    for n, o in enumerate(guide):
        data[f"response-{n}"] = o.responses
    data[f"response-{len(guide)}"] = ["We run a pilot first", "", ""]
    assert client.post(f"/playbooks/pipelines/{pipeline.id}/objections", data=data).status_code == 302
    page = client.get(f"/playbooks/pipelines/{pipeline.id}").get_data(as_text=True)
    assert "Too &lt;b&gt;risky&lt;/b&gt;" in page
    data["objection"][-1] = ""  # responses without their objection: refused, and the typed words come back
    data[f"response-{len(guide)}"] = ["Pilot first, then decide", "", ""]
    data["objection_id"].append("")
    data["objection"].append("")
    refused = client.post(f"/playbooks/pipelines/{pipeline.id}/objections", data=data)
    assert refused.status_code == 422 and "Pilot first, then decide" in refused.get_data(as_text=True)
    huge = client.post(f"/playbooks/pipelines/{pipeline.id}/settings", data={"handoff_intro": "x" * 600_000})
    assert huge.status_code == 413
    settings = client.post(f"/playbooks/pipelines/{pipeline.id}/settings", data={
        "objections_key": "pain", "demo_keys": ["pain", "needs"], "handoff_intro": "Call them together."})
    assert settings.status_code == 302
    book = Playbook.query.filter_by(pipeline_id=pipeline.id).one()
    assert (book.objections_key, book.demo_keys, book.handoff_intro) == ("pain", ["pain", "needs"],
                                                                         "Call them together.")
    refused = client.post(f"/playbooks/pipelines/{pipeline.id}/settings", data={"objections_key": "nope"})
    assert refused.status_code == 422
    db.session.expire_all()
    assert Playbook.query.filter_by(pipeline_id=pipeline.id).one().objections_key == "pain"


def test_a_blank_pipeline_can_start_its_guide_from_the_common_objections(client, org, login_as):
    from app.pipelines.service import create_pipeline

    pipeline = create_pipeline(org, "Blank")
    login_as("admin")
    assert client.post(f"/playbooks/pipelines/{pipeline.id}/objections/start").status_code == 302
    assert Objection.query.filter_by(pipeline_id=pipeline.id).count() == 5
    assert create_deal  # the gate's own service builds every deal above


def test_the_demo_seed_has_the_playbooks_of_its_pipelines(app):
    from app.seed import seed_demo

    org, _ = seed_demo()
    pipelines = {p.id for p in org_pipelines(org.id)}
    assert {b.pipeline_id for b in Playbook.query.filter_by(org_id=org.id)} == pipelines
    assert Objection.query.filter_by(org_id=org.id).count() == 5 * len(pipelines)
