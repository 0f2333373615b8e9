"""A real HTTP endpoint on loopback that checks Stagegate's signatures the way README.md tells receivers to."""

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """README's recipe: HMAC-SHA256 of "<timestamp>.<raw body>", compared in constant time, timestamp fresh."""
    timestamp = headers.get("Stagegate-Timestamp", "")
    expected = "v1=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return (timestamp.isdigit() and abs(time.time() - int(timestamp)) <= tolerance
            and hmac.compare_digest(expected, headers.get("Stagegate-Signature", "")))


class Receiver:
    """Answers each POST with the next scripted action (then 200): an int status, ("status", code, headers,
    body), "drop" (close without answering), ("stall", seconds), "redirect"."""

    def __init__(self):
        self.secret = ""
        self.script: list = []
        self.delay = 0.0  # seconds before each answer
        self.received: list = []  # dicts: event (parsed body), verified, action
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait per answer

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    action = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append({"event": json.loads(body), "verified": verify(receiver.secret,
                                              self.headers, body), "action": action, "headers": dict(self.headers)})
                if receiver.delay:
                    time.sleep(receiver.delay)
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(action, tuple) and action[0] == "stall":
                    time.sleep(action[1])
                    self.close_connection = True
                    return
                if action == "redirect":
                    action = ("status", 302, {"Location": "http://127.0.0.1:1/elsewhere"}, b"")
                if isinstance(action, int):
                    action = ("status", action, {}, b"ok" if action < 300 else b"no")
                _, code, headers, answer = action
                self.send_response(code)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list:
        return [r["event"] for r in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
