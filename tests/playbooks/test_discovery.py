"""The discovery call sheet over HTTP: answers become facts (typed by the rep) or a timeline note."""

from app.deals.service import missing_for_move
from app.extensions import db
from app.models import Activity, Deal, DiscoveryAnswer, DiscoveryPrompt
from tests import factories
from tests.playbooks.helpers import by_key, fresh, prompts, unmapped


def _post(client, deal, stage, answers, version=None):
    data = {"stage": str(stage.id), "version": str(version or deal.version)}
    data.update({f"answer-{p.id}": text for p, text in answers})
    return client.post(f"/playbooks/deals/{deal.id}/discovery", data=data)


def test_answers_become_facts_typed_by_the_rep_and_the_rest_a_timeline_note(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, "Qualified", owner=rep)
    stage, lines = prompts(deal)
    page = client.get(f"/playbooks/deals/{deal.id}/discovery").get_data(as_text=True)
    assert "Discovery call sheet" in page and by_key(lines, "budget_range").text in page
    response = _post(client, deal, stage, [
        (by_key(lines, "budget_range"), "25k"),
        (by_key(lines, "decision_maker"), "Dana Ortiz <dana@acme.example>, CFO"),
        (unmapped(lines), "So the real problem is leads going cold <after> the first call"),
    ])
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Saved as facts: Budget range captured, Decision maker identified." in body
    assert "1 answer added to the timeline as a note." in body
    assert "&lt;after&gt;" in body or "<after>" not in body  # escaped, never markup
    deal = fresh(Deal, deal.id)
    assert deal.facts["budget_range"] == "25000.00" or float(deal.facts["budget_range"]) == 25000
    assert deal.facts_meta["budget_range"]["source"] == "rep"
    assert deal.facts_meta["budget_range"]["by"] == rep.email
    assert "Dana Ortiz" in deal.facts["decision_maker"]
    keys = {r.field.key for r in missing_for_move(deal, factories.stage(deal.pipeline, "Discovery"))}
    assert not keys & {"budget_range", "decision_maker"}  # the answers meet the gate
    note = Activity.query.filter_by(deal_id=deal.id, kind="note").one()
    assert "leads going cold <after> the first call" in note.body and "Discovery call (Qualified)" in note.body
    assert DiscoveryAnswer.query.filter_by(deal_id=deal.id).count() == 3
    shown = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "leads going cold" in shown and "Discovery call sheet" in shown


def test_a_buyer_confirmed_requirement_is_not_met_by_an_answer(client, login_as, app):
    org = factories.make_org(templates=["article"], buyer_confirms=True)
    admin = factories.user(org, "admin")
    login_as(who=admin)
    deal = factories.make_deal(org, "Qualified", owner=admin)
    stage = deal.stage
    asked = DiscoveryPrompt(org_id=org.id, stage_id=stage.id, kind="question", position=99,
                            text="When will you and the decision maker meet?", field_key="dm_meeting_date")
    db.session.add(asked)
    db.session.commit()
    page = client.get(f"/playbooks/deals/{deal.id}/discovery").get_data(as_text=True)
    assert "Only the buyer can confirm “DM meeting scheduled”" in page
    response = _post(client, deal, stage, [(asked, "2030-01-15")])
    assert response.status_code == 200
    assert "Only the buyer can confirm DM meeting scheduled" in response.get_data(as_text=True)
    deal = fresh(Deal, deal.id)
    assert "dm_meeting_date" not in deal.facts
    assert "dm_meeting_date" in {r.field.key for r in missing_for_move(deal, factories.stage(deal.pipeline, "Discovery"))}
    note = Activity.query.filter_by(deal_id=deal.id, kind="note").one()
    assert "2030-01-15" in note.body and "only the buyer can confirm" in note.body
    assert DiscoveryAnswer.query.filter_by(deal_id=deal.id).one().saved_as == "buyer"


def test_someone_who_cannot_edit_the_deal_is_refused_and_nothing_is_written(client, org, login_as):
    owner = factories.user(org, "rep")
    deal = factories.make_deal(org, "Qualified", owner=owner)
    other = factories.create_user(org, "other.rep@example.com", "Other Rep", "rep", factories.PASSWORD)
    login_as(who=other)
    stage, lines = prompts(deal)
    page = client.get(f"/playbooks/deals/{deal.id}/discovery").get_data(as_text=True)
    assert "Only the deal's owner or a manager can save answers" in page and "Save answers" not in page
    response = _post(client, deal, stage, [(by_key(lines, "budget_range"), "25k")])
    assert response.status_code == 403
    assert "budget_range" not in fresh(Deal, deal.id).facts
    assert DiscoveryAnswer.query.filter_by(deal_id=deal.id).count() == 0


def test_another_organisations_deal_is_not_found(client, org, login_as):
    deal = factories.make_deal(org, "Qualified")
    stage, lines = prompts(deal)
    other = factories.make_org(templates=["article"])
    login_as(who=factories.user(other, "admin"))
    for url in ("discovery", "objections", "demo-prep", "handoff"):
        assert client.get(f"/playbooks/deals/{deal.id}/{url}").status_code == 404
    assert _post(client, deal, stage, [(by_key(lines, "budget_range"), "25k")]).status_code == 404
    assert client.post(f"/playbooks/deals/{deal.id}/objections", data={"version": "1"}).status_code == 404
    assert client.get(f"/playbooks/pipelines/{deal.pipeline_id}").status_code == 404
    assert "budget_range" not in fresh(Deal, deal.id).facts


def _nothing_written(deal_id):
    deal = fresh(Deal, deal_id)
    assert "budget_range" not in deal.facts
    assert Activity.query.filter_by(deal_id=deal_id).count() == 0
    assert DiscoveryAnswer.query.filter_by(deal_id=deal_id).count() == 0


def test_odd_input_is_a_clear_4xx_and_writes_nothing(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, "Qualified", owner=rep)
    stage, lines = prompts(deal)
    budget, summary = by_key(lines, "budget_range"), unmapped(lines)
    for bad in ("a\x00b", "x" * 5001):
        response = _post(client, deal, stage, [(budget, "25k"), (summary, bad)])
        assert response.status_code == 422, bad[:5]
        assert 'aria-invalid="true"' in response.get_data(as_text=True)
        _nothing_written(deal.id)
    # A lone surrogate's bytes (ED A0 80) in a multipart body: decoded to U+FFFD, refused as not text.
    parts = [("stage", str(stage.id).encode()), ("version", str(deal.version).encode()),
             (f"answer-{budget.id}", b"25k"), (f"answer-{summary.id}", b"broken \xed\xa0\x80 text")]
    multipart = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\"\r\n\r\n"
                         + value + b"\r\n" for name, value in parts) + b"--B--\r\n"
    response = client.post(f"/playbooks/deals/{deal.id}/discovery", data=multipart,
                           content_type="multipart/form-data; boundary=B")
    assert response.status_code == 422
    _nothing_written(deal.id)
    # A fact that does not parse: its message beside the answer, and the note is not written either.
    response = _post(client, deal, stage, [(budget, "lots of money"), (summary, "fine words")])
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="answer-{budget.id}-error"' in body and "fine words" in body  # what was typed is kept
    _nothing_written(deal.id)
    huge = client.post(f"/playbooks/deals/{deal.id}/discovery",
                       data={"stage": str(stage.id), "version": "1", f"answer-{summary.id}": "y" * 600_000})
    assert huge.status_code == 413
    other_stage, other_lines = prompts(deal, "Discovery")
    response = _post(client, deal, stage, [(other_lines[0], "not on this sheet")])
    assert response.status_code == 422
    assert client.post(f"/playbooks/deals/{deal.id}/discovery", data={"stage": "junk", "version": "1"}).status_code == 404
    _nothing_written(deal.id)


def test_a_stale_sheet_is_a_conflict_that_keeps_the_answers(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, "Qualified", owner=rep)
    stage, lines = prompts(deal)
    response = _post(client, deal, stage, [(unmapped(lines), "typed on the call")], version=deal.version + 5)
    assert response.status_code == 409
    assert "typed on the call" in response.get_data(as_text=True)
    _nothing_written(deal.id)
