"""Bearer keys: who gets in, who does not, and how hard they may knock."""

from app.extensions import db
from app.models import ApiKey, Deal, utcnow
from tests import factories


def test_no_key_is_401_with_json_error(client, org):
    response = client.get("/api/v1/pipelines")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert "Bearer" in response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_key_and_wrong_scheme_are_401(client, org, admin_h):
    raw = admin_h["Authorization"].split()[1]
    for header in ("Bearer sg_not-a-real-key", f"Basic {raw}", raw, "Bearer ", "Bearer " + "x" * 5000):
        response = client.get("/api/v1/pipelines", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json["error"] == "unauthorized"


def test_valid_key_reads_and_records_last_use(client, org, admin_h):
    assert ApiKey.query.one().last_used_at is None
    assert client.get("/api/v1/pipelines", headers=admin_h).status_code == 200
    db.session.expire_all()
    assert ApiKey.query.one().last_used_at is not None


def test_revoked_key_is_401(client, org, admin_h):
    key = ApiKey.query.one()
    key.revoked_at = utcnow()
    db.session.commit()
    response = client.get("/api/v1/pipelines", headers=admin_h)
    assert response.status_code == 401 and response.json["error"] == "unauthorized"


def test_key_of_deactivated_user_is_401(client, org, key_for):
    headers = key_for("rep")
    rep = factories.user(org, "rep")
    rep.active = False
    db.session.commit()
    assert client.get("/api/v1/pipelines", headers=headers).status_code == 401


def test_signed_in_browser_session_is_not_an_api_login(client, org, login_as):
    login_as("admin")
    assert client.get("/").status_code == 302  # signed in for the web UI
    response = client.get("/api/v1/pipelines")
    assert response.status_code == 401


def test_api_needs_no_csrf_token_and_sets_no_cookie(app, client, org, admin_h):
    pipeline = factories.pipeline(org)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/api/v1/deals", headers=admin_h, json={
            "pipeline_id": pipeline.id, "title": "No CSRF here",
            "facts": {"icp_confirmed": True, "pain": "Churn"}})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 201, response.json
    assert "Set-Cookie" not in response.headers
    assert Deal.query.count() == 1


def test_rate_limit_answers_429_with_retry_after_per_key(app, client, org, key_for):
    first, second = key_for("admin"), key_for("rep")
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [client.get("/api/v1/pipelines", headers=first).status_code for _ in range(5)]
        limited = client.get("/api/v1/pipelines", headers=first)
        other = client.get("/api/v1/pipelines", headers=second)
    finally:
        app.config["API_RATE_LIMIT"] = "10000 per minute"
    assert codes == [200, 200, 200, 429, 429]
    assert limited.status_code == 429
    assert limited.json["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert other.status_code == 200  # the limit is per key
