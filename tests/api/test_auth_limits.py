"""Wrong API keys are counted per client address in Redis: two gunicorn processes share the count,
and a client at another address is not held back by it."""

import http.client
import secrets
import uuid

import redis

from app.auth.service import create_api_key
from app.extensions import db
from tests import factories
from tests.auth.test_limits import servers  # noqa: F401 - the gunicorn fixture
from tests.worker.conftest import DOWN_REDIS_URL, REDIS_URL


def get(server, path: str, key: str, address: str = "127.0.0.1") -> http.client.HTTPResponse:
    """GET `path` with a bearer key from `address` (any 127.x address reaches the loopback server)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(address, 0))
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_wrong_keys_are_limited_per_address_across_two_processes_sharing_redis(org, servers):  # noqa: F811
    valid, _ = create_api_key(factories.user(org, "rep"), "integration")
    db.session.remove()
    prefix = f"api-fail-test-{uuid.uuid4().hex[:8]}"
    env = {"REDIS_URL": REDIS_URL, "API_AUTH_FAIL_LIMIT": "20 per minute", "RATELIMIT_KEY_PREFIX": prefix}
    first, second = servers(**env), servers(**env)
    try:
        answers = [get(server, "/api/v1/pipelines", f"sg_{secrets.token_urlsafe(24)}")
                   for _ in range(13) for server in (first, second)][:25]
        from_elsewhere = [get(server, "/api/v1/pipelines", valid, address="127.0.0.2") for server in (first, second)]
        same_address = get(first, "/api/v1/pipelines", valid)
    finally:
        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)
    assert [r.status for r in answers] == [401] * 20 + [429] * 5  # whichever process gets the 21st
    assert all(0 < int(r.getheader("Retry-After")) <= 60 for r in answers[20:])
    assert [r.status for r in from_elsewhere] == [200, 200]
    assert same_address.status == 429


def test_with_redis_down_wrong_keys_are_still_limited_in_the_process(org, servers):  # noqa: F811
    db.session.remove()
    server = servers(REDIS_URL=DOWN_REDIS_URL, API_AUTH_FAIL_LIMIT="3 per minute")
    codes = [get(server, "/api/v1/pipelines", f"sg_{secrets.token_urlsafe(24)}").status for _ in range(4)]
    assert codes == [401, 401, 401, 429]
