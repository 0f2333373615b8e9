"""Every number on the reports page opens its deals (issue 19 item 1), with the page's period, pipeline
and owner; the owner filter narrows every number (item 2); the linked list's count is the number."""

import re
from datetime import date, datetime, timedelta
from html import unescape

from app.extensions import db
from app.reports.drill import CLOSE_KEYS
from tests import factories
from tests.reports.history import random_histories, second_rep


def _links(page: str) -> list[tuple[str, str]]:
    """(href, text) of every link to the deals behind a number."""
    return [(unescape(href), re.sub(r"<[^>]+>", "", text).strip())
            for href, text in re.findall(r'<a href="(/reports/\d+/deals\?[^"]+)"[^>]*>(.*?)</a>', page, re.S)]


def _count(page: str) -> int:
    return int(re.search(r'<p class="drill-count">\s*(\d+)', page).group(1))


def _rooms(deals, manager):
    """Deal rooms on some deals: a buyer step confirmed on some, one overdue on others (the plan figures)."""
    from app.rooms.service import add_step, open_room

    for i, deal in enumerate(deals):
        room, _ = open_room(deal, manager)
        step = add_step(room, manager, title="Security review", side="buyer",
                        due_on=(date.today() - timedelta(days=3)).isoformat() if i % 2 else None)
        if i % 3 != 1:
            step.status = "done"
            if i % 3 == 2:
                add_step(room, manager, title="Legal review", side="buyer",
                         due_on=(date.today() - timedelta(days=1)).isoformat())
    db.session.commit()


def test_every_linked_number_opens_exactly_that_many_deals(client, org, login_as):
    owners = [factories.user(org, "rep"), second_rep(org), factories.user(org, "manager")]
    deals = random_histories(org, owners, datetime.utcnow() - timedelta(days=40), 30, seed=5)
    for i, deal in enumerate(deals):  # the forecast by close date: every window holds some, one has none
        deal.expected_close_date = None if i % 7 == 0 else date.today() + timedelta(days=(i * 37) % 400 - 120)
    db.session.commit()
    _rooms(deals[::2], owners[2])  # every owner has some (3 owners, every other deal)
    pipeline = factories.pipeline(org)
    login_as("manager")
    for query in ("preset=last_90_days", f"preset=last_90_days&owner={owners[1].id}"):
        page = client.get(f"/reports/{pipeline.id}?{query}").get_data(as_text=True)
        links = _links(page)
        kinds = {re.search(r"metric=(\w+)", href).group(1) for href, _ in links}
        closes: set = set()
        assert kinds == {"stage_conversion", "time_in_stage", "win_rate", "meeting_to_close", "cycle_days",
                         "forecast", "buyer_plans", "room_win_rate"}, kinds
        for href, text in links:
            number = int(re.match(r"\d+", text).group())
            assert "preset=last_90_days" in href
            if "owner=" in query:  # the filter travels with every link
                assert f"owner={owners[1].id}" in href
            elif "owner=" in href:  # else only the coaching table's rows name an owner
                assert "metric=time_in_stage" in href
            if "close=" in href:
                closes.add(href)
            listed = client.get(href)
            assert listed.status_code == 200, href
            assert _count(listed.get_data(as_text=True)) == number, (href, text)
        # every window of the forecast by close date and both category columns (by close window) linked
        assert {re.search(r"close=(\w+)", h).group(1) for h in closes} == set(CLOSE_KEYS)
        assert sum("category=" in h for h in closes) == 6


def test_the_owner_filter_narrows_every_number_and_reps_cannot_use_it(client, org, login_as):
    rep, other = factories.user(org, "rep"), second_rep(org)
    random_histories(org, [rep, other], datetime.utcnow() - timedelta(days=40), 20, seed=3)
    pipeline = factories.pipeline(org)
    login_as("manager")
    everyone = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    theirs = client.get(f"/reports/{pipeline.id}?owner={rep.id}").get_data(as_text=True)
    assert f"These are {rep.name}&#39;s deals" in theirs or f"These are {rep.name}'s deals" in theirs
    assert f'<option value="{rep.id}" selected>' in theirs
    forecast = re.compile(r"(\d+) open deals?</a>")
    assert int(forecast.search(theirs).group(1)) < int(forecast.search(everyone).group(1))
    assert client.get(f"/reports/?pipeline={pipeline.id}&owner={rep.id}").headers["Location"].endswith(
        f"/reports/{pipeline.id}?owner={rep.id}")
    login_as("rep")
    assert client.get(f"/reports/{pipeline.id}?owner={other.id}").status_code == 403
    assert 'name="owner"' not in client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
