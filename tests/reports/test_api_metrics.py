"""GET /api/v1/metrics: the same numbers as the page, scoped by key, 422 on any bad parameter."""

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.auth.service import create_api_key
from tests import factories
from tests.reports.history import make_history


@pytest.fixture
def history(org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    t0 = datetime.utcnow() - timedelta(days=20)
    make_history(org, rep, [("Qualified", t0), ("Discovery", t0 + timedelta(days=2)),
                            ("Proposal", t0 + timedelta(days=5))], amount="10000", title="Rep deal")
    make_history(org, manager, [("Qualified", t0), ("Closed Lost", t0 + timedelta(days=1))], title="Manager loss")
    return factories.pipeline(org)


def _headers(user):
    raw, _ = create_api_key(user, "metrics")
    return {"Authorization": f"Bearer {raw}"}


def test_metrics_answer_the_documented_shape_with_known_numbers(client, org, history):
    response = client.get(f"/api/v1/metrics?pipeline_id={history.id}", headers=_headers(factories.user(org)))
    assert response.status_code == 200
    body = response.json
    qualified = factories.stage(history, "Qualified")
    row = next(r for r in body["stage_conversion"] if r["stage_id"] == qualified.id)
    assert (row["entered"], row["advanced"], row["rate"]) == (2, 1, 0.5)
    assert body["win_rate"] == 0.0 and body["lost"] == 1
    assert body["forecast"] == {**body["forecast"], "weighted": "5000.00", "open_count": 1}  # Proposal is 50 %
    assert body["reply_rate"] is None and "no data yet" in body["no_data"]["reply_rate"].lower()
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Metrics"]
    assert set(schema["required"]) == set(body)


def test_a_reps_key_sees_only_the_reps_deals(client, org, history):
    body = client.get("/api/v1/metrics", headers=_headers(factories.user(org, "rep"))).json
    assert body["scope"] == "own"
    assert body["lost"] == 0  # the manager's loss is not the rep's
    assert {r["owner_email"] for r in body["time_in_stage_by_owner"]} == {factories.user(org, "rep").email}


def test_another_organisations_pipeline_is_not_found(client, org, history):
    other = factories.make_org(name="Elsewhere")
    response = client.get(f"/api/v1/metrics?pipeline_id={history.id}", headers=_headers(factories.user(other)))
    assert response.status_code == 404 and response.json["error"] == "not_found"


@pytest.mark.parametrize("query, field", [
    ("from=2026-02-30", "from"), ("from=yesterday", "from"), ("to=2026-01-01&from=2026-02-01", "to"),
    ("pipeline_id=0", "pipeline_id"), ("pipeline_id=99999999999", "pipeline_id"), ("pipeline_id=%F0%9F%98%80", "pipeline_id"),
    ("from=0001-01-01", "from"), ("to=9999-12-31", "to"), ("preset=forever", "preset"), ("from=%ED%A0%80", "from"),
    ("frm=2026-01-01", "frm"), ("from=2026-01-01%00", "from"),
])
def test_bad_parameters_are_a_422_naming_the_field(client, org, query, field):
    response = client.get(f"/api/v1/metrics?{query}", headers=_headers(factories.user(org)))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["error"] == "invalid" and field in response.json["fields"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["pipeline_id", "from", "to", "preset"]), st.text(max_size=30), max_size=4))
def test_no_query_makes_metrics_answer_500(client, org, params):
    headers = _headers(factories.user(org))
    response = client.get("/api/v1/metrics", query_string=params, headers=headers)
    assert response.status_code in (200, 404, 422), response.get_data(as_text=True)[:300]
