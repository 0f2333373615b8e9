"""The public form through a real gunicorn: behind one real proxy hop with TRUSTED_PROXIES=1 every visitor has
their own rate limit and view; without it forwarding headers are ignored; big bodies never reach memory."""

import http.client
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.extensions import db
from app.leads import lead_forms
from app.models.leads import LeadFormView, LeadSubmission
from tests import factories
from tests.auth.test_limits import Server
from tests.leads.conftest import ROWS, token_of
from tests.worker.conftest import ROOT

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length"}


class Proxy:
    """A one-hop reverse proxy on a free port, as nginx is usually set up in front of an app:
    X-Forwarded-For gets the connecting address appended ($proxy_add_x_forwarded_for), X-Forwarded-Proto
    says https (TLS ends here), and Host passes through."""

    def __init__(self, upstream_port: int):
        class Handler(BaseHTTPRequestHandler):
            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                before = self.headers.get("X-Forwarded-For")
                headers["X-Forwarded-For"] = f"{before}, {self.client_address[0]}" if before \
                    else self.client_address[0]
                headers["X-Forwarded-Proto"] = "https"
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = forward

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def fetch(port, path, client="127.0.0.1", method="GET", body=None, headers=None) -> tuple[int, str]:
    """One request from the client address `client` (any 127.x address is this machine's loopback)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(client, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


@pytest.fixture
def lead_form(org):
    form = lead_forms.save_form(factories.user(org, "admin"), {"name": "Contact us"}, ROWS)
    key = form.key
    db.session.remove()  # the server process reads and writes the same database
    return key


@pytest.fixture
def gunicorn(app, tmp_path):
    started = []

    def start(**env):
        server = Server(app, tmp_path, REDIS_URL="", RATELIMIT_STORAGE_URI="memory://", LEAD_FORM_MIN_SECONDS=0,
                        **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def proxy():
    started = []

    def start(upstream_port):
        started.append(Proxy(upstream_port))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def test_behind_one_trusted_proxy_each_visitor_has_their_own_limit_view_and_https(lead_form, gunicorn, proxy):
    server = gunicorn(TRUSTED_PROXIES=1, LEAD_FORM_VIEW_LIMIT="3 per minute")
    front = proxy(server.port)
    page = f"/f/{lead_form}"
    assert [fetch(front.port, page, "127.0.0.2")[0] for _ in range(4)] == [200, 200, 200, 429]
    spoofed = fetch(front.port, page, "127.0.0.2", headers={"X-Forwarded-For": "198.51.100.7"})
    assert spoofed[0] == 429  # the proxy appends the real address, and only the last hop is believed
    assert fetch(front.port, page, "127.0.0.3")[0] == 200  # another visitor, another bucket
    assert LeadFormView.query.count() == 2

    # A browser on the https site: its Origin is the site's own, so the post is the hosted page's.
    status, html = fetch(front.port, page, "127.0.0.4")
    body = f"_t={token_of(html)}&f_email=ana%40example.org&f_name=Ana"
    status, html = fetch(front.port, page, "127.0.0.4", "POST", body,
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "Origin": f"https://127.0.0.1:{front.port}"})
    assert status == 200 and "Thank you" in html
    assert LeadSubmission.query.one().status == "received"


def test_without_trusted_proxies_forwarding_headers_are_ignored(lead_form, gunicorn, proxy):
    server = gunicorn(LEAD_FORM_VIEW_LIMIT="3 per minute")
    page = f"/f/{lead_form}"
    codes = [fetch(server.port, page, headers={"X-Forwarded-For": f"203.0.113.{i}"})[0] for i in range(1, 5)]
    assert codes == [200, 200, 200, 429]  # a client cannot pick its own bucket
    assert LeadFormView.query.count() == 1
    front = proxy(server.port)  # and behind a proxy without the setting, everyone is the proxy
    assert fetch(front.port, page, "127.0.0.5")[0] == 429


def _worker_peak_mb(master_pid: int) -> int:
    """The largest peak resident size (VmHWM) among gunicorn's worker processes, in MB."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]))
    return max(peaks) // 1024


def _big_post(port, path, size, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        chunk, sent = b"f_message=" + b"x" * (1 << 20), 0
        try:
            while sent < size:
                conn.send(chunk[: size - sent])
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed without reading the rest, as it should
        results.append(conn.getresponse().status)
    except OSError as exc:
        results.append(type(exc).__name__)
    finally:
        conn.close()


def test_concurrent_60_mb_posts_are_refused_before_they_reach_memory(lead_form, gunicorn):
    server = gunicorn()
    before = _worker_peak_mb(server.process.pid)
    results = []
    posts = [threading.Thread(target=_big_post, args=(server.port, f"/f/{lead_form}", 60_000_000, results))
             for _ in range(4)]
    started = time.monotonic()
    for post in posts:
        post.start()
    for post in posts:
        post.join()
    assert results == [413] * 4 and time.monotonic() - started < 10
    assert _worker_peak_mb(server.process.pid) - before < 30  # the old 60 MiB limit: +340 MB for these four
    assert LeadSubmission.query.count() == 0


def test_a_trusted_proxies_setting_that_is_not_a_number_stops_the_start():
    done = subprocess.run([sys.executable, "-c", "import config"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TRUSTED_PROXIES": "yes"}, timeout=60)
    assert done.returncode != 0 and "TRUSTED_PROXIES must be a whole number (0 or more), not 'yes'" in done.stderr
