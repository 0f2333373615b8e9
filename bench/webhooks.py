"""Bench: webhook deliveries per second through Stagegate's delivery code against a bare POST loop.

Both post the same signed JSON bodies to the same local receiver (a threaded HTTP/1.1 server on
loopback, keep-alive, answering 200) in the same run: the floor is a `requests.Session` loop (one
kept-alive connection, nothing else; a bare http.client loop is printed too, a lower floor still);
Stagegate's figure is the delivery sweep (`send_due`) over N
outbox rows written beforehand, claiming and recording every row in the database. Target: >= 25 %
of the floor. It also prints how long writing the N events (emit + commit) took.

    .venv/bin/python -m bench.webhooks                 # SQLite file bench/out/bench.db
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/stagegate_bench .venv/bin/python -m bench.webhooks

BENCH_WEBHOOK_EVENTS (default 2000) sets N. It adds its own organisation (the rest is left alone).
"""

import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET_PCT = 25


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def _receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks"


def floor_rate(url: str, bodies: list, secret: str) -> float:
    """Deliveries per second of a bare requests.Session loop (signed like ours, nothing stored)."""
    import requests

    from app.webhooks.delivery import sign

    session = requests.Session()
    started = time.perf_counter()
    for body in bodies:
        stamp = int(time.time())
        response = session.post(url, data=body, timeout=10, allow_redirects=False, headers={
            "Content-Type": "application/json", "Stagegate-Timestamp": str(stamp),
            "Stagegate-Signature": sign(secret, stamp, body)})
        response.raise_for_status()
    return len(bodies) / (time.perf_counter() - started)


def raw_floor_rate(url: str, bodies: list, secret: str) -> float:
    """The same loop over the standard library's http.client (one kept-alive connection): a lower floor still."""
    import http.client
    from urllib.parse import urlsplit

    from app.webhooks.delivery import sign

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    started = time.perf_counter()
    for body in bodies:
        stamp = int(time.time())
        conn.request("POST", parts.path, body=body, headers={
            "Content-Type": "application/json", "Stagegate-Timestamp": str(stamp),
            "Stagegate-Signature": sign(secret, stamp, body)})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()
    return len(bodies) / (time.perf_counter() - started)


def main() -> dict:
    from app import create_app
    from app.auth.service import create_organization
    from app.extensions import db
    from app.models import User, WebhookDelivery
    from app.webhooks import service
    from app.webhooks.delivery import send_due
    from app.webhooks.events import emit
    from bench.reports import _schema
    from bench.seed import bench_config, database_url, describe

    url = database_url()
    config = bench_config(url)
    config.ALLOW_INTERNAL_HOSTS = True  # the receiver listens on loopback
    app = create_app(config)
    n = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "2000"))
    server, hook_url = _receiver()
    try:
        with app.app_context():
            _schema(url)
            tag = f"{int(time.time())}-{os.getpid()}"
            org = create_organization(f"Webhook bench {tag}", f"admin-{tag}@bench.example.com",
                                      "bench-password-1", templates=["article"])
            admin = User.query.filter_by(org_id=org.id, role="admin").first()
            hook, secret = service.create_webhook(admin, hook_url, ["deal.updated"])
            hook_id = hook.id
            started = time.perf_counter()
            for i in range(n):
                emit(org.id, "deal.updated", {"deal": {"id": i, "title": f"Deal {i}", "amount": "1000.00"}})
                if i % 100 == 99:
                    db.session.commit()
            db.session.commit()
            emit_s = time.perf_counter() - started
            bodies = [b.encode() for (b,) in db.session.query(WebhookDelivery.body)
                      .filter_by(webhook_id=hook_id).order_by(WebhookDelivery.id)]
            db.session.rollback()
            floor = floor_rate(hook_url, bodies, secret)
            raw_floor = raw_floor_rate(hook_url, bodies, secret)
            before = _Handler.count
            started = time.perf_counter()
            delivered = 0
            while delivered < n:
                got = send_due(limit=n).get("delivered", 0)
                if not got:
                    break
                delivered += got
            ours = delivered / (time.perf_counter() - started)
            assert _Handler.count - before == delivered == n, (delivered, n)
            left = WebhookDelivery.query.filter(WebhookDelivery.webhook_id == hook_id,
                                                WebhookDelivery.status != "delivered").count()
    finally:
        server.shutdown()
        server.server_close()
    pct, raw_pct = 100 * ours / floor, 100 * ours / raw_floor
    verdict = "OK" if pct >= TARGET_PCT else "BELOW TARGET"
    print(f"webhooks on {describe(url)}: {n} events written in {emit_s:.2f} s ({n / emit_s:,.0f}/s); delivered "
          f"{ours:,.0f}/s through send_due vs {floor:,.0f}/s for a bare requests.Session loop = {pct:.1f} % "
          f"[target >= {TARGET_PCT} %: {verdict}] (and {raw_pct:.1f} % of a bare http.client loop's "
          f"{raw_floor:,.0f}/s); undelivered left {left}", flush=True)
    return {"ok": pct >= TARGET_PCT and left == 0, "ours": ours, "floor": floor, "pct": pct,
            "raw_floor": raw_floor, "raw_pct": raw_pct}


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
