"""The board, the gated move dialog and the deal page, through HTTP as a user would."""

import re
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import Company, Deal, LossReason, StageRequirement, StageTransition
from tests import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def pipe(org):
    return factories.pipeline(org)


def stage(pipe, name):
    return factories.stage(pipe, name)


def html(response):
    return response.get_data(as_text=True)


def board(client, pipe, **params):
    response = client.get(f"/deals/board/{pipe.id}", query_string=params)
    assert response.status_code == 200
    return html(response)


def move(client, deal, to_stage, version=None, htmx=True, **data):
    payload = {"stage_id": to_stage.id, "version": deal.version if version is None else version,
               "source": "board", **data}
    return client.post(f"/deals/{deal.id}/move", data=payload, headers=HX if htmx else {})


def fresh(deal_id):
    db.session.expire_all()
    return db.session.get(Deal, deal_id)


def transitions(deal_id):
    return StageTransition.query.filter_by(deal_id=deal_id).order_by(StageTransition.id).all()


# --- the board -------------------------------------------------------------------------------

def test_board_shows_a_column_per_stage_with_counts_totals_and_cards(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, title="Acme renewal", amount="1500")
    deal.company = Company(org_id=org.id, name="Acme Logistics")
    db.session.commit()
    factories.make_deal(org, title="Birch rollout", amount="2500")
    factories.make_deal(org, "Discovery", title="Cedar pilot", amount="4000")
    page = board(client, pipe)
    heads = [h.strip() for h in re.findall(r'class="column-head" id="col-head-\d+"><h2>([^<]+)', page)]
    assert heads == ["Qualified", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost"]
    qualified = stage(pipe, "Qualified")
    head = page.split(f'id="col-head-{qualified.id}"')[1].split("</header>")[0]
    assert "2 deals" in head and "$4,000" in head
    assert "Acme renewal" in page and "Acme Logistics" in page and "Cedar pilot" in page
    card = page.split(f'id="card-{deal.id}"')[1].split("</article>")[0]
    assert "$1,500" in card and "RR" in card  # owner initials (Rae Rep)
    assert "2 facts to exit" in card  # budget range and decision maker are not recorded yet


def test_card_past_the_stage_maximum_says_overdue_not_only_in_red(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, title="Old one")
    deal.stage_entered_at = deal.stage_entered_at - timedelta(days=40)
    deal.next_step, deal.next_step_due = "Call the CFO", date.today() + timedelta(days=3)
    db.session.commit()
    page = board(client, pipe)
    assert f'<article class="card is-overdue" id="card-{deal.id}"' in page
    card = page.split(f'id="card-{deal.id}"')[1].split("</article>")[0]
    assert "⚠ 40d in stage · overdue" in card  # words and an icon, not colour alone
    assert "Call the CFO" in card and "in 3 days" in card


def test_rep_sees_only_their_deals_by_default_and_can_ask_for_everyone(client, login_as, org, pipe):
    rep = login_as("rep")
    factories.make_deal(org, title="Mine", owner=rep)
    factories.make_deal(org, title="The manager's", owner=factories.user(org, "manager"))
    page = board(client, pipe)
    assert "Mine" in page and "The manager&#39;s" not in page
    everyone = board(client, pipe, owner="all")
    assert "The manager&#39;s" in everyone


def test_manager_sees_everyone_by_default_and_can_filter_by_owner(client, login_as, org, pipe):
    login_as("manager")
    rep = factories.user(org, "rep")
    factories.make_deal(org, title="Rep deal", owner=rep)
    factories.make_deal(org, title="Manager deal", owner=factories.user(org, "manager"))
    page = board(client, pipe)
    assert "Rep deal" in page and "Manager deal" in page
    only_rep = board(client, pipe, owner=rep.id)
    assert "Rep deal" in only_rep and "Manager deal" not in only_rep


def test_search_matches_title_or_company_and_totals_follow_the_filter(client, login_as, org, pipe):
    login_as("manager")
    a = factories.make_deal(org, title="Harbor expansion", amount="100")
    factories.make_deal(org, title="Unrelated", amount="900")
    b = factories.make_deal(org, title="Something", amount="50")
    b.company = Company(org_id=org.id, name="Harbor & Co")
    db.session.commit()
    page = board(client, pipe, q="harbor")
    assert f'id="card-{a.id}"' in page and f'id="card-{b.id}"' in page and "Unrelated" not in page
    qualified = stage(pipe, "Qualified")
    head = page.split(f'id="col-head-{qualified.id}"')[1].split("</header>")[0]
    assert "2 deals" in head and "$150" in head


def test_filter_change_by_htmx_returns_only_the_board_partial(client, login_as, org, pipe):
    login_as("manager")
    factories.make_deal(org, title="Partial deal")
    response = client.get(f"/deals/board/{pipe.id}", query_string={"q": "Partial"},
                          headers={**HX, "HX-Target": "board"})
    body = html(response)
    assert body.lstrip().startswith('<div id="board"') and "<html" not in body
    assert "Partial deal" in body


def test_load_more_returns_the_next_cards_of_a_column(app, client, login_as, org, pipe):
    login_as("manager")
    app.config["BOARD_PAGE_SIZE"] = 3
    try:
        deals = [factories.make_deal(org, title=f"Deal {i:02d}") for i in range(7)]
        page = board(client, pipe)
        shown = set(re.findall(r'id="card-(\d+)"', page))
        assert len(shown) == 3
        more = re.search(r'hx-get="(/deals/board/\d+/column/\d+\?[^"]+)"', page).group(1)
        second = html(client.get(more.replace("&amp;", "&")))
        next_ids = set(re.findall(r'id="card-(\d+)"', second))
        assert len(next_ids) == 3 and not next_ids & shown
        third_url = re.search(r'hx-get="([^"]+)"', second).group(1).replace("&amp;", "&")
        third = html(client.get(third_url))
        last = set(re.findall(r'id="card-(\d+)"', third))
        assert shown | next_ids | last == {str(d.id) for d in deals}
        assert "Load more" not in third
    finally:
        app.config["BOARD_PAGE_SIZE"] = 20


def test_bad_cursor_is_a_400_not_a_500(client, login_as, org, pipe):
    login_as("manager")
    qualified = stage(pipe, "Qualified")
    response = client.get(f"/deals/board/{pipe.id}/column/{qualified.id}?after=garbage")
    assert response.status_code == 400


def test_empty_board_offers_a_new_deal(client, login_as, pipe):
    login_as("rep")
    page = board(client, pipe)
    assert "You have no deals in Article five-stage yet." in page
    assert f"/deals/new?pipeline_id={pipe.id}" in page
    assert "A manager can import your deals from a CSV." in page
    login_as("manager")
    page = board(client, pipe)
    assert "No deals in Article five-stage yet." in page
    assert f'href="/imports/?kind=deals&amp;pipeline_id={pipe.id}"' in page
    assert "Moving from another CRM? <a" in page and "Import a CSV</a> —" in page


def test_another_orgs_board_is_a_404(client, login_as):
    login_as("admin")
    other = factories.make_org()
    response = client.get(f"/deals/board/{factories.pipeline(other).id}")
    assert response.status_code == 404


# --- moves -----------------------------------------------------------------------------------

def test_move_that_passes_lands_the_card_and_updates_both_column_headers(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, facts={"budget_range": "5000", "decision_maker": "dm@buyer.com"})
    factories.make_deal(org, title="Stays behind", amount="700")
    discovery = stage(pipe, "Discovery")
    deal.facts = {**deal.facts, "dm_meeting_date": date.today().isoformat()}
    db.session.commit()
    response = move(client, deal, discovery)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#cards-{discovery.id}"
    body = html(response)
    assert f'id="card-{deal.id}"' in body
    qualified = stage(pipe, "Qualified")
    q_head = body.split(f'id="col-head-{qualified.id}"')[1].split("</header>")[0]
    d_head = body.split(f'id="col-head-{discovery.id}"')[1].split("</header>")[0]
    assert "1 deal" in q_head and "$700" in q_head
    assert "1 deal" in d_head and "$1,000" in d_head
    assert fresh(deal.id).stage_id == discovery.id


def test_refused_move_asks_for_exactly_the_missing_facts_and_writes_nothing(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, facts={"budget_range": "5000"})
    before = (deal.version, dict(deal.facts), len(transitions(deal.id)))
    response = move(client, deal, stage(pipe, "Discovery"))
    body = html(response)
    assert response.headers["HX-Retarget"] == "#move-dialog-slot"
    assert "<dialog" in body
    labels = re.findall(r'<label for="fact_(\w+)">([^<]+)', body)
    assert labels == [("decision_maker", "Decision maker identified (Qualified exit)"),
                      ("dm_meeting_date", "DM meeting scheduled (Discovery entry)")]
    assert 'list="contact-options"' in body and 'type="date"' in body
    assert "Decision maker has agreed to meet" in body  # the target stage's guidance beside the form
    d = fresh(deal.id)
    assert (d.version, d.facts, len(transitions(deal.id))) == before
    assert d.stage.name == "Qualified"


def test_dialog_with_valid_facts_saves_them_and_moves_in_one_go(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    discovery = stage(pipe, "Discovery")
    meeting = (date.today() + timedelta(days=5)).isoformat()
    response = move(client, deal, discovery, dialog="1", fact_budget_range="12000",
                    fact_decision_maker="Pat@Buyer.com", fact_dm_meeting_date=meeting)
    assert response.status_code == 200, html(response)
    assert response.headers["HX-Retarget"] == f"#cards-{discovery.id}"
    d = fresh(deal.id)
    assert d.stage_id == discovery.id
    assert d.facts["budget_range"] == "12000.00" and d.facts["decision_maker"] == "pat@buyer.com"
    last = transitions(deal.id)[-1]
    assert last.kind == "forward" and all(c["met"] for c in last.criteria)
    assert {c["field"] for c in last.criteria} == {"budget_range", "decision_maker", "dm_meeting_date"}


@pytest.mark.parametrize("name,value,error", [
    ("fact_budget_range", "-5", "Must be zero or more."),
    ("fact_dm_meeting_date", "31/12/2030", "Must be a date (YYYY-MM-DD)."),
    ("fact_decision_maker", "Pat, not@", "Has an email address that is not valid"),
])
def test_invalid_fact_in_the_dialog_keeps_what_was_typed_and_shows_the_error_beside_it(
        client, login_as, org, pipe, name, value, error):
    login_as("manager")
    deal = factories.make_deal(org)
    good = {"fact_budget_range": "100", "fact_decision_maker": "dm@x.com",
            "fact_dm_meeting_date": "2030-01-01"}
    response = move(client, deal, stage(pipe, "Discovery"), dialog="1", **{**good, name: value})
    body = html(response)
    assert "<dialog" in body
    field_html = body.split(f'<label for="{name}">')[1].split("</small>")[0]
    assert f'value="{value}"' in field_html  # what was typed is kept
    assert f'<small class="field-error" id="{name}-error">{error}' in field_html
    d = fresh(deal.id)
    assert d.stage.name == "Qualified" and "budget_range" not in d.facts


def test_dialog_still_missing_a_checkbox_asks_again_and_keeps_typed_values(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, "Discovery")
    proposal = stage(pipe, "Proposal")
    response = move(client, deal, proposal, dialog="1", fact_needs="Typed needs",
                    fact_next_steps="Call Tuesday")  # proposal_drafted left unticked
    body = html(response)
    assert "<dialog" in body and "Typed needs" in body and 'value="Call Tuesday"' in body
    assert "Needed to move to Proposal." in body
    d = fresh(deal.id)
    assert d.stage.name == "Discovery" and "needs" not in d.facts


def test_closing_as_lost_needs_a_reason(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    lost = stage(pipe, "Closed Lost")
    body = html(move(client, deal, lost))
    assert "Loss reason" in body and "Timing" in body
    assert fresh(deal.id).status == "open"
    body = html(move(client, deal, lost, dialog="1"))
    assert "Loss reason is required" in body
    reason = LossReason.query.filter_by(org_id=org.id, label="Timing").one()
    response = move(client, deal, lost, dialog="1", loss_reason_id=reason.id)
    assert response.headers["HX-Retarget"] == f"#cards-{lost.id}"
    d = fresh(deal.id)
    assert d.status == "lost" and d.loss_reason_id == reason.id
    assert transitions(deal.id)[-1].reason == "Timing"


def test_manager_override_is_recorded_and_shown_on_the_deal_page(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    dialog = html(move(client, deal, stage(pipe, "Discovery")))
    assert "Override the gate" in dialog
    response = move(client, deal, stage(pipe, "Discovery"), dialog="1",
                    override_reason="Budget confirmed verbally by the CFO")
    assert response.status_code == 200
    last = transitions(deal.id)[-1]
    assert last.override and last.kind == "override"
    page = html(client.get(f"/deals/{deal.id}"))
    assert "Gate overridden:" in page and "Budget confirmed verbally by the CFO" in page


def test_rep_cannot_override_the_gate(client, login_as, org, pipe):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    dialog = html(move(client, deal, stage(pipe, "Discovery")))
    assert "Override the gate" not in dialog
    response = move(client, deal, stage(pipe, "Discovery"), dialog="1", override_reason="Trust me")
    assert response.status_code == 403
    assert "Only an admin or a manager can override the gate." in html(response)
    assert fresh(deal.id).stage.name == "Qualified"


def test_rep_cannot_move_someone_elses_deal(client, login_as, org, pipe):
    login_as("rep")
    deal = factories.make_deal(org, owner=factories.user(org, "manager"),
                               facts={"budget_range": "1", "decision_maker": "a@b.com"})
    response = move(client, deal, stage(pipe, "Closed Lost"), reason="Timing")
    assert response.status_code == 403
    assert "Only the deal&#39;s owner or a manager can move it." in html(response)
    assert fresh(deal.id).status == "open"


def test_stale_version_gets_a_conflict_message_and_nothing_is_overwritten(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, facts={"budget_range": "5000", "decision_maker": "dm@x.com"})
    stale = deal.version
    deal.title = "Renamed elsewhere"
    db.session.commit()
    response = move(client, deal, stage(pipe, "Closed Lost"), version=stale, reason="Timing")
    body = html(response)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#move-dialog-slot"
    assert "changed by someone else" in body and "Renamed elsewhere" in body
    assert fresh(deal.id).status == "open"
    plain = move(client, deal, stage(pipe, "Closed Lost"), version=stale, htmx=False, reason="Timing")
    assert plain.status_code == 409


def test_another_orgs_deal_or_stage_is_a_404(client, login_as, org, pipe):
    login_as("admin")
    other = factories.make_org()
    theirs = factories.make_deal(other)
    mine = factories.make_deal(org)
    assert client.get(f"/deals/{theirs.id}").status_code == 404
    assert move(client, theirs, stage(pipe, "Discovery")).status_code == 404
    their_stage = stage(factories.pipeline(other), "Discovery")
    assert move(client, mine, their_stage).status_code == 404
    assert client.post(f"/deals/{theirs.id}/facts", data={"version": 1}).status_code == 404


def test_another_pipelines_stage_is_a_clear_error(client, login_as):
    other_org = factories.make_org(templates=["article", "b2b"])
    login_as("admin", who=factories.user(other_org, "admin"))
    deal = factories.make_deal(other_org)
    b2b_stage = stage(factories.pipeline(other_org, "B2B sales"), "Outreach")
    response = move(client, deal, b2b_stage)
    assert response.status_code == 400
    assert "is not a stage of this deal&#39;s pipeline" in html(response)


def test_huge_and_garbage_input_is_an_error_not_a_500(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    discovery = stage(pipe, "Discovery")
    assert move(client, deal, discovery, version="9" * 5000).status_code == 400
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": "9" * 5000}, headers=HX)
    assert response.status_code == 400
    body = html(move(client, deal, discovery, dialog="1", fact_budget_range="1" * 100_000,
                     override_reason="x" * 100_000))
    assert "Must be a number below" in body
    response = client.post(f"/deals/{deal.id}/facts", headers=HX, data={
        "version": deal.version, "title": "T" * 100_000, "fact_pain": "p" * 20_000})
    assert response.status_code == 200
    body = html(response)
    assert "Must be at most 200 characters." in body and "Must be at most 10,000 characters." in body
    assert fresh(deal.id).title == "Acme renewal"


# --- the deal page ---------------------------------------------------------------------------

def test_deal_page_shows_facts_guidance_move_menu_and_history(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, "Discovery")
    page = html(client.get(f"/deals/{deal.id}"))
    assert "Discovery playbook" in page and "Front-load research" in page
    assert 'name="fact_budget_range"' in page and 'value="25000.00"' in page
    assert 'name="stage_id"' in page and "Move to…" in page
    assert "forward" in page and "create" in page
    assert "Facts as they stood" in page


def test_history_keeps_the_criteria_as_they_stood_after_an_admin_removes_one(client, login_as, org, pipe):
    login_as("admin")
    deal = factories.make_deal(org, "Discovery")
    qualified = stage(pipe, "Qualified")
    req = next(r for r in qualified.requirements if r.field.key == "budget_range" and r.when == "exit")
    db.session.delete(req)
    db.session.commit()
    assert not StageRequirement.query.filter_by(id=req.id).first()
    page = html(client.get(f"/deals/{deal.id}"))
    history = page.split('id="history"')[1]
    assert "Budget range captured" in history and "(Qualified exit)" in history


def test_editing_facts_saves_through_the_version_and_returns_the_section(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    data = {"version": deal.version, "title": "Acme renewal 2", "amount": "2500",
            "next_step": "Send pricing", "next_step_due": "2031-01-02",
            "fact_icp_confirmed": "y", "fact_pain": "Slow quotes", "fact_budget_range": "9000"}
    response = client.post(f"/deals/{deal.id}/facts", data=data, headers=HX)
    body = html(response)
    assert response.status_code == 200 and 'id="facts"' in body and "Saved." in body
    assert f'id="move-version-{deal.id}-page"' in body  # the move menu gets the new version
    d = fresh(deal.id)
    assert d.title == "Acme renewal 2" and d.facts["budget_range"] == "9000.00"
    assert d.next_step == "Send pricing" and d.next_step_due == date(2031, 1, 2)


def test_editing_with_a_stale_version_shows_the_conflict_and_fresh_values(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    stale = deal.version
    deal.facts = {**deal.facts, "pain": "Their words"}
    db.session.commit()
    response = client.post(f"/deals/{deal.id}/facts", headers=HX, data={
        "version": stale, "title": "Mine", "fact_icp_confirmed": "y", "fact_pain": "My words"})
    body = html(response)
    assert "changed by someone else" in body and "Their words" in body
    assert fresh(deal.id).title == "Acme renewal"


def test_clearing_a_fact_the_stage_required_on_entry_is_refused(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    body = html(client.post(f"/deals/{deal.id}/facts", headers=HX, data={
        "version": deal.version, "title": "Acme renewal", "fact_icp_confirmed": "y", "fact_pain": ""}))
    assert "Required while the deal is in Qualified." in body
    assert fresh(deal.id).facts["pain"]


def test_rep_cannot_edit_someone_elses_deal(client, login_as, org, pipe):
    login_as("rep")
    deal = factories.make_deal(org, owner=factories.user(org, "manager"))
    page = html(client.get(f"/deals/{deal.id}"))
    assert "Only the owner or a manager can edit this deal." in page
    response = client.post(f"/deals/{deal.id}/facts", data={"version": deal.version, "title": "X"})
    assert response.status_code == 403


# --- new deal --------------------------------------------------------------------------------

def test_new_deal_form_asks_for_the_entry_facts_and_creates_the_deal(client, login_as, org, pipe):
    login_as("rep")
    form = html(client.get(f"/deals/new?pipeline_id={pipe.id}"))
    assert "ICP confirmed (Qualified entry)" in form and "Pain identified (Qualified entry)" in form
    response = client.post("/deals/new", data={
        "pipeline_id": pipe.id, "title": "Fresh lead", "amount": "3000",
        "stage_id": stage(pipe, "Qualified").id, "fact_icp_confirmed": "y", "fact_pain": "Manual work"})
    assert response.status_code == 302
    deal = Deal.query.filter_by(title="Fresh lead").one()
    assert deal.stage.name == "Qualified" and deal.facts["pain"] == "Manual work"


def test_new_deal_missing_entry_facts_shows_them_inline_and_writes_nothing(client, login_as, org, pipe):
    login_as("rep")
    response = client.post("/deals/new", data={
        "pipeline_id": pipe.id, "title": "Half lead", "amount": "-4", "stage_id": stage(pipe, "Qualified").id})
    body = html(response)
    assert response.status_code == 422
    assert 'value="Half lead"' in body and "Must be zero or more." in body
    assert Deal.query.filter_by(title="Half lead").count() == 0
    response = client.post("/deals/new", data={
        "pipeline_id": pipe.id, "title": "Half lead", "stage_id": stage(pipe, "Qualified").id})
    body = html(response)
    assert response.status_code == 422 and "Needed to start in Qualified." in body
    assert Deal.query.filter_by(title="Half lead").count() == 0


def test_new_deal_in_a_later_stage_asks_for_every_earlier_stages_facts_and_creates_it(
        client, login_as, org, pipe):
    login_as("rep")
    proposal = stage(pipe, "Proposal")
    form = html(client.get("/deals/new", query_string={"pipeline_id": pipe.id, "stage_id": proposal.id}))
    for label in ("ICP confirmed (Qualified entry)", "Budget range captured (Qualified exit)",
                  "DM meeting scheduled (Discovery entry)", "Next steps agreed (Discovery exit)",
                  "Custom proposal drafted (Proposal entry)"):
        assert label in form
    refused = client.post("/deals/new", data={"pipeline_id": pipe.id, "title": "Skipper",
                                              "stage_id": proposal.id, "fact_proposal_drafted": "y"})
    body = html(refused)
    assert refused.status_code == 422 and "record what the buyer has shown at each stage up to it" in body
    assert body.count("Needed to start in Proposal.") == 7
    assert Deal.query.filter_by(title="Skipper").count() == 0
    data = {f"fact_{k}": ("y" if v is True else v) for k, v in factories.facts_from_start(pipe, proposal).items()}
    created = client.post("/deals/new", data={"pipeline_id": pipe.id, "title": "Skipper",
                                              "stage_id": proposal.id, **data})
    assert created.status_code == 302
    assert Deal.query.filter_by(title="Skipper").one().stage.name == "Proposal"


def test_changing_the_stage_of_a_new_deal_swaps_in_that_stages_entry_facts(client, login_as, org, pipe):
    login_as("rep")
    body = html(client.get("/deals/new", headers=HX, query_string={
        "pipeline_id": pipe.id, "stage_id": stage(pipe, "Discovery").id, "title": "Kept"}))
    assert body.lstrip().startswith('{% from') is False and "<html" not in body
    assert "DM meeting scheduled (Discovery entry)" in body and 'value="Kept"' in body


def test_move_from_the_deal_page_lands_by_reloading_the_deal_page(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, facts={"budget_range": "1", "decision_maker": "a@b.com"})
    lost = stage(pipe, "Closed Lost")
    reason = LossReason.query.filter_by(org_id=org.id, label="Price").one()
    response = move(client, deal, lost, source="page", dialog="1", loss_reason_id=reason.id)
    assert response.headers["HX-Location"] == f"/deals/{deal.id}"
    page = html(client.get(f"/deals/{deal.id}"))
    assert "Reason: Price" in page and "close" in page


def test_without_javascript_a_refused_move_shows_the_form_as_a_page(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    response = move(client, deal, stage(pipe, "Discovery"), htmx=False)
    body = html(response)
    assert response.status_code == 422 and "<html" in body
    assert "Budget range captured (Qualified exit)" in body and "<dialog" not in body
    response = move(client, deal, stage(pipe, "Discovery"), htmx=False, dialog="1",
                    fact_budget_range="10", fact_decision_maker="dm@x.com", fact_dm_meeting_date="2031-01-01")
    assert response.status_code == 302 and response.headers["Location"] == f"/deals/board/{pipe.id}"
    assert fresh(deal.id).stage.name == "Discovery"


def test_backward_move_needs_no_facts(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, "Proposal")
    response = move(client, deal, stage(pipe, "Qualified"))
    assert response.headers["HX-Retarget"] == f"#cards-{stage(pipe, 'Qualified').id}"
    assert transitions(deal.id)[-1].kind == "backward"


def test_the_lost_dialog_offers_other_and_stores_the_typed_reason(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    lost = stage(pipe, "Closed Lost")
    dialog = html(move(client, deal, lost))
    assert '<option value="other" >Other…</option>' in dialog and 'name="other_reason"' in dialog
    refused = html(move(client, deal, lost, dialog="1", loss_reason_id="other", other_reason="  "))
    assert "Loss reason is required" in refused and fresh(deal.id).status == "open"
    done = move(client, deal, lost, dialog="1", loss_reason_id="other", other_reason="Their parent company banned us",
                reason="Heard it from the CFO")
    assert done.status_code == 200
    stored = fresh(deal.id)
    assert stored.status == "lost" and stored.loss_reason is None
    assert stored.loss_reason_other == "Their parent company banned us\n\nHeard it from the CFO"
    page = html(client.get(f"/deals/{deal.id}"))
    assert "Reason: Their parent company banned us" in page


def test_a_new_deal_straight_into_lost_asks_for_a_reason_with_other(client, login_as, org, pipe):
    login_as("rep")
    lost = stage(pipe, "Closed Lost")
    form = html(client.get("/deals/new", query_string={"pipeline_id": pipe.id, "stage_id": lost.id}))
    assert 'name="loss_reason_id"' in form and "Other…" in form
    refused = client.post("/deals/new", data={"pipeline_id": pipe.id, "title": "Lost lead", "stage_id": lost.id})
    assert refused.status_code == 422 and "Loss reason is required" in html(refused)
    created = client.post("/deals/new", data={"pipeline_id": pipe.id, "title": "Lost lead", "stage_id": lost.id,
                                              "loss_reason_id": "other", "other_reason": "Went bankrupt"})
    assert created.status_code == 302
    assert Deal.query.filter_by(title="Lost lead").one().loss_reason_other == "Went bankrupt"


def test_a_loss_reason_id_past_32_bits_is_a_clear_error_not_a_crash(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    response = move(client, deal, stage(pipe, "Closed Lost"), dialog="1", loss_reason_id="99999999999")
    assert response.status_code == 200 and "is not one of this organisation" in html(response)
    assert fresh(deal.id).status == "open"
def test_history_shows_money_facts_as_money(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org, "Discovery")
    assert re.fullmatch(r"\d+\.\d\d", deal.facts["budget_range"])  # stored as "40000.00"
    page = html(client.get(f"/deals/{deal.id}"))
    facts_then = page.split('class="facts-then"')[1].split("</details>")[0]
    shown = re.search(r"<dt>Budget range captured</dt><dd>([^<]+)</dd>", facts_then).group(1)
    assert re.fullmatch(r"\$[\d,]+(\.\d\d)?", shown) and not shown.endswith(".00"), shown


def test_the_deal_page_sets_the_company_by_name_matching_an_existing_one(client, login_as, org, pipe):
    login_as("manager")
    deal = factories.make_deal(org)
    acme = Company(org_id=org.id, name="Acme Logistics")
    db.session.add(acme)
    db.session.commit()
    page = html(client.get(f"/deals/{deal.id}"))
    assert '<option value="Acme Logistics">' in page and 'list="company-options"' in page
    facts = {f"fact_{k}": ("y" if v is True else v) for k, v in deal.facts.items() if v is not False}
    response = client.post(f"/deals/{deal.id}/facts", headers=HX, data={
        "version": deal.version, "title": deal.title, "amount": "1000", "company": "acme LOGISTICS", **facts})
    assert response.status_code == 200 and "Saved." in html(response)
    assert fresh(deal.id).company_id == acme.id
    assert 'value="Acme Logistics"' in html(client.get(f"/deals/{deal.id}"))
