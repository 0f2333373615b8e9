"""Admin: typed deal fields (add, edit, validation, archive, delete refusals)."""

from decimal import Decimal

import pytest

from app.models import FieldDef, StageRequirement
from tests import factories


def _add(client, pipeline, **data):
    return client.post(f"/admin/pipelines/{pipeline.id}/fields", data=data)


def test_add_money_field_with_bounds_derives_key_from_label(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    response = _add(client, pipeline, label="Annual contract value", type="money", min_value="1000",
                    max_value="250,000", help_text="Before discounts.")
    assert response.status_code == 302
    field = FieldDef.query.filter_by(pipeline_id=pipeline.id, key="annual_contract_value").one()
    assert (field.type, field.min_value, field.max_value) == ("money", Decimal("1000"), Decimal("250000"))
    assert field.help_text == "Before discounts."


def test_add_choice_contact_text_and_date_fields(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    _add(client, pipeline, label="Deal source", type="choice", choices="Referral\nInbound\n\nInbound\nEvent")
    _add(client, pipeline, label="Champion named", type="contact", contact_role="champion")
    _add(client, pipeline, label="PO number", type="text", pattern=r"PO-\d{4}")
    _add(client, pipeline, label="Go-live date", type="date", future_only="y")
    by_key = {f.key: f for f in FieldDef.query.filter_by(pipeline_id=pipeline.id)}
    assert by_key["deal_source"].choices == ["Referral", "Inbound", "Event"]
    assert by_key["champion_named"].contact_role == "champion"
    assert by_key["po_number"].pattern == r"PO-\d{4}"
    assert by_key["go_live_date"].future_only is True


@pytest.mark.parametrize("data,message", [
    ({"label": "", "type": "text"}, "Label is required"),
    ({"label": "Weird", "type": "hologram"}, "Choose one of the listed types"),
    ({"label": "Code", "type": "text", "pattern": "([A-Z"}, "is not a valid regular expression"),
    ({"label": "Seats", "type": "number", "min_value": "10", "max_value": "5"}, "must be at least the minimum"),
    ({"label": "Seats", "type": "number", "min_value": "ten"}, "Minimum must be a number"),
    ({"label": "Tier", "type": "choice", "choices": "\n \n"}, "List at least one choice"),
    ({"label": "Buyer", "type": "contact", "contact_role": "boss"}, "Choose the contact&#39;s role"),
    ({"label": "L" * 5000, "type": "text"}, "at most 120 characters"),
    ({"label": "Budget range captured!", "type": "money"}, "A field like this already exists"),
])
def test_bad_field_input_explains_and_writes_nothing(client, org, login_as, data, message):
    login_as("admin")
    pipeline = factories.pipeline(org)
    before = FieldDef.query.count()
    response = _add(client, pipeline, **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert FieldDef.query.count() == before


def test_edit_field_keeps_key_and_updates_label(client, org, login_as):
    login_as("admin")
    field = FieldDef.query.filter_by(key="next_steps").one()
    assert "Next steps agreed" in client.get(f"/admin/fields/{field.id}").get_data(as_text=True)
    response = client.post(f"/admin/fields/{field.id}", data={"label": "Next step agreed with buyer", "type": "text"})
    assert response.status_code == 302
    field = FieldDef.query.get(field.id)
    assert (field.key, field.label) == ("next_steps", "Next step agreed with buyer")


def test_type_change_refused_when_deals_hold_values(client, org, login_as):
    login_as("admin")
    factories.make_deal(org)  # entering Qualified needs icp_confirmed and pain
    field = FieldDef.query.filter_by(key="pain").one()
    response = client.post(f"/admin/fields/{field.id}", data={"label": "Pain identified", "type": "number"})
    assert response.status_code == 422 and "Deals already hold values" in response.get_data(as_text=True)
    assert FieldDef.query.get(field.id).type == "long_text"


def test_deleting_a_field_a_stage_requires_is_refused(client, org, login_as):
    login_as("admin")
    field = FieldDef.query.filter_by(key="budget_range").one()
    response = client.post(f"/admin/fields/{field.id}/delete", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "required by Qualified" in page and "Archive it instead" in page
    assert FieldDef.query.get(field.id) is not None


def test_deleting_a_field_deals_hold_values_for_is_refused(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    _add(client, pipeline, label="Referral partner", type="text")
    field = FieldDef.query.filter_by(key="referral_partner").one()
    factories.make_deal(org, facts={"referral_partner": "Acme Partners"})
    response = client.post(f"/admin/fields/{field.id}/delete", follow_redirects=True)
    assert "Deals hold values for Referral partner" in response.get_data(as_text=True)
    assert FieldDef.query.get(field.id) is not None


def test_unused_field_can_be_deleted(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    _add(client, pipeline, label="Favourite colour", type="text")
    field = FieldDef.query.filter_by(key="favourite_colour").one()
    response = client.post(f"/admin/fields/{field.id}/delete", follow_redirects=True)
    assert "Field Favourite colour deleted" in response.get_data(as_text=True)
    assert FieldDef.query.filter_by(key="favourite_colour").count() == 0


def test_archived_field_stops_being_required_and_can_be_restored(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    field = FieldDef.query.filter_by(key="budget_range").one()
    client.post(f"/admin/fields/{field.id}/archive", data={"archived": "1"})
    qualified = factories.stage(pipeline, "Qualified")
    assert "budget_range" not in [f.key for f in qualified.required_fields("exit")]
    assert StageRequirement.query.filter_by(field_id=field.id).count() == 1  # kept for a restore
    client.post(f"/admin/fields/{field.id}/archive", data={"archived": "0"})
    assert "budget_range" in [f.key for f in factories.stage(pipeline, "Qualified").required_fields("exit")]


def test_reorder_fields(client, org, login_as):
    login_as("admin")
    pipeline = factories.pipeline(org)
    second = sorted(pipeline.fields, key=lambda f: f.position)[1]
    client.post(f"/admin/fields/{second.id}/move", data={"direction": "up"})
    ordered = FieldDef.query.filter_by(pipeline_id=pipeline.id).order_by(FieldDef.position).all()
    assert ordered[0].id == second.id
