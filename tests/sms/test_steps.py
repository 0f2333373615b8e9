"""An SMS step is a step like the others: the API and the builder take it, its text is required."""

from app.models import SequenceStep


def test_the_api_takes_a_text_step_and_names_a_missing_text(client, key_for):
    steps = [{"type": "sms", "wait_days": 0, "body": "Hi {{first_name}}"},
             {"type": "sms", "wait_days": 2}]
    refused = client.post("/api/v1/sequences", json={"name": "Texts", "steps": steps}, headers=key_for("manager"))
    assert refused.status_code == 422
    assert "steps[1].body" in refused.get_json()["fields"]
    steps[1]["body"] = "Still there?"
    response = client.post("/api/v1/sequences", json={"name": "Texts", "steps": steps}, headers=key_for("manager"))
    assert response.status_code == 201, response.get_json()
    assert [s["type"] for s in response.get_json()["steps"]] == ["sms", "sms"]
    assert SequenceStep.query.filter_by(type="sms").count() == 2
    broken = client.post("/api/v1/sequences", json={"name": "X", "steps": [{"type": "fax", "body": "x"}]},
                         headers=key_for("manager"))
    assert broken.status_code == 422 and "sms" in broken.get_json()["fields"]["steps[0].type"]


def test_the_builder_offers_a_text_step(client, org, login_as):
    login_as("manager")
    page = client.get("/sequences/new").get_data(as_text=True)
    assert '<option value="sms"' in page and "Text message (SMS)" in page
