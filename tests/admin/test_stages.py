"""Admin: stages of a pipeline (add, edit, meeting rule, order, archive, delete)."""

import pytest

from app.deals.service import move_deal
from app.extensions import db
from app.models import Deal, Stage
from tests import factories


def _form(**overrides):
    data = {"name": "Security review", "buyer_state": "Buyer's IT has our questionnaire", "kind": "open",
            "probability": "60", "max_days": "10", "guidance": "Send the questionnaire on day one."}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _names(pipeline_id):
    return [s.name for s in Stage.query.filter_by(pipeline_id=pipeline_id).order_by(Stage.position)]


def test_add_open_stage_sits_before_won_and_lost(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    response = client.post(f"/admin/pipelines/{pipeline.id}/stages", data=_form())
    assert response.status_code == 302
    assert _names(pipeline.id) == ["Qualified", "Discovery", "Proposal", "Negotiation", "Security review",
                                   "Closed Won", "Closed Lost"]
    stage = Stage.query.filter_by(pipeline_id=pipeline.id, name="Security review").one()
    assert (stage.probability, stage.max_days, stage.guidance) == (60, 10, "Send the questionnaire on day one.")


def test_max_days_defaults_to_seven(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    client.post(f"/admin/pipelines/{pipeline.id}/stages", data=_form(max_days=""))
    assert Stage.query.filter_by(pipeline_id=pipeline.id, name="Security review").one().max_days == 7


@pytest.mark.parametrize("overrides,message", [
    ({"name": ""}, "Stage name is required"),
    ({"probability": "150"}, "must be between 0 and 100"),
    ({"probability": "lots"}, "Not a valid integer"),
    ({"max_days": "0"}, "must be between 1 and 3650"),
    ({"name": "x" * 10_000}, "at most 80 characters"),
    ({"guidance": "g" * 20_000}, "at most 5,000 characters"),
    ({"name": "Security\x00review"}, "contains characters that are not text"),
    ({"guidance": "Broken \ufffd bytes"}, "contains characters that are not text"),
    ({"kind": "maybe"}, "must be open, won or lost"),
    ({"name": "discovery"}, "already has this name"),
    ({"kind": "won", "is_meeting": "y"}, "Only an open stage can be the meeting stage"),
])
def test_bad_stage_input_explains_and_writes_nothing(client, org, login_as, overrides, message):
    login_as("admin")
    pipeline = factories.pipeline(org)
    before = _names(pipeline.id)
    response = client.post(f"/admin/pipelines/{pipeline.id}/stages", data=_form(**overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _names(pipeline.id) == before


def test_edit_stage_fields(client, org, login_as):
    login_as("admin")
    stage = factories.stage(factories.pipeline(org), "Proposal")
    page = client.get(f"/admin/stages/{stage.id}").get_data(as_text=True)
    assert "Send the proposal and get it acknowledged" in page
    response = client.post(f"/admin/stages/{stage.id}", data=_form(name="Proposal out", probability="55",
                                                                   max_days="14", guidance="Review it live."))
    assert response.status_code == 302
    stage = Stage.query.get(stage.id)
    assert (stage.name, stage.probability, stage.max_days, stage.guidance) == ("Proposal out", 55, 14, "Review it live.")


def test_setting_meeting_stage_moves_the_flag(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    assert [s.name for s in pipeline.stages if s.is_meeting] == ["Discovery"]
    proposal = factories.stage(pipeline, "Proposal")
    client.post(f"/admin/stages/{proposal.id}", data=_form(name="Proposal", is_meeting="y"))
    meetings = Stage.query.filter_by(pipeline_id=pipeline.id, is_meeting=True).all()
    assert [s.name for s in meetings] == ["Proposal"]


def test_bad_edit_keeps_the_stage_and_what_was_typed(client, org, login_as):
    login_as("admin")
    stage = factories.stage(factories.pipeline(org), "Proposal")
    response = client.post(f"/admin/stages/{stage.id}", data=_form(name="Proposal v2", probability="150"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Win probability (%) must be between 0 and 100" in page and 'value="Proposal v2"' in page
    assert Stage.query.get(stage.id).name == "Proposal"


def test_reorder_stages_up_and_down_within_open_stages(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    proposal = factories.stage(pipeline, "Proposal")
    client.post(f"/admin/stages/{proposal.id}/move", data={"direction": "up"})
    assert _names(pipeline.id)[:3] == ["Qualified", "Proposal", "Discovery"]
    negotiation = factories.stage(pipeline, "Negotiation")
    client.post(f"/admin/stages/{negotiation.id}/move", data={"direction": "down"})
    assert _names(pipeline.id)[3:] == ["Negotiation", "Closed Won", "Closed Lost"]


def test_changing_an_open_stage_to_won_moves_it_after_open_stages(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    qualified = factories.stage(pipeline, "Qualified")
    client.post(f"/admin/stages/{qualified.id}", data=_form(name="Qualified", kind="won", probability="100"))
    names = _names(pipeline.id)
    assert names.index("Qualified") > names.index("Negotiation")


def test_deleting_a_stage_deals_use_is_refused_with_archive_advice(client, org, login_as):
    login_as("admin")
    factories.make_deal(org, "Discovery")
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Qualified")  # the deal has passed through it
    response = client.post(f"/admin/stages/{stage.id}/delete", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "cannot be deleted" in page and "Archive it instead" in page
    assert Stage.query.get(stage.id) is not None


def test_unused_stage_can_be_deleted(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    stage = factories.stage(pipeline, "Proposal")
    response = client.post(f"/admin/stages/{stage.id}/delete", follow_redirects=True)
    assert "Stage Proposal deleted" in response.get_data(as_text=True)
    assert _names(pipeline.id) == ["Qualified", "Discovery", "Negotiation", "Closed Won", "Closed Lost"]


def test_archive_and_restore_stage(client, org, login_as):
    login_as("admin")
    stage = factories.stage(factories.pipeline(org), "Negotiation")
    client.post(f"/admin/stages/{stage.id}/archive", data={"archived": "1"})
    assert Stage.query.get(stage.id).archived is True
    client.post(f"/admin/stages/{stage.id}/archive", data={"archived": "0"})
    assert Stage.query.get(stage.id).archived is False


def test_stage_with_open_deals_cannot_be_archived(client, org, login_as):
    login_as("admin")
    deal = factories.make_deal(org, "Discovery")
    response = client.post(f"/admin/stages/{deal.stage_id}/archive", data={"archived": "1"}, follow_redirects=True)
    assert "1 deal is in Discovery. Move it to another stage before archiving it." in response.get_data(as_text=True)
    assert Stage.query.get(deal.stage_id).archived is False


def test_the_only_lost_stage_cannot_be_deleted(client, org, login_as):
    login_as("admin")
    lost = factories.stage(factories.pipeline(org), "Closed Lost")
    response = client.post(f"/admin/stages/{lost.id}/delete", follow_redirects=True)
    assert "needs a Lost stage" in response.get_data(as_text=True)
    assert Stage.query.get(lost.id) is not None


def test_a_stage_holding_a_deal_cannot_change_kind_and_the_editor_links_to_its_deals(client, org, login_as):
    login_as("admin")
    deal = factories.make_deal(org, "Negotiation")
    pipeline = factories.pipeline(org)
    negotiation = factories.stage(pipeline, "Negotiation")
    page = client.get(f"/admin/stages/{negotiation.id}").get_data(as_text=True)
    assert "1 deal in Negotiation</a>" in page
    assert f'href="/deals/board/{pipeline.id}?owner=all#col-{negotiation.id}"' in page
    response = client.post(f"/admin/stages/{negotiation.id}",
                           data=_form(name="Negotiation", kind="won", probability="100"))
    assert response.status_code == 422
    assert "1 deal is in Negotiation; move it to another stage before changing its kind." in \
        response.get_data(as_text=True)
    db.session.expire_all()
    assert Stage.query.get(negotiation.id).kind == "open"
    assert db.session.get(Deal, deal.id).status == "open"
    # Renaming it (same kind) still works.
    response = client.post(f"/admin/stages/{negotiation.id}", data=_form(name="Negotiating", kind="open"))
    assert response.status_code == 302 and Stage.query.get(negotiation.id).name == "Negotiating"


def test_a_won_or_lost_stage_holding_closed_deals_cannot_change_kind_or_be_archived(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    lost = factories.stage(pipeline, "Closed Lost")
    factories.make_deal(org)
    client.post(f"/admin/pipelines/{pipeline.id}/stages", data=_form(name="Lost to a competitor", kind="lost"))
    deal = Deal.query.one()
    move_deal(deal, lost, factories.user(org, "admin"), reason="Price")
    response = client.post(f"/admin/stages/{lost.id}/archive", data={"archived": "1"}, follow_redirects=True)
    assert "1 deal is in Closed Lost" in response.get_data(as_text=True)
    response = client.post(f"/admin/stages/{lost.id}", data=_form(name="Closed Lost", kind="open"))
    assert response.status_code == 422
    db.session.expire_all()
    assert (Stage.query.get(lost.id).kind, Stage.query.get(lost.id).archived) == ("lost", False)


def test_the_pipeline_page_counts_each_stages_deals_with_a_link_to_them(client, org, login_as):
    login_as("admin")
    factories.make_deal(org, "Discovery")
    factories.make_deal(org, "Discovery", title="Second")
    pipeline = factories.pipeline(org)
    page = client.get(f"/admin/pipelines/{pipeline.id}").get_data(as_text=True)
    discovery = factories.stage(pipeline, "Discovery")
    assert f'href="/deals/board/{pipeline.id}?owner=all#col-{discovery.id}" class="stage-deals">2 deals in Discovery' \
        in page
    assert "deals in Proposal" not in page and "deal in Proposal" not in page


def test_an_empty_stage_can_still_change_kind(client, org, login_as):
    login_as("admin")
    factories.make_deal(org, "Discovery")
    proposal = factories.stage(factories.pipeline(org), "Proposal")
    response = client.post(f"/admin/stages/{proposal.id}", data=_form(name="Proposal", kind="won", probability="90"))
    assert response.status_code == 302 and Stage.query.get(proposal.id).kind == "won"
