"""The page of the deals behind one number: the report's period, pipeline and owner; each role's scope."""

import re
from datetime import datetime, timedelta

import pytest

from tests import factories
from tests.reports.history import make_history


@pytest.fixture
def deals(org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    t0 = datetime.utcnow() - timedelta(days=20)
    make_history(org, rep, [("Qualified", t0), ("Discovery", t0 + timedelta(days=2))], amount="10000",
                 title="Rep <b>deal</b>")
    make_history(org, rep, [("Qualified", t0), ("Closed Lost", t0 + timedelta(days=1))], title="Rep loss")
    make_history(org, manager, [("Qualified", t0 + timedelta(days=3))], amount="2500", title="Manager deal")
    return factories.pipeline(org)


def test_a_manager_opens_the_entered_deals_of_a_stage_with_the_reports_period(client, org, login_as, deals):
    login_as("manager")
    qualified = factories.stage(deals, "Qualified")
    page = client.get(f"/reports/{deals.id}/deals?metric=stage_conversion&part=entered&stage_id={qualified.id}"
                      "&preset=last_90_days").get_data(as_text=True)
    assert "Deals that entered Qualified" in page and re.search(r"\b3 deals\s+—", page)
    assert "Rep &lt;b&gt;deal&lt;/b&gt;" in page and "Manager deal" in page and "Rep loss" in page
    advanced = client.get(f"/reports/{deals.id}/deals?metric=stage_conversion&part=advanced&stage_id={qualified.id}"
                          "&preset=last_90_days").get_data(as_text=True)
    assert re.search(r"\b1 deal\s+—", advanced) and "Rep &lt;b&gt;deal&lt;/b&gt;" in advanced and "Manager deal" not in advanced
    assert f'href="/reports/{deals.id}?preset=last_90_days"' in advanced  # back to the same report


def test_the_owner_filter_narrows_the_list_and_a_rep_sees_only_their_own(client, org, login_as, deals):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    login_as("manager")
    mine = client.get(f"/reports/{deals.id}/deals?metric=forecast&owner={manager.id}").get_data(as_text=True)
    assert re.search(r"\b1 deal\s+—", mine) and "Manager deal" in mine and f"{manager.name}'s deals" in mine
    login_as("rep")
    own = client.get(f"/reports/{deals.id}/deals?metric=forecast").get_data(as_text=True)
    assert re.search(r"\b1 deal\s+—", own) and "Rep &lt;b&gt;deal&lt;/b&gt;" in own and "Manager deal" not in own
    assert client.get(f"/reports/{deals.id}/deals?metric=forecast&owner={manager.id}").status_code == 403
    assert client.get(f"/reports/{deals.id}/deals?metric=forecast&owner={rep.id}").status_code == 200


@pytest.mark.parametrize("query, words", [
    ("metric=everything", "“metric” must be one of: stage_conversion, time_in_stage"),
    ("metric=stage_conversion&stage_id=99999999999", "“stage_id” is not a stage of this pipeline"),
    ("metric=win_rate&part=open", "“part” must be one of: closed, won, lost (for win_rate)"),
    ("metric=win_rate&close=this_month", "“close” only narrows the forecast"),
    ("metric=forecast&category=maybe", "“category” must be one of: commit, best_case, pipeline"),
    ("metric=forecast&owner=2147483648", "“owner” is not a user of this organisation"),
    ("metric=forecast&owner=%ED%A0%80", "“owner” is not a user of this organisation"),
    ("metric=forecast&from=2026-02-30", "“from”"),
])
def test_a_bad_link_says_what_is_wrong(client, org, login_as, deals, query, words):
    login_as("manager")
    response = client.get(f"/reports/{deals.id}/deals?{query}")
    assert response.status_code == 422 and words in response.get_data(as_text=True)


def test_another_organisations_people_are_not_found(client, org, login_as, deals):
    other = factories.make_org(name="Elsewhere")
    login_as("manager")
    response = client.get(f"/reports/{deals.id}/deals?metric=forecast&owner={factories.user(other).id}")
    assert response.status_code == 422
