"""GET /api/v1/metrics/deals: the deals behind each number of GET /api/v1/metrics, with the same
period, pipeline and owner, and a count equal to the number for every metric, stage and owner."""

from datetime import datetime, timedelta

import pytest

from app.auth.service import create_api_key
from app.models import Deal
from tests import factories
from tests.reports.history import make_history


def _headers(user):
    raw, _ = create_api_key(user, "drill")
    return {"Authorization": f"Bearer {raw}"}


def _all_pages(client, url, headers) -> tuple[int, list]:
    items, page = [], 1
    while page:
        body = client.get(f"{url}&page={page}", headers=headers).json
        items += body["items"]
        page = body["next_page"]
    return body["count"], items


def _questions(numbers):
    """(metric, part, stage_id, the number it explains) for every number of the metrics answer."""
    for row in numbers["stage_conversion"]:
        yield "stage_conversion", "entered", row["stage_id"], row["entered"]
        yield "stage_conversion", "advanced", row["stage_id"], row["advanced"]
    for row in numbers["time_in_stage"]:
        yield "time_in_stage", "stays", row["stage_id"], row["n"]
    yield "win_rate", "won", None, numbers["won"]
    yield "win_rate", "closed", None, numbers["won"] + numbers["lost"]
    yield "meeting_to_close", "closed", None, numbers["meeting_closed"]
    yield "cycle_days", "won", None, numbers["cycle_days"]["n"]
    yield "forecast", "open", None, numbers["forecast"]["open_count"]


def test_every_numbers_deals_count_equals_the_number_for_every_owner(client, org, book):
    pipeline, manager = book["pipeline"], factories.user(org, "manager")
    headers = _headers(manager)
    for owner in [None, *book["owners"]]:
        scope = f"pipeline_id={pipeline.id}&{book['query']}" + (f"&owner_email={owner.email}" if owner else "")
        numbers = client.get(f"/api/v1/metrics?{scope}", headers=headers).json
        checked = 0
        for metric, part, stage_id, number in _questions(numbers):
            url = f"/api/v1/metrics/deals?{scope}&metric={metric}&part={part}"
            count, items = _all_pages(client, url + (f"&stage_id={stage_id}" if stage_id else ""), headers)
            assert count == number, (owner and owner.email, metric, part, stage_id)
            ids = [item["id"] for item in items]
            assert len(ids) == len(set(ids)) and ids == sorted(ids)
            if metric != "time_in_stage":  # a deal with two stays in a stage is listed once
                assert len(ids) == number
            if owner is not None:
                assert {item["owner_email"] for item in items} <= {owner.email}
            checked += number
        assert owner is not None or checked > 40  # the data set is not trivial


def test_the_list_names_the_deals_and_pages_them(client, org, book):
    pipeline = book["pipeline"]
    headers = _headers(factories.user(org, "admin"))
    body = client.get(f"/api/v1/metrics/deals?pipeline_id={pipeline.id}&metric=forecast", headers=headers).json
    open_deals = Deal.query.filter_by(pipeline_id=pipeline.id, status="open").order_by(Deal.id).all()
    assert body["count"] == len(open_deals)
    first = open_deals[0]
    assert body["items"][0] == {"id": first.id, "title": first.title, "stage_id": first.stage_id,
                                "owner_email": first.owner.email, "amount": f"{first.amount:.2f}", "status": "open"}


def test_a_reps_key_lists_their_own_deals_and_may_not_ask_for_anyone_elses(client, org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    t0 = datetime.utcnow() - timedelta(days=10)
    make_history(org, rep, [("Qualified", t0)], title="Rep deal")
    make_history(org, manager, [("Qualified", t0)], title="Manager deal")
    pipeline = factories.pipeline(org)
    headers = _headers(rep)
    body = client.get(f"/api/v1/metrics/deals?pipeline_id={pipeline.id}&metric=forecast", headers=headers).json
    assert [item["title"] for item in body["items"]] == ["Rep deal"] and body["count"] == 1
    mine = client.get(f"/api/v1/metrics?owner_email={rep.email.upper()}", headers=headers)
    assert mine.status_code == 200 and mine.json["forecast"]["open_count"] == 1
    for path in ("/api/v1/metrics", "/api/v1/metrics/deals"):
        refused = client.get(f"{path}?metric=forecast&owner_email={manager.email}", headers=headers)
        assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    everyone = client.get(f"/api/v1/metrics?owner_email={manager.email}", headers=_headers(manager)).json
    assert everyone["forecast"]["open_count"] == 1  # the manager's own deal, by the filter


def test_another_organisations_pipeline_and_people_are_not_found(client, org):
    pipeline = factories.pipeline(org)
    other = factories.make_org(name="Elsewhere")
    headers = _headers(factories.user(other))
    response = client.get(f"/api/v1/metrics/deals?pipeline_id={pipeline.id}&metric=forecast", headers=headers)
    assert response.status_code == 404
    stranger = client.get(f"/api/v1/metrics?owner_email={factories.user(org).email}", headers=headers)
    assert stranger.status_code == 422 and "owner_email" in stranger.json["fields"]


@pytest.mark.parametrize("query, field", [
    ("", "metric"), ("metric=everything", "metric"), ("metric=stage_conversion", "stage_id"),
    ("metric=stage_conversion&stage_id=1&part=lost", "part"), ("metric=forecast&page=0", "page"),
    ("metric=time_in_stage&stage_id=99999999999", "stage_id"), ("metric=time_in_stage&stage_id=%ED%A0%80", "stage_id"),
    ("metric=forecast&owner_email=nobody@nowhere.example", "owner_email"), ("metric=forecast&colour=red", "colour"),
    ("metric=forecast&from=2026-02-30", "from"),
])
def test_bad_parameters_are_a_422_naming_the_field(client, org, query, field):
    factories.pipeline(org)
    response = client.get(f"/api/v1/metrics/deals?{query}", headers=_headers(factories.user(org)))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.json["fields"]
