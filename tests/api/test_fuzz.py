"""No input makes the API answer 500, and a refused request writes nothing."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import factories
from tests.api.conftest import row_counts

JUNK = [None, True, False, 0, -1, 2**63, 10**40, 1.5, -0.0, 1e308, "", " ", "x" * 20_000, "1", "-5", "a\x00b",
        "ünïcødé ✓", "2024-13-45", "2024-01-01T00:00:00+25:00", "0001-01-01T00:00:00+14:00",
        [], [1, "a"], {}, {"a": {"b": [1, {"c": None}]}}, "<script>alert(1)</script>", "9999999999999.99"]

CREATE_FIELDS = ["pipeline_id", "title", "amount", "currency", "owner_email", "contact_email", "facts", "stage_id",
                 "created_at", "stage_entered_at", "reason"]
MOVE_FIELDS = ["stage_id", "version", "facts", "reason", "loss_reason_id", "at"]
PATCH_FIELDS = ["version", "title", "amount", "facts"]
ENTRY = {"icp_confirmed": True, "pain": "Churn"}


def fact_junk(pipeline):
    """Every field of the pipeline given every junk value, one at a time."""
    return [{f.key: value} for f in pipeline.fields for value in JUNK]


def check(response, before):
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.is_json, response.status_code
    body = response.json
    if response.status_code >= 400:
        assert set(body) >= {"error", "message"}
        assert row_counts() == before, body


def test_wrong_types_for_every_create_field_never_500(client, org, admin_h):
    pipeline = factories.pipeline(org)
    base = {"pipeline_id": pipeline.id, "title": "Fuzz", "facts": ENTRY}
    before = row_counts()
    for field in CREATE_FIELDS:
        for value in JUNK:
            response = client.post("/api/v1/deals", headers=admin_h, json={**base, field: value})
            if response.status_code == 201:
                before = row_counts()
            check(response, before)
    for facts in fact_junk(pipeline):
        response = client.post("/api/v1/deals", headers=admin_h, json={**base, "facts": {**ENTRY, **facts}})
        if response.status_code == 201:
            before = row_counts()
        check(response, before)


def test_wrong_types_for_every_move_and_patch_field_never_500(client, org, admin_h):
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    base_move = {"stage_id": factories.stage(deal.pipeline, "Discovery").id}
    for field in MOVE_FIELDS:
        for value in JUNK:
            before = row_counts()
            response = client.post(f"/api/v1/deals/{deal.id}/move", headers=admin_h, json={**base_move, field: value})
            check(response, before)
    for facts in fact_junk(deal.pipeline):
        before = row_counts()
        response = client.post(f"/api/v1/deals/{deal.id}/move", headers=admin_h, json={**base_move, "facts": facts})
        check(response, before)
    for field in PATCH_FIELDS:
        for value in JUNK:
            before = row_counts()
            version = client.get(f"/api/v1/deals/{deal.id}", headers=admin_h).json["version"]
            response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"version": version, field: value})
            check(response, before)


@pytest.mark.parametrize("url", ["/api/v1/deals/{id}", "/api/v1/deals/{id}/transitions", "/api/v1/deals/{id}/move"])
@pytest.mark.parametrize("deal_id", ["-1", "0", "abc", "99999999999999999999999", "1.5", "%00"])
def test_strange_ids_are_404_not_500(client, org, admin_h, url, deal_id):
    method = client.post if url.endswith("move") else client.get
    response = method(url.format(id=deal_id), headers=admin_h, json={"stage_id": 1})
    assert response.status_code == 404 and response.json["error"] == "not_found"


@pytest.mark.parametrize("query", ["owner_email=%00", "owner_email=" + "a" * 5000, "status=%00", "page=%00",
                                   "pipeline_id=%E2%9C%93", "stage_id=" + "9" * 400])
@pytest.mark.parametrize("path", ["/api/v1/deals", "/api/v1/tasks"])
def test_strange_query_strings_are_4xx_not_500(client, org, admin_h, path, query):
    response = client.get(f"{path}?{query}", headers=admin_h)
    assert response.status_code in (200, 422), response.json
    assert response.is_json


def test_unknown_api_paths_and_methods_answer_json(client, org, admin_h):
    assert client.get("/api/v1/nothing-here", headers=admin_h).json["error"] == "not_found"
    response = client.delete("/api/v1/deals", headers=admin_h)
    assert response.status_code == 405 and response.json["error"] == "method_not_allowed"
    response = client.put("/api/v1/pipelines", headers=admin_h)
    assert response.status_code == 405 and response.is_json


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(CREATE_FIELDS + MOVE_FIELDS + ["zzz"]), json_values, max_size=6))
def test_random_bodies_never_500_on_any_write(client, org, admin_h, body):
    pipeline = factories.pipeline(org)
    deal_id = client.post("/api/v1/deals", headers=admin_h,
                          json={"pipeline_id": pipeline.id, "title": "Seed", "facts": ENTRY}).json["id"]
    for method, url in [("post", "/api/v1/deals"), ("post", f"/api/v1/deals/{deal_id}/move"),
                        ("patch", f"/api/v1/deals/{deal_id}")]:
        before = row_counts()
        response = getattr(client, method)(url, headers=admin_h, json=body)
        assert response.status_code < 500
        assert response.is_json
        if response.status_code >= 400:
            assert row_counts() == before, (url, response.json)


# Lone UTF-16 surrogates: JSON can spell them ("\ud800"), but they are not text. They are refused
# (422 naming the key that holds them), never stored where they would break a page or an export.
SURROGATE_BODIES = [
    ("post", "/api/v1/deals", lambda p, d: {"pipeline_id": p, "title": "Bad \ud800 title", "facts": ENTRY}),
    ("post", "/api/v1/deals", lambda p, d: {"pipeline_id": p, "title": "T", "owner_email": "\ud800@x.example",
                                            "facts": ENTRY}),
    ("post", "/api/v1/deals", lambda p, d: {"pipeline_id": p, "title": "T", "facts": {**ENTRY, "pain": "\udfff"}}),
    ("post", "/api/v1/deals", lambda p, d: {"pipeline_id": p, "title": "T", "facts": ENTRY, "\ud800": 1}),
    ("post", "/api/v1/deals/{d}/move", lambda p, d: {"stage_id": 1, "reason": "lost \ud800"}),
    ("post", "/api/v1/deals/{d}/move", lambda p, d: {"stage_id": 1, "facts": {"needs": ["\ud83d"]}}),
    ("patch", "/api/v1/deals/{d}", lambda p, d: {"version": 1, "facts": {"pain": "a\ud800b"}}),
    ("patch", "/api/v1/deals/{d}", lambda p, d: {"version": 1, "title": "\udc00"}),
]


@pytest.mark.parametrize("method, url, make", SURROGATE_BODIES, ids=[f"{m} {u} {i}" for i, (m, u, _) in
                                                                      enumerate(SURROGATE_BODIES)])
def test_lone_surrogates_are_refused_by_name_and_never_stored(client, org, admin_h, method, url, make):
    pipeline = factories.pipeline(org)
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    before = row_counts()
    body = make(pipeline.id, deal.id)
    response = getattr(client, method)(url.format(d=deal.id), headers={**admin_h, "Content-Type": "application/json"},
                                       data=json.dumps(body))  # ensure_ascii: "\ud800" travels as an escape
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["error"] == "invalid"
    [(name, message)] = response.json["fields"].items()
    assert name in {*body, "\\ud800"} and "lone surrogate" in message
    assert row_counts() == before
    page = client.get(f"/api/v1/deals/{deal.id}", headers=admin_h)
    assert page.status_code == 200 and "\ud800" not in page.get_data(as_text=True)


def test_a_surrogate_in_a_text_fact_is_refused_by_the_service_too(org):
    from app.deals.service import update_deal
    from app.errors import Invalid

    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    with pytest.raises(Invalid) as refused:
        update_deal(deal, factories.user(org, "admin"), version=deal.version, facts={"pain": "x\ud800"})
    assert "broken character" in refused.value.fields["pain"]


@pytest.mark.parametrize("big", [2**31, 2**31 + 1, 2**32, 2**53, 10**18])
def test_ids_past_the_integer_range_are_404_or_named_never_500(client, org, admin_h, big):
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    for method, url in [("get", f"/api/v1/deals/{big}"), ("get", f"/api/v1/deals/{big}/transitions"),
                        ("patch", f"/api/v1/deals/{big}"), ("post", f"/api/v1/deals/{big}/move")]:
        response = getattr(client, method)(url, headers=admin_h, json={"version": 1, "stage_id": 1})
        assert response.status_code == 404 and response.json["error"] == "not_found", url
    before = row_counts()
    for body in ({"pipeline_id": big, "title": "T"}, {"pipeline_id": deal.pipeline_id, "title": "T", "stage_id": big}):
        response = client.post("/api/v1/deals", headers=admin_h, json=body)
        assert response.status_code == 422 and set(response.json["fields"]) <= {"pipeline_id", "stage_id"}
    for body in ({"stage_id": big}, {"stage_id": deal.stage_id, "loss_reason_id": big}, {"stage_id": 1, "version": big}):
        response = client.post(f"/api/v1/deals/{deal.id}/move", headers=admin_h, json=body)
        assert response.status_code in (404, 409, 422), response.json
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={"version": big, "title": "New"})
    assert response.status_code == 409 and response.json["error"] == "conflict"
    for path in ("/api/v1/deals", "/api/v1/tasks"):
        for name in ("pipeline_id", "stage_id", "deal_id"):
            response = client.get(f"{path}?{name}={big}", headers=admin_h)
            assert response.status_code in (200, 422), response.json
    assert row_counts() == before


def test_a_patch_with_one_bad_fact_names_only_that_fact(client, org, admin_h):
    from app.extensions import db
    from app.models import StageRequirement

    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    qualified = deal.stage
    # An admin later adds "Next steps agreed" to Qualified's entry criteria: the deal lacks it.
    field = next(f for f in deal.pipeline.fields if f.key == "next_steps")
    db.session.add(StageRequirement(org_id=org.id, stage_id=qualified.id, field_id=field.id, when="entry"))
    db.session.commit()
    version = deal.version
    before = row_counts()
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={
        "version": version,
        "facts": {"next_steps": "Call Tuesday", "pain": "Churn is up", "budget_range": "lots", "icp_confirmed": True}})
    assert response.status_code == 422, response.json
    assert response.json["fields"] == {"budget_range": "must be a number"}
    assert row_counts() == before
    response = client.patch(f"/api/v1/deals/{deal.id}", headers=admin_h, json={
        "version": version, "facts": {"next_steps": "", "budget_range": "lots"}})
    assert response.json["fields"] == {"budget_range": "must be a number",
                                       "next_steps": f"is required while the deal is in {qualified.name}"}


@pytest.mark.parametrize("method, url", [("post", "/api/v1/deals"), ("patch", "/api/v1/deals/{d}"),
                                         ("post", "/api/v1/deals/{d}/move")])
def test_a_body_over_the_size_limit_is_413_json_and_writes_nothing(app, client, org, admin_h, method, url):
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    before = row_counts()
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 10_000  # the same check as the real 60 MB, at a size a test can send
    try:
        body = json.dumps({"pipeline_id": deal.pipeline_id, "title": "x" * 20_000, "version": 1, "stage_id": 1})
        response = getattr(client, method)(url.format(d=deal.id), headers={**admin_h, "Content-Type":
                                                                          "application/json"}, data=body)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413 and response.json["error"] == "too_large"
    assert row_counts() == before
