"""The deals list through HTTP, as a user would: filters, sort, search, pages, the CSV, bulk actions."""

import csv
import io
import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.extensions import db
from app.models import Activity, Company, Contact, Deal, Notification, StageTransition, Task, utcnow
from tests import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def pipe(org):
    return factories.pipeline(org)


def html(response):
    return response.get_data(as_text=True)


def listing(client, query="", expect=200, **params):
    response = client.get("/deals/list" + query, query_string=params or None)
    assert response.status_code == expect, html(response)[:500]
    return html(response)


def row_ids(page) -> list:
    return [int(i) for i in re.findall(r'<tr id="row-(\d+)"', page)]


def titles(page) -> list:
    return re.findall(r'<td class="col-title"><a href="/deals/\d+">([^<]+)</a>', page)


def message(page) -> str:
    """The list's status line, as text: notes, an error, or what a bulk action did."""
    block = re.split(r'<p class="list-count">|<div class="empty-state">|</section>',
                     page.split('id="list-message"')[1].split(">", 1)[1])[0]
    text = re.sub(r"<[^>]+>", "", re.sub(r"</?(p|li|ul|div)\b[^>]*>", " ", block))
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


def fresh(deal_id):
    db.session.expire_all()
    return db.session.get(Deal, deal_id)


def deal(org, title, stage=None, **values):
    """A deal through the gate (factories.make_deal), then plain columns set as a test needs them."""
    made = factories.make_deal(org, stage, title=title, **{k: values.pop(k) for k in ("owner", "amount", "facts")
                                                            if k in values})
    for key, value in values.items():
        setattr(made, key, value)
    db.session.commit()
    return made


def bulk(client, deals, action, view="owner=all", htmx=True, versions=None, **data):
    body = {"action": action, "view": view, "ids": [str(d.id) if hasattr(d, "id") else str(d) for d in deals]}
    for d in deals:
        if hasattr(d, "id"):
            body[f"v{d.id}"] = str((versions or {}).get(d.id, d.version))
    body.update(data)
    return client.post("/deals/list/bulk", data=body, headers=HX if htmx else {})


# --- the page ----------------------------------------------------------------------------------

def test_list_shows_each_deal_as_a_row_with_every_column_and_links_to_the_board(client, login_as, org, pipe):
    login_as("manager")
    acme = deal(org, "Acme renewal", "Discovery", amount="12500", expected_close_date=date.today() + timedelta(days=3))
    acme.company = Company(org_id=org.id, name="Acme Logistics")
    db.session.commit()
    page = listing(client, owner="all")
    row = page.split(f'id="row-{acme.id}"')[1].split("</tr>")[0]
    assert f'href="/deals/{acme.id}">Acme renewal</a>' in row and "Acme Logistics" in row
    assert "Discovery" in row and "Rae Rep" in row and "$12,500" in row and "Open" in row
    assert (date.today() + timedelta(days=3)).isoformat() in row and "in 3 days" in row
    assert "&lt;1d" in row and "today" in row  # days in stage, last activity
    assert "2 to exit" in row  # Discovery's exit facts (needs, next steps) are not recorded
    assert f'href="/deals/board/{pipe.id}"' in page
    board = html(client.get(f"/deals/board/{pipe.id}"))
    assert f'href="/deals/list?owner=all&amp;pipeline={pipe.id}" class="table-view">Table view</a>' in board


def test_a_rep_sees_own_deals_by_default_and_can_pick_only_their_own(client, login_as, org):
    rep = factories.user(org, "rep")
    mine = deal(org, "Mine", owner=rep)
    theirs = deal(org, "Theirs", owner=factories.user(org, "manager"))
    login_as("rep")
    assert row_ids(listing(client)) == [mine.id]
    everyone = listing(client, owner="all")
    assert set(row_ids(everyone)) == {mine.id, theirs.id}
    assert f'name="ids" value="{mine.id}"' in everyone and f'name="ids" value="{theirs.id}"' not in everyone


# --- filters -----------------------------------------------------------------------------------

def test_filters_by_pipeline_stage_owner_status_and_close_period(client, login_as, org, pipe):
    from app.deals.service import create_deal
    from app.pipelines.service import create_from_template

    other = create_from_template(org, "insurance")  # a second pipeline beside the article one
    admin = factories.user(org, "admin")
    today = date.today()
    q1 = deal(org, "Q1 deal", expected_close_date=today)
    disc = deal(org, "Disc deal", "Discovery", owner=admin, expected_close_date=today + timedelta(days=70))
    won = deal(org, "Won deal", "Closed Won")
    no_date = deal(org, "No date deal")
    insured = create_deal(other, admin, title="Home policy")
    login_as("manager")
    first = listing(client, owner="all")  # like the board, the list opens on the first pipeline
    assert set(row_ids(first)) == {q1.id, disc.id, no_date.id}
    assert f'<option value="{pipe.id}" selected>' in first
    everything = listing(client, owner="all", pipeline="all")
    assert set(row_ids(everything)) == {q1.id, disc.id, no_date.id, insured.id}
    assert "Home policy" in everything and "Insurance agency" in everything  # the row names its pipeline
    assert set(row_ids(listing(client, owner="all", pipeline=other.id))) == {insured.id}
    assert row_ids(listing(client, owner="all", stage=factories.stage(pipe, "Discovery").id)) == [disc.id]
    assert set(row_ids(listing(client, owner=admin.id, pipeline="all"))) == {disc.id, insured.id}
    assert row_ids(listing(client, owner="all", status="won")) == [won.id]
    assert set(row_ids(listing(client, owner="all", pipeline="all", status="all"))) == \
        {q1.id, disc.id, won.id, no_date.id, insured.id}
    assert row_ids(listing(client, owner="all", close="this_month")) == [q1.id]
    assert set(row_ids(listing(client, owner="all", close="none"))) == {no_date.id}
    window = listing(client, owner="all", close_from=(today + timedelta(days=60)).isoformat(),
                     close_to=(today + timedelta(days=80)).isoformat())
    assert row_ids(window) == [disc.id]
    assert "Showing 1–1 of 1 deal." in window


def test_stale_filter_lists_deals_with_no_follow_up_past_the_stages_days(client, login_as, org):
    old = utcnow() - timedelta(days=40)
    stale = deal(org, "Stale one")
    planned = deal(org, "Planned one")
    active = deal(org, "Active one")
    deal(org, "Fresh one")
    for d in (stale, planned, active):
        db.session.execute(db.update(Deal).where(Deal.id == d.id).values(stage_entered_at=old, updated_at=old))
    db.session.add(Task(org_id=org.id, owner_id=planned.owner_id, deal_id=planned.id, title="Call"))
    db.session.add(Activity(org_id=org.id, deal_id=active.id, kind="call", at=utcnow() - timedelta(days=1)))
    db.session.commit()
    login_as("manager")
    page = listing(client, owner="all", stale="1")
    assert row_ids(page) == [stale.id]
    assert "⚠ 40d · overdue" in page and "No follow-up" in page


def test_missing_facts_filter_and_count_match_the_gate(client, login_as, org, pipe):
    qualified = factories.stage(pipe, "Qualified")
    ready = deal(org, "Ready", facts={f.key: "Dana Ortiz, CFO" if f.type == "contact" else "25000"
                                      for f in qualified.required_fields("exit")})
    lacking = deal(org, "Lacking")
    login_as("manager")
    page = listing(client, owner="all")
    assert "2 to exit" in page.split(f'id="row-{lacking.id}"')[1].split("</tr>")[0]
    assert page.split(f'id="row-{ready.id}"')[1].split("</tr>")[0].endswith("<td>0</td>")
    assert row_ids(listing(client, owner="all", missing="1")) == [lacking.id]
    assert row_ids(listing(client, owner="all", sort="missing", dir="desc")) == [lacking.id, ready.id]
    assert row_ids(listing(client, owner="all", sort="missing")) == [ready.id, lacking.id]
    # A checkbox fact is met only when ticked (facts.is_met): unticked counts as missing in SQL too.
    ticked = deal(org, "Ticked", "Proposal", facts={"proposal_acknowledged": True})
    unticked = deal(org, "Unticked", "Proposal", facts={"proposal_acknowledged": False})
    page = listing(client, owner="all", stage=factories.stage(pipe, "Proposal").id, missing="1")
    assert row_ids(page) == [unticked.id] and "1 to exit" in page
    assert ticked.id not in row_ids(listing(client, owner="all", missing="1", pipeline="all"))


# --- sort, search, pages -----------------------------------------------------------------------

def test_sorts_by_any_column_both_ways_with_ties_broken_by_id(client, login_as, org):
    admin = factories.user(org, "admin")
    now = utcnow()
    a = deal(org, "alpha", amount="300", expected_close_date=date.today() + timedelta(days=9))
    b = deal(org, "Bravo", "Discovery", amount="100", owner=admin)
    c = deal(org, "charlie", amount="200", expected_close_date=date.today() + timedelta(days=2))
    db.session.execute(db.update(Deal).where(Deal.id == a.id).values(stage_entered_at=now - timedelta(days=5)))
    db.session.add(Activity(org_id=org.id, deal_id=c.id, kind="call", at=now + timedelta(minutes=5)))
    db.session.commit()
    login_as("manager")

    def order(sort, direction="asc"):
        return row_ids(listing(client, owner="all", sort=sort, dir=direction))

    assert order("title") == [a.id, b.id, c.id] and order("title", "desc") == [c.id, b.id, a.id]
    assert order("amount") == [b.id, c.id, a.id] and order("amount", "desc") == [a.id, c.id, b.id]
    assert order("close") == [c.id, a.id, b.id]  # no date last, whichever way
    assert order("close", "desc") == [a.id, c.id, b.id]
    assert order("stage") == [a.id, c.id, b.id] and order("stage", "desc") == [b.id, c.id, a.id]
    assert order("owner") == [b.id, a.id, c.id]  # Ada Admin before Rae Rep; ties by id
    assert order("days", "desc")[0] == a.id
    assert order("activity", "desc")[0] == c.id
    assert order("status") == [a.id, b.id, c.id]  # all open: the id decides
    page = listing(client, owner="all", sort="amount", dir="desc")
    assert '<th scope="col" class="col-amount" aria-sort="descending">' in page
    assert '<th scope="col" class="col-title" aria-sort="none">' in page


def test_search_matches_title_company_and_contact_name_or_email_in_any_case(client, login_as, org):
    by_title = deal(org, "Harbor Fitness renewal")
    by_company = deal(org, "Renewal two")
    by_company.company = Company(org_id=org.id, name="Umbrella Corp")
    by_contact = deal(org, "Renewal three")
    by_contact.contact = Contact(org_id=org.id, name="Dana Ortiz", email="dana@baker.example.com")
    deal(org, "Unrelated")
    db.session.commit()
    login_as("manager")
    assert row_ids(listing(client, owner="all", q="HARBOR")) == [by_title.id]
    assert row_ids(listing(client, owner="all", q="umbrella")) == [by_company.id]
    assert row_ids(listing(client, owner="all", q="dana ORTIZ")) == [by_contact.id]
    assert row_ids(listing(client, owner="all", q="BAKER.example")) == [by_contact.id]
    assert row_ids(listing(client, owner="all", q="100%")) == []
    assert "No deals match these filters and “100%”." in listing(client, owner="all", q="100%")


def test_page_size_and_pages(client, login_as, org):
    made = [deal(org, f"Deal {n:02}") for n in range(30)]
    login_as("manager")
    first = listing(client, owner="all", sort="title", per="25")
    assert row_ids(first) == [d.id for d in made[:25]]
    assert "Showing 1–25 of 30 deals." in first and "Page 1 of 2" in first
    second = listing(client, owner="all", sort="title", per="25", page="2")
    assert row_ids(second) == [d.id for d in made[25:]] and "Showing 26–30 of 30 deals." in second
    assert len(row_ids(listing(client, owner="all", per="50"))) == 30
    beyond = listing(client, owner="all", sort="title", per="25", page="9")
    assert row_ids(beyond) == [d.id for d in made[25:]]  # past the last page: the last page


def test_the_url_holds_the_view_and_htmx_swaps_the_list_and_pushes_it(client, login_as, org):
    made = [deal(org, f"Deal {n:02}", amount=str(100 + n)) for n in range(4)]
    login_as("manager")
    response = client.get("/deals/list", query_string={"owner": "all", "sort": "amount", "dir": "desc",
                                                       "per": "25", "q": "deal", "close": "", "stage": ""},
                          headers=HX)
    assert response.status_code == 200
    partial = html(response)
    assert partial.startswith("") and "<html" not in partial and 'id="deal-list"' in partial
    pushed = response.headers["HX-Push-Url"]
    assert parse_qs(urlsplit(pushed).query) == {"owner": ["all"], "pipeline": [str(factories.pipeline(org).id)],
                                                "q": ["deal"], "sort": ["amount"], "dir": ["desc"], "per": ["25"]}
    assert 'name="dir" value="desc"' in partial and 'hx-swap-oob="true"' in partial  # the form keeps the sort
    again = listing(client, "?" + urlsplit(pushed).query)
    assert row_ids(again) == row_ids(partial) == [d.id for d in reversed(made)]
    assert 'value="deal"' in again and 'option value="25" selected' in again  # the form shows the view


# --- CSV ---------------------------------------------------------------------------------------

def test_csv_has_exactly_the_rows_shown_and_defuses_formulas(client, login_as, org):
    for n in range(30):
        deal(org, f"Deal {n:02}", amount=str(1000 + n))
    risky = deal(org, "=HYPERLINK(\"http://evil\")", amount="5")
    login_as("manager")
    query = {"owner": "all", "sort": "amount", "dir": "desc", "per": "25", "page": "2"}
    page = listing(client, **query)
    assert "Download the 6 rows shown (CSV)" in page
    link = re.search(r'href="(/deals/list\.csv\?[^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(html(response).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Deal ID", "Deal", "Company"]
    assert [int(r[0]) for r in rows[1:]] == row_ids(page)
    assert [r[1] for r in rows[1:-1]] == titles(page)[:-1] == [f"Deal {n:02}" for n in range(4, -1, -1)]
    assert rows[-1][1] == "'=HYPERLINK(\"http://evil\")" and int(rows[-1][0]) == risky.id


# --- bulk actions ------------------------------------------------------------------------------

def test_bulk_move_moves_what_the_gate_lets_through_and_lists_what_the_rest_lack(client, login_as, org, pipe):
    ready_facts = {"needs": "Documented", "next_steps": "Agreed", "proposal_drafted": True}
    ready = [deal(org, f"Ready {n}", "Discovery", facts=ready_facts) for n in range(3)]
    lacking = [deal(org, f"Lacking {n}", "Discovery") for n in range(2)]
    proposal = factories.stage(pipe, "Proposal")
    before = {d.id: len(StageTransition.query.filter_by(deal_id=d.id).all()) for d in ready + lacking}
    login_as("manager")
    response = bulk(client, ready + lacking, "move", stage_id=proposal.id)
    assert response.status_code == 200
    page = html(response)
    said = message(page)
    assert said.startswith("Moved 3 deals to Proposal. 2 stayed:")
    for d in lacking:
        assert f"{d.title}: lacks Needs documented, Next steps agreed, Custom proposal drafted" in said
    assert response.headers["HX-Push-Url"] == f"/deals/list?owner=all&pipeline={pipe.id}"
    for d in ready:
        moved = fresh(d.id)
        assert moved.stage_id == proposal.id
        latest = StageTransition.query.filter_by(deal_id=d.id).order_by(StageTransition.id.desc()).first()
        assert latest.to_stage_id == proposal.id and latest.kind == "forward"
        assert {c["field"] for c in latest.criteria} == {"needs", "next_steps", "proposal_drafted"}
        assert all(c["met"] for c in latest.criteria)
    for d in lacking:
        assert fresh(d.id).stage.name == "Discovery"
        assert len(StageTransition.query.filter_by(deal_id=d.id).all()) == before[d.id]


def test_bulk_move_without_javascript_redirects_to_the_view_and_says_what_happened(client, login_as, org, pipe):
    ready = deal(org, "Ready", "Discovery", facts={"needs": "x", "next_steps": "y", "proposal_drafted": True})
    lacking = deal(org, "Lacking", "Discovery")
    login_as("manager")
    response = bulk(client, [ready, lacking], "move", view="owner=all&sort=title", htmx=False,
                    stage_id=factories.stage(pipe, "Proposal").id)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/deals/list?owner=all&pipeline={pipe.id}&sort=title"
    page = html(client.get(response.headers["Location"]))
    assert "Moved 1 deal to Proposal. 1 stayed: Lacking (lacks Needs documented, Next steps agreed, " \
           "Custom proposal drafted)" in page


def test_bulk_move_keeps_a_deal_changed_since_the_list_was_shown(client, login_as, org, pipe):
    facts = {"needs": "x", "next_steps": "y", "proposal_drafted": True}
    one, two = deal(org, "One", "Discovery", facts=facts), deal(org, "Two", "Discovery", facts=facts)
    login_as("manager")
    response = bulk(client, [one, two], "move", versions={two.id: two.version - 1},
                    stage_id=factories.stage(pipe, "Proposal").id)
    said = message(html(response))
    assert said.startswith("Moved 1 deal to Proposal. 1 stayed:") and "Two: changed by someone else" in said
    assert fresh(one.id).stage.name == "Proposal" and fresh(two.id).stage.name == "Discovery"


def test_bulk_owner_change_by_a_manager_and_by_a_rep_of_their_own_deals(client, login_as, org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    deals = [deal(org, f"Deal {n}", owner=rep) for n in range(3)]
    login_as("manager")
    said = message(html(bulk(client, deals[:2], "owner", owner_id=manager.id)))
    assert re.fullmatch(r"Gave 2 deals to Max Manager\d+\.", said)
    assert [fresh(d.id).owner_id for d in deals] == [manager.id, manager.id, rep.id]
    login_as("rep")
    said = message(html(bulk(client, deals[2:], "owner", owner_id=manager.id)))
    assert re.fullmatch(r"Gave 1 deal to Max Manager\d+\.", said)
    assert fresh(deals[2].id).owner_id == manager.id
    notice = Notification.query.filter_by(user_id=manager.id, kind="assigned").one()  # not for their own change
    assert re.fullmatch(r"Rae Rep\d+ gave you 1 deal: Deal 2", notice.text)


def test_a_rep_cannot_change_someone_elses_deal_and_nothing_is_written(client, login_as, org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    mine, theirs = deal(org, "Mine", owner=rep), deal(org, "Theirs", owner=manager)
    login_as("rep")
    response = bulk(client, [mine, theirs], "owner", owner_id=manager.id, htmx=False)
    assert response.status_code == 403
    assert message(html(response)) == \
        "Nothing was changed: only a deal's owner or a manager can change it, and Theirs is someone else's."
    assert fresh(mine.id).owner_id == rep.id


def test_bulk_add_task_gives_each_deal_a_task_for_its_owner(client, login_as, org):
    rep, admin = factories.user(org, "rep"), factories.user(org, "admin")
    one, two = deal(org, "One", owner=rep), deal(org, "Two", owner=admin)
    login_as("manager")
    due = (date.today() + timedelta(days=2)).isoformat()
    said = message(html(bulk(client, [one, two], "task", task_title="Send the case study", task_kind="email",
                             task_due=due)))
    assert said == "Added “Send the case study” to 2 deals."
    tasks = {t.deal_id: t for t in Task.query.filter_by(title="Send the case study")}
    assert tasks[one.id].owner_id == rep.id and tasks[two.id].owner_id == admin.id
    assert tasks[one.id].kind == "email" and tasks[one.id].due_at is not None
    said = message(html(bulk(client, [one], "task", task_title="  ", task_due="2020-01-01")))
    assert said == "Nothing was changed: the task needs a title; its due date must be today or later."
    assert Task.query.filter_by(deal_id=one.id).count() == 1


def test_select_all_on_this_page_works_without_javascript(client, login_as, org):
    deals = [deal(org, f"Deal {n}") for n in range(3)]
    login_as("manager")
    page = listing(client, owner="all")
    shown = re.search(r'name="shown" value="([^"]*)"', page).group(1)
    assert sorted(int(i) for i in shown.split(",")) == sorted(d.id for d in deals)
    response = client.post("/deals/list/bulk", data={"action": "task", "view": "owner=all", "all": "1",
                                                     "shown": shown, "task_title": "Check in"}, headers=HX)
    assert message(html(response)) == "Added “Check in” to 3 deals."


@pytest.mark.parametrize("bad", ["2147483648", "99999999999999999999", "abc", "-1", "1.5", "%ED%A0%80", "１"])
def test_odd_ids_refuse_the_whole_selection_and_write_nothing(client, login_as, org, pipe, bad):
    good = deal(org, "Good", "Discovery", facts={"needs": "x", "next_steps": "y", "proposal_drafted": True})
    login_as("manager")
    response = bulk(client, [good, bad], "move", stage_id=factories.stage(pipe, "Proposal").id, htmx=False)
    assert response.status_code == 422
    assert "Nothing was changed:" in html(response) and "not a deal id" in html(response)
    assert fresh(good.id).stage.name == "Discovery"


def test_another_organisations_deal_ids_are_refused_and_nothing_is_written(client, login_as, org):
    other = factories.make_org(name="Other Org")
    theirs = factories.make_deal(other, title="Their deal")
    mine = deal(org, "Mine")
    login_as("manager")
    manager = factories.user(org, "manager")
    response = bulk(client, [mine, theirs], "owner", owner_id=manager.id)
    assert response.status_code == 422
    said = message(html(response))
    assert said == f"Nothing was changed: {theirs.id} is not a deal of your organisation (deleted, or never yours)."
    assert fresh(mine.id).owner_id != manager.id and fresh(theirs.id).title == "Their deal"
    other_user = factories.user(other, "rep")
    response = bulk(client, [mine], "owner", owner_id=other_user.id)
    assert response.status_code == 422 and "choose an active person of your organisation" in message(html(response))


def test_bulk_needs_a_selection_and_an_action(client, login_as, org):
    mine = deal(org, "Mine")
    login_as("manager")
    assert "no deal was selected" in message(html(bulk(client, [], "task", task_title="x")))
    assert "choose what to do" in message(html(bulk(client, [mine], "explode")))
    lost = factories.stage(factories.pipeline(org), "Closed Lost")
    assert "close deals as lost one at a time" in message(html(bulk(client, [mine], "move", stage_id=lost.id)))
    too_many = client.post("/deals/list/bulk", data={"action": "task", "ids": [str(n) for n in range(1, 150)]},
                           headers=HX)
    assert too_many.status_code == 422 and "select at most 100 deals" in message(html(too_many))


# --- odd input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "?per=999999", "?sort=evil&dir=sideways", "?q=%ED%A0%80", "?page=99999999999999", "?stage=2147483648",
    "?pipeline=-1&owner=99999999999", "?close_from=2026-02-30&close_to=0001-01-01", "?close=forever",
    "?q=" + "x" * 5000, "?missing=1&stale=1&sort=missing&q=%00",
])
def test_odd_query_strings_answer_the_page_never_a_500(client, login_as, org, query):
    deal(org, "Acme")
    login_as("rep")
    listing(client, query)
    assert client.get("/deals/list.csv" + query).status_code == 200


def test_broken_bytes_in_the_search_find_nothing_and_say_so(client, login_as, org):
    deal(org, "Acme")
    login_as("manager")
    # Werkzeug keeps a broken %-escape (a lone surrogate's UTF-8 bytes) as the plain text "%ED%A0%80".
    page = listing(client, "?owner=all&q=%ED%A0%80")
    assert row_ids(page) == [] and "No deals match these filters and “%ED%A0%80”." in page
    response = client.get("/deals/list?owner=all&q=Ac%00me")
    assert response.status_code == 200
    assert "The search had characters that are not text, so it is left out." in message(html(response))
