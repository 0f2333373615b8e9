"""Sign-in limits hold across processes (counted in Redis), and a sign-in's time does not
tell whether an email has an account."""

import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
import redis

from app.extensions import db
from tests import factories
from tests.conftest import free_port
from tests.worker.conftest import DOWN_REDIS_URL, REDIS_URL, ROOT, wait_for


class Server:
    """`gunicorn wsgi:app` in production mode (CSRF on) on a free port."""

    def __init__(self, app, tmp_path, **env):
        self.port = free_port()
        self.log = tmp_path / f"gunicorn-{self.port}.log"
        environment = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                       "SECRET_KEY": "limits-test", "PYTHONUNBUFFERED": "1",
                       **{k: str(v) for k, v in env.items()}}
        environment.pop("STAGEGATE_EMBEDDED_WORKER", None)
        self.handle = open(self.log, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=environment, stdout=self.handle, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect())
        wait_for(self._up, 30, what=f"gunicorn on {self.port}")

    def _up(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return self.request("/auth/login")[0] == 200
        except OSError:
            return False

    def request(self, path, data=None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.url + path, body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def wrong_sign_in(self, email) -> int:
        page = self.request("/auth/login")[1]
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
        return self.request("/auth/login", {"email": email, "password": "not-the-password", "csrf_token": token})[0]

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.handle.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def servers(app, tmp_path):
    started = []

    def start(**env):
        server = Server(app, tmp_path, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_the_sign_in_limit_holds_across_two_processes_sharing_redis(org, servers):
    email = factories.user(org, "rep").email
    db.session.remove()
    prefix = f"limits-test-{uuid.uuid4().hex[:8]}"
    env = {"REDIS_URL": REDIS_URL, "LOGIN_RATE_LIMIT": "10 per minute", "RATELIMIT_KEY_PREFIX": prefix}
    first, second = servers(**env), servers(**env)
    try:
        codes = [server.wrong_sign_in(email) for _ in range(7) for server in (first, second)]
    finally:
        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)
    assert codes[:10] == [422] * 10  # "Email or password is not right."
    assert codes[10:] == [429] * 4  # the 11th wrong password in a minute, whichever process gets it


def test_without_redis_each_process_counts_alone(org, servers):
    """The embedded default (no REDIS_URL) keeps counting in memory, as documented."""
    email = factories.user(org, "rep").email
    db.session.remove()
    first = servers(REDIS_URL="", LOGIN_RATE_LIMIT="2 per minute")
    assert [first.wrong_sign_in(email) for _ in range(3)] == [422, 422, 429]


def test_with_redis_down_sign_in_still_answers_and_is_still_limited(org, servers):
    """Counters fall back to the process's memory: no 500, and the limit still applies there."""
    email = factories.user(org, "rep").email
    db.session.remove()
    server = servers(REDIS_URL=DOWN_REDIS_URL, LOGIN_RATE_LIMIT="2 per minute")
    assert [server.wrong_sign_in(email) for _ in range(3)] == [422, 422, 429]


def median_sign_in_seconds(client, email, tries=5) -> float:
    times = []
    for _ in range(tries):
        started = time.perf_counter()
        response = client.post("/auth/login", data={"email": email, "password": "not-the-password"})
        times.append(time.perf_counter() - started)
        assert response.status_code == 422
    return statistics.median(times)


def test_a_sign_in_takes_as_long_for_an_unknown_email_as_for_a_known_one(app, client, org, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:100000")  # a real hash's cost
    known = factories.user(org, "rep")
    known.set_password(factories.PASSWORD)
    gone = factories.user(org, "manager")
    gone.set_password(factories.PASSWORD)
    gone.active = False
    db.session.commit()
    unknown = "nobody-here@example.com"
    for email in (known.email, unknown):  # warm up (the dummy hash is made once)
        median_sign_in_seconds(client, email, tries=1)

    # Measured in turns (known, unknown, deactivated, and again), so a burst of load on the shared cores
    # falls on all three alike instead of on whichever was being timed then.
    rounds = [[median_sign_in_seconds(client, email, tries=1) for email in (known.email, unknown, gone.email)]
              for _ in range(9)]
    known_time, unknown_time, deactivated_time = (statistics.median(column) for column in zip(*rounds, strict=True))
    # Without the dummy hash an unknown email answered about ten times faster; a generous bound.
    assert unknown_time > 0.5 * known_time, (unknown_time, known_time)
    assert deactivated_time > 0.5 * known_time, (deactivated_time, known_time)
