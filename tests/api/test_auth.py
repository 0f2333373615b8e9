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


def test_a_shared_budget_per_key_across_endpoints(app, client, org, key_for, monkeypatch):
    headers = key_for("admin")
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "4 per minute")
    codes = [client.get(path, headers=headers).status_code
             for path in ("/api/v1/pipelines", "/api/v1/deals", "/api/v1/tasks", "/api/v1/organization",
                          "/api/v1/pipelines", "/api/v1/deals")]
    assert codes == [200, 200, 200, 200, 429, 429]


def _from(address: str) -> dict:
    return {"REMOTE_ADDR": address}


def test_wrong_keys_from_one_address_are_limited_before_any_lookup(app, client, org, key_for, monkeypatch):
    import secrets

    from sqlalchemy import event

    monkeypatch.setitem(app.config, "API_AUTH_FAIL_LIMIT", "20 per minute")
    valid = key_for("rep")
    guesser = _from("203.0.113.7")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    answers = []
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for _ in range(25):
            statements.clear()
            answers.append(client.get("/api/v1/pipelines", environ_base=guesser,
                                      headers={"Authorization": f"Bearer sg_{secrets.token_urlsafe(24)}"}))
            answers[-1].statements = list(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [r.status_code for r in answers] == [401] * 20 + [429] * 5
    assert all(r.statements for r in answers[:20])  # each wrong key was looked up
    for refused in answers[20:]:
        assert refused.json["error"] == "rate_limited" and "API key" in refused.json["message"]
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.statements == []  # no database lookup once the address is over the limit
    # Another address with a valid key works; from the guessing address even a valid key waits.
    assert client.get("/api/v1/pipelines", headers=valid, environ_base=_from("198.51.100.4")).status_code == 200
    assert client.get("/api/v1/pipelines", headers=valid, environ_base=guesser).status_code == 429
    # Missing keys count as failures too (each is a 401), per address.
    missing = [client.get("/api/v1/pipelines", environ_base=_from("198.51.100.9")).status_code for _ in range(21)]
    assert missing == [401] * 20 + [429]
