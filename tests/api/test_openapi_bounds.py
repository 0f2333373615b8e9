"""The document's request bounds are the ones the API enforces, field by field, both ways:
just inside a documented bound is not refused for that field, just outside it is (422 naming
it). Driven by the served document, so a bound changed on one side only fails here; every
operation with a body needs a valid baseline below, so new operations join the check."""

import copy

import pytest
from openapi_spec_validator import validate

from tests import factories

# A valid body per operation (placeholders filled from the test's objects), and how to call it.
BASELINES = {
    "createDeal": ("post", "/api/v1/deals", lambda o: {"pipeline_id": o["pipeline"], "title": "Bounds",
                                                       "facts": {"icp_confirmed": True, "pain": "Churn"}}),
    "updateDeal": ("patch", "/api/v1/deals/{deal}", lambda o: {"version": o["version"], "title": "Bounds"}),
    "moveDeal": ("post", "/api/v1/deals/{deal}/move", lambda o: {"stage_id": o["next_stage"],
                                                                "facts": o["exit_facts"]}),
    "createLead": ("post", "/api/v1/leads", lambda o: {"email": "lee@bounds.example", "name": "Lee",
                                                       "utm": {"source": "newsletter"}}),
    "createEvent": ("post", "/api/v1/events", lambda o: {"contact_email": o["contact_email"],
                                                         "type": "page_view"}),
    "createSequence": ("post", "/api/v1/sequences", lambda o: {
        "name": "Bounds", "steps": [{"type": "email", "wait_days": 0, "subject": "Hi", "body": "Hello"}]}),
    "enrollContact": ("post", "/api/v1/sequences/{sequence}/enrollments",
                      lambda o: {"contact_email": o["contact_email"]}),
    "addDealRoomStep": ("post", "/api/v1/deals/{room_deal}/room/steps",
                        lambda o: {"title": "Security review", "side": "buyer", "due_on": "2030-01-15"}),
    "inviteToDealRoom": ("post", "/api/v1/deals/{room_deal}/room/invites",
                         lambda o: {"contact_email": "dana@buyer.example", "send": False}),
    "putStageRequirements": ("put", "/api/v1/pipelines/{pipeline}/stages/{next_stage}/requirements",
                             lambda o: {"entry": [], "exit": ["budget_range"]}),
    "createWebhook": ("post", "/api/v1/webhooks", lambda o: {"url": "http://127.0.0.1:9/hook",
                                                             "events": ["deal.created"]}),
    # A raw body (not JSON): an email message, headers first.
    "inboundEmail": ("post", "/api/v1/inbound-email",
                     lambda o: b"From: pat@prospect.example\r\nSubject: Re: hello\r\n\r\nThanks!\r\n"),
}


@pytest.fixture(scope="module")
def doc(app):
    return app.test_client().get("/api/v1/openapi.json").json


def _resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def body_operations(doc, media_type="application/json"):
    """(operationId, schema) of each operation taking a body of `media_type` (None: any type)."""
    for item in doc["paths"].values():
        for operation in item.values():
            for kind, content in operation.get("requestBody", {}).get("content", {}).items():
                if media_type in (None, kind):
                    yield operation["operationId"], _resolve(doc, content["schema"])


def raw_body_operations(doc):
    """(operationId, media type, schema) of each operation whose body is not JSON."""
    for item in doc["paths"].values():
        for operation in item.values():
            for kind, content in operation.get("requestBody", {}).get("content", {}).items():
                if kind != "application/json":
                    yield operation["operationId"], kind, _resolve(doc, content["schema"])


def probes(name, schema, required):
    """(value, must_be_refused) pairs at the edges of one property's documented schema."""
    types = schema.get("type")
    types = set(types if isinstance(types, list) else [types] if types else [])
    out = []
    if "null" in types:
        out.append((None, name in required))
    elif types:
        out.append((None, True))
    if "string" in types:
        if "maxLength" in schema:
            fill = "2024-05-01T09:30:00+00:00" if schema.get("format") == "date-time" else None
            if fill is None and "format" not in schema:
                out += [("x" * schema["maxLength"], False), ("x" * (schema["maxLength"] + 1), True)]
        if schema.get("minLength", 0) >= 1:
            out.append(("", True))
        if "\\s" in schema.get("pattern", ""):
            out.append(("   ", True))
        if schema.get("pattern", "").endswith("$") and "x00" in schema["pattern"]:
            out.append(("a\x00b", True))
        out.append((12, "integer" not in types and "number" not in types))
    if "integer" in types:
        if "minimum" in schema:
            out.append((schema["minimum"] - 1, True))
        if "maximum" in schema:
            out.append((schema["maximum"] + 1, True))
        out += [(1.5, True), ("7", "string" not in types), (True, True)]
    if "object" in types:
        out += [([], True), ("x", True)]
    if "enum" in schema:
        out.append(("not-in-the-list", True))
    return out


def test_the_document_is_valid_openapi_3_1(doc):
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_operation_with_a_body_has_a_baseline_here(doc):
    missing = {op for op, _ in body_operations(doc, None)} - set(BASELINES)
    assert not missing, f"add a valid body for {sorted(missing)} to BASELINES in {__file__}"


def test_every_documented_request_bound_is_the_one_the_api_enforces(app, client, org, admin_h, doc):
    from tests.factories import make_contact
    from tests.sequences.conftest import make_sequence

    pipeline = factories.pipeline(org)
    qualified, discovery = factories.stage(pipeline, "Qualified"), factories.stage(pipeline, "Discovery")
    contact, sequence = make_contact(org), make_sequence(org)
    wrong = []
    for operation_id, schema in body_operations(doc):
        method, url, make = BASELINES[operation_id]
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            for value, refused in probes(name, _resolve(doc, prop), required):
                deal = factories.make_deal(org, owner=factories.user(org, "admin"))
                objects = {"pipeline": pipeline.id, "deal": deal.id, "version": deal.version,
                           "next_stage": discovery.id, "contact_email": contact.email, "sequence": sequence.id,
                           "exit_facts": {**factories.full_facts(pipeline, qualified, "exit"),
                                          **factories.full_facts(pipeline, discovery, "entry")}}
                if "{room_deal}" in url:  # a deal whose room is open, fresh for each probe
                    objects["room_deal"] = _room_deal(org)
                body = copy.deepcopy(make(objects))
                body[name] = value
                response = getattr(client, method)(url.format(**objects), headers=admin_h, json=body)
                assert response.status_code < 500, (operation_id, name, value)
                named = response.status_code in (400, 422) and name in (response.json.get("fields") or {})
                if response.status_code == 400:
                    named = True  # the whole body refused
                if named != refused:
                    wrong.append((operation_id, name, repr(value)[:40], response.status_code,
                                  response.json.get("fields") if response.status_code >= 400 else "accepted"))
        for required_name in required:
            body = {k: v for k, v in make(objects).items() if k != required_name}
            response = getattr(client, method)(url.format(**objects), headers=admin_h, json=body)
            if response.status_code != 422 or required_name not in response.json["fields"]:
                wrong.append((operation_id, f"without {required_name}", response.status_code))
        body = {**make(objects), "not_documented": 1}
        response = getattr(client, method)(url.format(**objects), headers=admin_h, json=body)
        if schema.get("additionalProperties") is False and "not_documented" not in (response.json.get("fields") or {}):
            wrong.append((operation_id, "an undocumented key", response.status_code))
    assert not wrong, "\n".join(map(str, wrong))


def _room_deal(org) -> int:
    from app.rooms.service import open_room

    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    open_room(deal, factories.user(org, "admin"))
    return deal.id


def test_every_documented_raw_body_bound_is_the_one_the_api_enforces(client, org, key_for, doc):
    """Bodies that are not JSON (inbound email): the length bounds, both ways, in bytes."""
    headers = key_for("manager")
    operations = list(raw_body_operations(doc))
    assert operations, "no operation with a raw body left: drop this test"
    for operation_id, media_type, schema in operations:
        method, url, make = BASELINES[operation_id]
        baseline = make({})

        def send(data, method=method, url=url, media_type=media_type):
            return getattr(client, method)(url, headers=headers, data=data, content_type=media_type)

        assert send(baseline).status_code < 400, operation_id
        if schema.get("minLength", 0) >= 1:
            response = send(b"")
            assert response.status_code == 422 and response.json["error"] == "invalid", operation_id
        if "maxLength" in schema:
            at_limit = baseline + b"x" * (schema["maxLength"] - len(baseline))
            assert send(at_limit).status_code < 400, operation_id
            assert send(at_limit + b"x").status_code == 413, operation_id


def test_request_keys_the_api_takes_are_the_documented_ones(doc):
    from app.api.deals import CREATE_KEYS, MOVE_KEYS, PATCH_KEYS
    from app.api.leads import EVENT_KEYS, LEAD_KEYS
    from app.api.sequences import CREATE_KEYS as SEQUENCE_KEYS

    schemas = doc["components"]["schemas"]
    assert set(schemas["DealCreate"]["properties"]) == CREATE_KEYS
    assert set(schemas["DealPatch"]["properties"]) == PATCH_KEYS
    assert set(schemas["DealMove"]["properties"]) == MOVE_KEYS
    assert set(schemas["LeadCreate"]["properties"]) == set(LEAD_KEYS)
    assert set(schemas["EventCreate"]["properties"]) == set(EVENT_KEYS)
    assert set(schemas["SequenceCreate"]["properties"]) == SEQUENCE_KEYS


def test_every_operation_documents_its_error_answers(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            if operation.get("security") != []:
                assert {"401", "429"} <= codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code, response in operation["responses"].items():
                assert "application/json" in response["content"], (method, path, code)


def test_a_created_deal_links_to_the_operations_on_it(doc):
    links = doc["paths"]["/deals"]["post"]["responses"]["201"]["links"]
    ids = {link["operationId"]: link["parameters"]["deal_id"] for link in links.values()}
    assert ids == {"getDeal": "$response.body#/id", "updateDeal": "$response.body#/id",
                   "moveDeal": "$response.body#/id", "listTransitions": "$response.body#/id"}
    operation_ids = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert set(ids) <= operation_ids


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/deals", "/api/v1/deals/1", "/api/v1/pipelines", "/deals/1"])
def test_a_405_names_the_allowed_methods(client, admin_h, method, path):
    response = client.open(path, method=method, headers=admin_h)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and method not in response.headers["Allow"]


def test_options_answers_with_the_methods_without_a_key(client):
    response = client.options("/api/v1/deals/1")
    assert response.status_code == 200
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS", "PATCH"}
    assert set(client.options("/api/v1/deals").headers["Allow"].replace(" ", "").split(",")) == {
        "GET", "HEAD", "OPTIONS", "POST"}


def _conforms(doc, method, path, response):
    from jsonschema import Draft202012Validator

    documented = doc["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (method, path, response.status_code)
    schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": doc["components"]}).validate(response.json)
    for header in documented[str(response.status_code)].get("headers", {}):
        assert header in response.headers, (method, path, header)
    return response.json["error"]


def test_each_error_answer_is_the_documented_one(app, client, org, admin_h, doc):
    deal = factories.make_deal(org, owner=factories.user(org, "admin"))
    pipeline = factories.pipeline(org)
    seen = set()
    cases = [
        ("post", "/deals", "/api/v1/deals", {"data": b"{not json", "content_type": "application/json"}),
        ("get", "/deals/{deal_id}", f"/api/v1/deals/{deal.id}", {"headers": {}}),
        ("get", "/deals/{deal_id}", "/api/v1/deals/2147483647", {}),
        ("patch", "/deals/{deal_id}", f"/api/v1/deals/{deal.id}", {"json": {"version": deal.version + 5}}),
        ("post", "/deals", "/api/v1/deals", {"json": {"pipeline_id": pipeline.id, "title": " "}}),
        ("post", "/deals", "/api/v1/deals", {"json": {"pipeline_id": pipeline.id, "title": "No facts"}}),
        ("get", "/tasks", "/api/v1/tasks?deal_id=0", {}),
    ]
    for method, path, url, kwargs in cases:
        headers = kwargs.pop("headers", admin_h)
        seen.add(_conforms(doc, method, path, getattr(client, method)(url, headers=headers, **kwargs)))
    assert seen == {"bad_request", "unauthorized", "not_found", "conflict", "invalid", "gate"}
    limit = app.config["API_RATE_LIMIT"]
    app.config["API_RATE_LIMIT"] = "2 per minute"
    try:
        answers = [client.get("/api/v1/pipelines", headers=admin_h) for _ in range(3)]
    finally:
        app.config["API_RATE_LIMIT"] = limit
    assert _conforms(doc, "get", "/pipelines", answers[-1]) == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_an_area_joins_with_one_line_and_gets_the_shared_answers(monkeypatch):
    import types

    from app.api import openapi
    from app.api.openapi_base import ID, body, json_response, path_id

    monkeypatch.setattr(openapi, "PATHS", dict(openapi.PATHS))
    monkeypatch.setattr(openapi, "SCHEMAS", dict(openapi.SCHEMAS))
    area = types.SimpleNamespace(__name__="openapi_things", SCHEMAS={"ThingIn": {"type": "object"}}, PATHS={
        "/things/{thing_id}": {"post": {"operationId": "poke", "parameters": [path_id("thing_id")],
                                        "requestBody": body("ThingIn"),
                                        "responses": {"200": json_response(ID, "Poked.")}}}})
    openapi._area(area)
    responses = openapi.document()["paths"]["/things/{thing_id}"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "404", "413", "422", "429"}
    validate(openapi.document())
    with pytest.raises(AssertionError, match="redefines"):
        openapi._area(area)
