"""The move menus say which stages would ask a deal for facts it lacks (issue 18, item 8b)."""

import re

from tests import factories

HX = {"HX-Request": "true"}


def asks(client, deal) -> dict:
    response = client.get(f"/deals/{deal.id}/move-asks", headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'data-deal="{deal.id}"' in body
    return {int(s): text for s, text in re.findall(r'<li data-stage="(\d+)">([^<]+)</li>', body)}


def test_the_opened_menu_names_each_stage_that_asks_for_facts_and_how_many(client, login_as, org):
    pipe = factories.pipeline(org)
    deal = factories.make_deal(org, title="Harbor Fitness")  # Qualified, nothing beyond its entry facts
    login_as("rep")
    found = asks(client, deal)
    # Qualified's exit (budget, decision maker) and Discovery's entry (the meeting): three facts.
    assert found[factories.stage(pipe, "Discovery").id] == "asks 3 facts"
    assert factories.stage(pipe, "Closed Lost").id not in found  # a loss asks a reason, not facts
    assert factories.stage(pipe, "Qualified").id not in found  # its own stage is no move


def test_a_deal_with_the_exit_facts_is_asked_only_for_the_next_stages_entry(client, login_as, org):
    pipe = factories.pipeline(org)
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    deal = factories.make_deal(org, facts=factories.full_facts(pipe, qualified, "exit"))
    login_as("rep")
    assert asks(client, deal)[discovery.id] == "asks 1 fact"


def test_a_moved_deal_is_not_asked_to_go_back(client, login_as, org):
    pipe = factories.pipeline(org)
    deal = factories.make_deal(org, "Discovery")
    login_as("rep")
    assert factories.stage(pipe, "Qualified").id not in asks(client, deal)  # backward moves ask nothing


def test_the_deal_page_menu_marks_stages_that_ask(client, login_as, org):
    pipe = factories.pipeline(org)
    deal = factories.make_deal(org, title="Harbor Fitness")
    login_as("rep")
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    discovery = factories.stage(pipe, "Discovery")
    assert f'<option value="{discovery.id}">Discovery · asks 3 facts</option>' in page
    lost = factories.stage(pipe, "Closed Lost")
    assert f'<option value="{lost.id}">Closed Lost</option>' in page


def test_another_organisations_deal_is_not_found(client, login_as, org):
    other = factories.make_org()
    deal = factories.make_deal(other)
    login_as("rep")
    assert client.get(f"/deals/{deal.id}/move-asks", headers=HX).status_code == 404
    assert client.get("/deals/2147483648/move-asks").status_code == 404
