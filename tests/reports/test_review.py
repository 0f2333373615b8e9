"""The weekly review and the deal audit over HTTP: what changed since last week, exactly."""

import re
from datetime import date, datetime, timedelta
from html import unescape

from app.deals.service import update_deal
from app.extensions import db
from app.models import Activity, DealFieldChange
from tests import factories
from tests.reports.history import make_history, random_histories, second_rep


def test_weekly_review_lists_each_change_of_the_week_per_rep(client, org, login_as):
    rep = factories.user(org, "rep")
    now = datetime.utcnow()
    old = now - timedelta(days=30)
    make_history(org, rep, [("Qualified", old), ("Discovery", now - timedelta(days=2))], title="Advanced deal")
    make_history(org, rep, [("Qualified", old), ("Discovery", old + timedelta(days=1)),
                            ("Qualified", now - timedelta(days=1))], title="Backward deal")
    make_history(org, rep, [("Qualified", old), ("Closed Lost", now - timedelta(days=3))], title="Lost deal")
    make_history(org, rep, [("Qualified", old), ("Discovery", old + timedelta(days=2))], title="Quiet stale deal")
    make_history(org, rep, [("Qualified", now - timedelta(hours=5))], title="Brand new deal")
    edited = make_history(org, rep, [("Qualified", old)], title="Repriced deal", amount="1000")
    update_deal(edited, rep, version=edited.version, amount="2500", next_step_due=date.today() + timedelta(days=2))
    update_deal(edited, rep, version=edited.version, next_step_due=date.today() + timedelta(days=9))
    assert DealFieldChange.query.filter_by(deal_id=edited.id).count() == 3  # amount, date set, date pushed
    login_as("manager")
    page = client.get(f"/reports/{factories.pipeline(org).id}/review").get_data(as_text=True)
    section = page[page.index(rep.name):]
    for expected in ("Advanced deal", "Backward deal", "Lost deal", "Brand new deal", "Repriced deal",
                     "$1,000 → $2,500", "next step pushed from", "Quiet stale deal"):
        assert expected in section, expected
    assert "Moved back" in section and "Amount changed" in section
    assert "Quiet stale deal" not in section.split("Needs attention")[0]  # it did not change this week


def test_deal_audit_shows_activities_beside_the_facts_that_let_each_move_through(client, org, login_as):
    rep = factories.user(org, "rep")
    t0 = datetime.utcnow() - timedelta(days=9)
    deal = make_history(org, rep, [("Qualified", t0), ("Discovery", t0 + timedelta(days=2)),
                                   ("Closed Lost", t0 + timedelta(days=4))], title="Audited deal")
    db.session.add(Activity(org_id=org.id, deal_id=deal.id, user_id=rep.id, kind="call", body="Talked budget",
                            at=t0 + timedelta(days=1)))
    db.session.commit()
    login_as("manager")
    page = client.get(f"/reports/{factories.pipeline(org).id}/audit").get_data(as_text=True)
    assert "Audited deal" in page and "Talked budget" in page
    assert "Qualified → Discovery" in page
    # facts a rep typed are the default and go unremarked; a buyer's confirmation is named (tests/rooms)
    assert "Let through by: Budget range captured, Decision maker identified" in page
    assert "Reason: Price" in page


def _totals(page: str) -> dict:
    """The review's totals table: {row label: (this week, week before, change)} as the page shows them."""
    table = page[page.index('id="rev-totals"'):page.index("</table>", page.index('id="rev-totals"'))]
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', table)
    return {label: tuple(unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                         for cell in re.findall(r'<td class="num">(.*?)</td>', cells)) for label, cells in rows}


def _total_links(page: str) -> list:
    """(href, the number it shows) of each count in the review's totals table."""
    table = page[page.index('id="rev-totals"'):page.index("</table>", page.index('id="rev-totals"'))]
    return [(unescape(href), int(number)) for href, number in re.findall(r'<a href="([^"]+)"[^>]*>(\d+)</a>', table)]


def test_every_total_of_the_review_opens_exactly_its_deals(client, org, login_as):
    rep, other = factories.user(org, "rep"), second_rep(org)
    deals = random_histories(org, [rep, other], datetime.utcnow() - timedelta(days=28), 40, seed=8)
    for i, deal in enumerate(deals):  # some expected to close in the weeks shown, some closed, some not
        deal.expected_close_date = date.today() - timedelta(days=i % 15)
    db.session.commit()
    pipeline = factories.pipeline(org)
    login_as("manager")
    checked = set()
    for query in ("", f"?week={(date.today() - timedelta(days=7)).isoformat()}"):
        links = _total_links(client.get(f"/reports/{pipeline.id}/review{query}").get_data(as_text=True))
        assert len(links) == 12  # six totals, this week and the week before
        for href, number in links:
            listed = client.get(href)
            assert listed.status_code == 200, href
            shown = int(re.search(r'<p class="drill-count">\s*(\d+)', listed.get_data(as_text=True)).group(1))
            assert shown == number, (href, number, shown)
            checked.add(number > 0)
    assert checked == {True, False}  # the history gives both empty and non-empty totals


def test_the_review_of_a_chosen_week_leads_with_its_totals_against_the_week_before(client, org, login_as):
    from app.models import Deal

    rep = factories.user(org, "rep")
    org.timezone = "America/New_York"
    db.session.commit()
    monday = date.today() - timedelta(days=date.today().weekday() + 14)  # two weeks back: a whole week
    at = datetime(monday.year, monday.month, monday.day, 17)  # Monday noon in New York
    won = make_history(org, rep, [("Qualified", at - timedelta(days=20)), ("Discovery", at - timedelta(days=19)),
                                  ("Proposal", at - timedelta(days=15)), ("Negotiation", at - timedelta(days=10)),
                                  ("Closed Won", at + timedelta(days=1))], amount="48000", title="Won deal")
    make_history(org, rep, [("Qualified", at + timedelta(days=2)), ("Closed Lost", at + timedelta(days=3))],
                 amount="5000", title="Lost deal")
    make_history(org, rep, [("Qualified", at - timedelta(days=3)), ("Discovery", at - timedelta(days=2))],
                 amount="700", title="Last week's deal")  # added and moved in the week before
    slipping = make_history(org, rep, [("Qualified", at - timedelta(days=30))], amount="9000", title="Slipping")
    slipping.expected_close_date = monday + timedelta(days=4)
    won_deal = db.session.get(Deal, won.id)
    won_deal.expected_close_date = monday + timedelta(days=1)  # it closed in time: not slipped
    db.session.commit()
    login_as("manager")
    page = client.get(f"/reports/{factories.pipeline(org).id}/review?week={(monday + timedelta(days=3)).isoformat()}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Week of" in html
    totals = _totals(html)
    assert totals["Won"] == ("1 · $48,000", "0 · $0", "+$48,000")
    assert totals["Lost"][0] == "1 · $5,000" and "Price (1)" in html
    assert totals["Pipeline added"][:2] == ("1 · $5,000", "1 · $700")
    assert totals["Moves forward"][:2] == ("0", "1")
    assert totals["Close dates slipped"][:2] == ("1 · $9,000", "0 · $0")


def test_a_week_that_is_not_a_past_date_says_so_and_shows_the_last_seven_days(client, org, login_as):
    login_as("manager")
    pipeline = factories.pipeline(org)
    for bad in ("2999-01-01", "yesterday", "%ED%A0%80", "2026-02-30"):
        html = client.get(f"/reports/{pipeline.id}/review?week={bad}").get_data(as_text=True)
        assert "Pick a day of a past week" in html and "The last 7 days" in html


def test_a_long_list_shows_ten_and_opens_the_rest_in_one_click(client, org, login_as):
    """At 100,000 deals the review was 5.5 MB: each list shows ten, the rest behind a link."""
    rep = factories.user(org, "rep")
    old = datetime.utcnow() - timedelta(days=40)
    for i in range(13):
        deal = make_history(org, rep, [("Qualified", old), ("Discovery", old + timedelta(days=1))],
                            title=f"Stuck deal {i:02d}")
        deal.facts = {}  # nothing yet of what Discovery asks before a deal leaves it
    db.session.commit()
    pipeline = factories.pipeline(org)
    assert factories.stage(pipeline, "Discovery").required_fields("exit")
    login_as("manager")
    page = client.get(f"/reports/{pipeline.id}/review").get_data(as_text=True)
    section = page[page.index(f'id="rev-{rep.id}"'):]
    stale = section[section.index("Stale"):section.index("Slipped next steps")]
    assert len(re.findall(r"Stuck deal \d\d", stale)) == 10 and "and 3 more" in stale
    expand = unescape(re.search(r'<a href="([^"]+expand=[^"]+)">show all of', stale).group(1))
    assert expand.endswith(f"#rev-{rep.id}")
    full = client.get(expand.split("#")[0]).get_data(as_text=True)
    full_stale = full[full.index("Stale", full.index(f'id="rev-{rep.id}"')):full.index("Slipped next steps")]
    assert len(re.findall(r"Stuck deal \d\d", full_stale)) == 13 and "more:" not in full_stale
    missing = section[section.index("Criteria missing"):section.index("Stale")]
    assert len(re.findall(r"Stuck deal \d\d", missing)) == 10 and "and 3 more" in missing
    listed = unescape(re.search(r'<a href="([^"]+)">work through them in the deals list', missing).group(1))
    rows = client.get(listed).get_data(as_text=True)  # the rep-day deals list, missing facts, this owner
    assert len(set(re.findall(r"Stuck deal \d\d", rows))) == 13, listed
