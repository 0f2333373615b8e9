"""No input makes the sequences API answer 500, and a refused request writes nothing."""

from tests.api.conftest import row_counts
from tests.api.test_fuzz import JUNK

CREATE_FIELDS = ["name", "steps", "send_days", "send_start_hour", "send_end_hour", "daily_cap", "spacing_minutes"]
STEP_FIELDS = ["type", "wait_days", "subject", "body"]
GOOD_STEP = {"type": "email", "wait_days": 0, "subject": "Hi {{first_name}}", "body": "Hello"}


def check(response, before):
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.is_json
    if response.status_code >= 400:
        assert {"error", "message"} <= set(response.json)
        assert row_counts() == before, response.json


def test_junk_in_every_sequence_field_never_500(client, key_for):
    headers = key_for("manager")
    for field in CREATE_FIELDS:
        for value in JUNK:
            before = row_counts()
            body = {"name": "Fuzz", "steps": [GOOD_STEP], field: value}
            check(client.post("/api/v1/sequences", json=body, headers=headers), before)
    for field in STEP_FIELDS:
        for value in JUNK:
            before = row_counts()
            body = {"name": "Fuzz", "steps": [{**GOOD_STEP, field: value}]}
            check(client.post("/api/v1/sequences", json=body, headers=headers), before)


def test_junk_enrollments_and_ids_never_500(client, key_for, sequence):
    headers = key_for("rep")
    for value in JUNK:
        before = row_counts()
        check(client.post(f"/api/v1/sequences/{sequence.id}/enrollments", json={"contact_email": value},
                          headers=headers), before)
    for path in ("/api/v1/sequences/0", "/api/v1/enrollments/99999999999999999999", "/api/v1/sequences/-1",
                 f"/api/v1/sequences/{2**31}/enrollments"):
        response = client.get(path, headers=headers) if "enrollments" not in path or "sequences" not in path \
            else client.post(path, json={"contact_email": "a@b.example"}, headers=headers)
        assert response.status_code in (404, 405), (path, response.status_code)
