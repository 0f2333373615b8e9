"""The seller's side of the room on the deal page, the criteria editor's buyer tick, and the facts
panel saying where each fact came from: through real pages, with CSRF on."""

import re

import pytest

from app.models import Deal, RoomInvite, StageRequirement
from tests import factories
from tests.rooms.conftest import csrf_from, fresh, token_of


@pytest.fixture
def rep_with_csrf(app, login_as):
    """Sign the rep in (the suite's helper posts without a token), then turn CSRF on for the test."""
    login_as("rep")
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def _page_csrf(client, deal):
    page = client.get(f"/deals/{deal.id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_the_rep_opens_the_room_adds_a_step_invites_and_revokes_on_the_deal_page(client, deal, rep_with_csrf):
    html = _page_csrf(client, deal)
    assert "Open the deal room" in html
    csrf = csrf_from(html)
    hx = {"HX-Request": "true"}
    opened = client.post(f"/deals/{deal.id}/room", data={"csrf_token": csrf}, headers=hx)
    assert opened.status_code == 200 and "Deal room opened." in opened.get_data(as_text=True)
    added = client.post(f"/deals/{deal.id}/room/steps", headers=hx,
                        data={"csrf_token": csrf, "title": "Security review", "side": "seller", "due_on": "2030-01-15"})
    assert "Step “Security review” added." in added.get_data(as_text=True)
    invited = client.post(f"/deals/{deal.id}/room/invites", headers=hx,
                          data={"csrf_token": csrf, "contact_email": "dana@buyer.example"})
    text = invited.get_data(as_text=True)
    assert "Invited dana@buyer.example." in text and "Copy link" in text
    url = re.search(r'value="(https://stagegate\.test/r/[^"]+)"', text).group(1)
    assert client.get(f"/r/{token_of(url)}").status_code == 200
    revoked = client.post(f"/deals/{deal.id}/room/invites/revoke", headers=hx,
                          data={"csrf_token": csrf, "contact_email": "dana@buyer.example"})
    assert "dana@buyer.example&#39;s link is revoked." in revoked.get_data(as_text=True)
    assert client.get(f"/r/{token_of(url)}").status_code == 404


def test_without_javascript_each_room_action_comes_back_to_the_deal_page_saying_what_happened(
        client, deal, rep_with_csrf):
    csrf = csrf_from(_page_csrf(client, deal))
    answer = client.post(f"/deals/{deal.id}/room", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Deal room opened." in answer.get_data(as_text=True)
    refused = client.post(f"/deals/{deal.id}/room/invites", data={"csrf_token": csrf, "contact_email": "nope"},
                          follow_redirects=True)
    assert "No invitation was made." in refused.get_data(as_text=True)
    assert RoomInvite.query.count() == 0


def test_room_actions_without_a_csrf_token_are_refused(client, deal, rep_with_csrf):
    client.post(f"/deals/{deal.id}/room", data={})
    assert fresh(Deal, deal.id) is not None
    from app.models import DealRoom

    assert DealRoom.query.count() == 0


def test_another_reps_deal_room_is_not_theirs_to_change(client, login_as, org, deal):
    from app.auth.service import create_user

    other = create_user(org, "olly@org.example.com", "Olly Other", "rep", factories.PASSWORD)
    login_as(who=other)
    answer = client.post(f"/deals/{deal.id}/room", headers={"HX-Request": "true"})
    assert answer.status_code == 403 and "or a manager can change its room" in answer.get_data(as_text=True)


def test_an_admin_ticks_confirmed_by_the_buyer_and_the_api_lists_it(client, login_as, app):
    org = factories.make_org(templates=["article"])  # without the template's marks
    pipeline = factories.pipeline(org)
    proposal = factories.stage(pipeline, "Proposal")
    ids = {f.key: str(f.id) for f in pipeline.fields}
    login_as(who=factories.user(org, "admin"))
    page = client.get(f"/admin/pipelines/{pipeline.id}/criteria").get_data(as_text=True)
    assert "Proposal sent and acknowledged: confirmed by the buyer" in page
    saved = client.post(f"/admin/stages/{proposal.id}/criteria", data={
        "entry": [ids["proposal_drafted"]], "exit": [ids["proposal_acknowledged"]],
        "buyer": [ids["proposal_acknowledged"]], "buyer_marks": "1"}, follow_redirects=True)
    assert "Criteria for Proposal saved." in saved.get_data(as_text=True)
    marks = {r.field.key: r.buyer for r in StageRequirement.query.filter_by(stage_id=proposal.id)}
    assert marks == {"proposal_drafted": False, "proposal_acknowledged": True}
    from app.auth.service import create_api_key

    raw, _ = create_api_key(factories.user(org, "admin"), "k")
    stages = client.get("/api/v1/pipelines", headers={"Authorization": f"Bearer {raw}"}).json[0]["stages"]
    assert next(s for s in stages if s["name"] == "Proposal")["requirements"]["buyer"] == ["proposal_acknowledged"]
    refused = client.post(f"/admin/stages/{proposal.id}/criteria", data={
        "entry": [ids["proposal_drafted"]], "exit": [], "buyer": [ids["budget_range"]], "buyer_marks": "1"},
        follow_redirects=True)
    assert "Nothing was saved" in refused.get_data(as_text=True)
    assert {r.field.key: r.buyer for r in StageRequirement.query.filter_by(stage_id=proposal.id)} == marks


def test_the_facts_panel_says_who_confirmed_a_fact_and_when(client, login_as, key_for, deal, app, csrf_on):
    rep = key_for("rep")
    client.post(f"/api/v1/deals/{deal.id}/room", headers=rep)
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=rep,
                          json={"contact_email": "dana@buyer.example"}).json
    token = token_of(invited["url"])
    buyer_page = client.get(f"/r/{token}").get_data(as_text=True)
    step_id = re.search(r'/steps/(\d+)/confirm', buyer_page).group(1)
    client.post(f"/r/{token}/steps/{step_id}/confirm", data={"name": "Dana Ortiz", "csrf_token": csrf_from(buyer_page)})
    app.config["WTF_CSRF_ENABLED"] = False
    login_as("rep")
    html = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert re.search(r"Confirmed by dana@buyer\.example, \d+ \w{3} \d\d:\d\d UTC", html)
    assert 'title="Typed by rep' in html  # the facts the rep typed say so on hover,
    assert '<p class="fact-source muted">Typed by' not in html  # not under every field
    assert "✓ Confirmed by Dana Ortiz (dana@buyer.example)" in html


def test_the_move_dialog_says_which_facts_only_the_buyer_can_confirm(client, login_as, deal):
    login_as("rep")
    discovery = factories.stage(factories.pipeline(deal_org(deal)), "Discovery")
    answer = client.post(f"/deals/{deal.id}/move", data={"stage_id": discovery.id, "version": deal.version,
                                                         "source": "page"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Only the buyer can confirm DM meeting scheduled: ask them to tick it in the deal room" in text
    typed = client.post(f"/deals/{deal.id}/move", data={"stage_id": discovery.id, "version": deal.version,
                                                        "source": "page", "dialog": "1",
                                                        "fact_dm_meeting_date": "2030-01-15"})
    assert typed.status_code == 422 and fresh(Deal, deal.id).stage_id != discovery.id


def deal_org(deal):
    from app.extensions import db
    from app.models import Organization

    return db.session.get(Organization, deal.org_id)


def test_the_rep_marks_our_own_step_done_and_the_buyer_sees_it(client, deal, rep_with_csrf, key_for):
    headers = key_for("rep")
    client.post(f"/api/v1/deals/{deal.id}/room", headers=headers)
    step = client.post(f"/api/v1/deals/{deal.id}/room/steps", headers=headers,
                       json={"title": "Send the security pack", "side": "seller"}).json
    buyer_step = client.post(f"/api/v1/deals/{deal.id}/room/steps", headers=headers,
                             json={"title": "Return the questionnaire", "side": "buyer"}).json
    invited = client.post(f"/api/v1/deals/{deal.id}/room/invites", headers=headers,
                          json={"contact_email": "dana@buyer.example"}).json
    html = _page_csrf(client, deal)
    assert f"/room/steps/{step['id']}/done" in html and f"/room/steps/{buyer_step['id']}/done" not in html
    done = client.post(f"/deals/{deal.id}/room/steps/{step['id']}/done", data={"csrf_token": csrf_from(html)},
                       headers={"HX-Request": "true"})
    assert done.status_code == 200 and "“Send the security pack” is done" in done.get_data(as_text=True)
    assert "✓ Done by" in done.get_data(as_text=True)
    refused = client.post(f"/deals/{deal.id}/room/steps/{buyer_step['id']}/done",
                          data={"csrf_token": csrf_from(html)}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "is not one of our steps" in refused.get_data(as_text=True)
    again = client.post(f"/deals/{deal.id}/room/steps/{step['id']}/done", data={"csrf_token": csrf_from(html)},
                        headers={"HX-Request": "true"})
    assert again.status_code == 422 and "is already done" in again.get_data(as_text=True)
    room_page = client.get(f"/r/{token_of(invited['url'])}").get_data(as_text=True)
    assert "Send the security pack" in room_page and "✓ Done" in room_page
    for unknown in (buyer_step["id"] + 1000, 2**31):  # not a step of this room: a 404, nothing written
        missing = client.post(f"/deals/{deal.id}/room/steps/{unknown}/done", data={"csrf_token": csrf_from(html)})
        assert missing.status_code == 404
