"""After a criteria save, the editor says how many open deals in the stage lack a fact it newly requires
to leave (issue 18, item 8d): counted in one SQL statement from the deals' facts, with a link to them."""

import re

from sqlalchemy import event

from app.extensions import db
from tests import factories

HX = {"HX-Request": "true"}


def _ids(pipeline, *keys):
    by_key = {f.key: f.id for f in pipeline.fields}
    return [str(by_key[k]) for k in keys]


def _save(client, stage, entry, exit_, htmx=True):
    return client.post(f"/admin/stages/{stage.id}/criteria", headers=HX if htmx else {},
                       data={"entry": _ids(stage.pipeline, *entry), "exit": _ids(stage.pipeline, *exit_)})


def _discovery_deals(org):
    """Three open deals in Discovery: one with a drafted proposal, one without, one with it unticked."""
    factories.make_deal(org, "Discovery", title="No proposal yet")
    factories.make_deal(org, "Discovery", title="Drafted", facts={"proposal_drafted": True})
    factories.make_deal(org, "Discovery", title="Unticked", facts={"proposal_drafted": False})
    factories.make_deal(org, "Proposal", title="Further on")  # another stage: not counted
    other = factories.make_org()
    factories.make_deal(other, "Discovery", title="Another organisation's")  # not counted


def test_saving_a_new_requirement_says_how_many_open_deals_lack_it_with_a_link(client, org, login_as):
    pipe = factories.pipeline(org)
    discovery = factories.stage(pipe, "Discovery")
    _discovery_deals(org)
    login_as("admin")
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731 - the statement text of each execute
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        # budget_range: every deal has it; proposal_drafted (a checkbox): two lack it (absent, unticked).
        response = _save(client, discovery, ["dm_meeting_date"], ["needs", "next_steps", "budget_range", "proposal_drafted"])
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "✓ Saved. " in body and "2 open deals in Discovery lack a fact newly required to leave it" in body
    link = re.search(r'<a href="(/deals/list\?[^"]+)">See the deals missing facts in Discovery</a>', body)
    link = link.group(1).replace("&amp;", "&")
    assert sorted(link.split("?")[1].split("&")) == sorted([f"pipeline={pipe.id}", f"stage={discovery.id}", "missing=1"])
    counts = [s for s in statements if re.search(r"count\(\*\)", s, re.I) and "deal" in s]
    assert len(counts) == 1  # one statement, not one per deal
    listed = client.get(link).get_data(as_text=True)  # the deals list shows them (and any missing older facts)
    assert "No proposal yet" in listed and "Unticked" in listed and "Further on" not in listed


def test_a_save_that_requires_nothing_new_says_only_saved(client, org, login_as):
    pipe = factories.pipeline(org)
    discovery = factories.stage(pipe, "Discovery")
    _discovery_deals(org)
    login_as("admin")
    body = _save(client, discovery, ["dm_meeting_date"], ["needs", "next_steps"]).get_data(as_text=True)
    assert "✓ Saved" in body and "lack" not in body
    # Unticking is no new requirement either; nor is a fact asked on entry (the deals are past it).
    body = _save(client, discovery, ["dm_meeting_date", "proposal_drafted"], ["needs"]).get_data(as_text=True)
    assert "✓ Saved" in body and "lack" not in body


def test_a_text_requirement_counts_deals_without_the_text(client, org, login_as):
    pipe = factories.pipeline(org)
    qualified = factories.stage(pipe, "Qualified")
    factories.make_deal(org, title="Has next steps", facts={"next_steps": "Demo on Friday"})
    factories.make_deal(org, title="No next steps")
    login_as("admin")
    body = _save(client, qualified, ["icp_confirmed", "pain"],
                 ["budget_range", "decision_maker", "next_steps"]).get_data(as_text=True)
    assert "1 open deal in Qualified lacks a fact newly required to leave it" in body


def test_without_htmx_the_flash_says_it(client, org, login_as):
    pipe = factories.pipeline(org)
    discovery = factories.stage(pipe, "Discovery")
    _discovery_deals(org)
    login_as("admin")
    response = _save(client, discovery, ["dm_meeting_date"], ["needs", "next_steps", "proposal_drafted"], htmx=False)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Criteria for Discovery saved. 2 open deals in Discovery lack a fact newly required to leave it." in page


def test_marking_a_requirement_the_buyers_counts_the_deals_whose_fact_only_the_rep_typed(client, org, login_as):
    """A fact newly marked "confirmed by the buyer" asks something new of the deals in the stage: what the
    rep typed for it no longer counts, so those deals lack it (the link lists them)."""
    pipe = factories.pipeline(org)
    discovery = factories.stage(pipe, "Discovery")
    _discovery_deals(org)  # "Drafted" has proposal_drafted ticked by the rep
    login_as("admin")
    exit_keys = ["needs", "next_steps", "proposal_drafted"]
    _save(client, discovery, ["dm_meeting_date"], exit_keys)
    response = client.post(f"/admin/stages/{discovery.id}/criteria", headers=HX, data={
        "entry": _ids(pipe, "dm_meeting_date"), "exit": _ids(pipe, *exit_keys),
        "buyer": _ids(pipe, "proposal_drafted"), "buyer_marks": "1"})
    body = response.get_data(as_text=True)
    assert "3 open deals in Discovery lack a fact newly required to leave it" in body
    page = client.get(re.search(r'<a href="(/deals/list\?[^"]+)">', body).group(1).replace("&amp;", "&"))
    assert "Drafted" in page.get_data(as_text=True)  # the rep's tick is not the buyer's word
