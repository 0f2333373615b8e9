"""GET /api/v1/organization: the key's organisation, as shared/API.md and the document describe it."""

import jsonschema
import pytest

from app.api.openapi import document
from app.extensions import db
from tests import factories


@pytest.mark.parametrize("role", ["admin", "manager", "rep"])
def test_any_key_of_the_organisation_reads_it(client, org, key_for, role):
    org.timezone, org.currency = "Europe/Berlin", "EUR"
    db.session.commit()
    response = client.get("/api/v1/organization", headers=key_for(role))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"name": org.name, "slug": org.slug, "time_zone": "Europe/Berlin", "currency": "EUR"}


def test_each_key_sees_its_own_organisation_and_no_key_sees_none(client, org, key_for):
    other = factories.make_org(name="Other Agency")
    assert client.get("/api/v1/organization", headers=key_for("rep", in_org=other)).json["slug"] == other.slug
    assert client.get("/api/v1/organization", headers=key_for("rep")).json["slug"] == org.slug
    assert client.get("/api/v1/organization").status_code == 401


def test_a_stored_zone_that_is_not_a_zone_reads_as_utc_as_the_reports_count_it(client, org, admin_h):
    org.timezone = "Mars/Olympus_Mons"
    db.session.commit()
    assert client.get("/api/v1/organization", headers=admin_h).json["time_zone"] == "UTC"


def test_the_document_describes_the_answer(client, org, admin_h):
    spec = document()
    operation = spec["paths"]["/organization"]["get"]
    schema = {**operation["responses"]["200"]["content"]["application/json"]["schema"],
              "components": spec["components"]}
    jsonschema.validate(client.get("/api/v1/organization", headers=admin_h).json, schema)
    assert {"401", "429"} <= set(operation["responses"])
