"""The OpenAPI document describes every API route."""

import re

from tests import factories


def test_openapi_document_is_public_and_covers_every_api_rule(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule[len("/api/v1"):])
        assert path in doc["paths"], f"{rule.rule} is missing from app/api/openapi.py"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], f"{method} {rule.rule} is missing from the OpenAPI doc"


def test_openapi_references_resolve_and_name_error_schemas(client):
    doc = client.get("/api/v1/openapi.json").json
    text = str(doc)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in doc["components"]["schemas"], name
    assert {"Error", "Invalid", "GateRefused", "Conflict", "Deal", "Pipeline", "Task"} <= set(
        doc["components"]["schemas"])
    move = doc["paths"]["/deals/{deal_id}/move"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "422", "429"} <= set(move)


def test_deal_schema_lists_exactly_the_fields_the_api_returns(client, org):
    from app.auth.service import create_api_key

    raw, _ = create_api_key(factories.user(org))
    deal = factories.make_deal(org)
    body = client.get(f"/api/v1/deals/{deal.id}", headers={"Authorization": f"Bearer {raw}"}).json
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Deal"]
    assert set(schema["required"]) == set(body) == set(schema["properties"])
