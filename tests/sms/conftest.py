"""SMS fixtures: a fake Twilio (a real HTTP server on loopback speaking the Messages API) and signed webhooks."""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from app.extensions import db
from app.models import Organization
from app.sequences import service

SID = "AC" + "0" * 32
TOKEN = "fake-auth-token-123"
FROM = "+12025550100"


class FakeTwilio:
    """Records every message POSTed to /2010-04-01/Accounts/<sid>/Messages.json and answers as Twilio does.

    `script` maps a To number (or "*") to a list of answers taken one per message (the last repeats):
    an int status (201 makes a message; 400 with `codes[to]`, 429 or 500 an error body).
    """

    def __init__(self, delay: float = 0.0):
        self.messages: list = []  # dicts of the form fields, plus "sid"
        self.refused: list = []
        self.script: dict = {}
        self.codes: dict = {}
        self.delay = delay
        self.auth_failures = 0
        self.auto_callbacks: list = []  # [(MessageStatus, ErrorCode or None)] POSTed, signed, to each StatusCallback
        self.callback_answers: list = []  # the app's HTTP status for each callback POSTed
        self.callbacks_first = False  # POST the callbacks before answering the send (a report beats the record)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fields = dict(parse_qsl(self.rfile.read(length).decode()))
                expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json" or \
                        self.headers.get("Authorization") != expected:
                    fake.auth_failures += 1
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if fake.delay:
                    time.sleep(fake.delay)
                status = fake.next_status(fields.get("To", ""))
                if status == 201:
                    sid = "SM" + uuid.uuid4().hex
                    with fake.lock:
                        fake.messages.append({**fields, "sid": sid})
                    if fake.callbacks_first:
                        fake.call_back(fields, sid)
                        fake.auto_callbacks = []
                    self._answer(201, {"sid": sid, "status": "queued", "to": fields.get("To"),
                                       "from": fields.get("From"), "body": fields.get("Body")})
                    if fake.auto_callbacks and fields.get("StatusCallback"):
                        threading.Thread(target=fake.call_back, args=(fields, sid), daemon=True).start()
                    return None
                code = fake.codes.get(fields.get("To"), 21211 if status == 400 else 20429 if status == 429 else 20500)
                with fake.lock:
                    fake.refused.append({**fields, "status": status, "code": code})
                return self._answer(status, {"code": code, "message": f"refused ({code})", "status": status,
                                             "more_info": f"https://www.twilio.com/docs/errors/{code}"})

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def call_back(self, fields: dict, sid: str) -> None:
        """POST the message's status callbacks, signed as Twilio signs them, to the URL the app gave."""
        url = fields["StatusCallback"]
        for status, code in self.auto_callbacks:
            params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": SID, "From": fields["From"],
                      "To": fields["To"], "MessageStatus": status, "SmsStatus": status, "ApiVersion": "2010-04-01"}
            if code:
                params["ErrorCode"] = str(code)
            request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST", headers={
                "X-Twilio-Signature": twilio_signature(url, params),
                "Content-Type": "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answer = response.status
            except urllib.error.HTTPError as exc:
                answer = exc.code
            with self.lock:
                self.callback_answers.append(answer)

    def next_status(self, to: str) -> int:
        with self.lock:
            plan = self.script.get(to, self.script.get("*", [201]))
            return plan.pop(0) if len(plan) > 1 else plan[0]

    def to(self, number: str) -> list:
        return [m for m in self.messages if m["To"] == number]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def twilio_signature(url: str, params: dict, token: str = TOKEN) -> str:
    """Twilio's documented algorithm, written here apart from the app's: URL + sorted name+value, HMAC-SHA1, base64."""
    payload = url
    for name in sorted(params):
        payload += name + params[name]
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def fake_twilio(app, monkeypatch):
    fake = FakeTwilio()
    for name, value in (("SMS_PROVIDER", "twilio"), ("TWILIO_ACCOUNT_SID", SID), ("TWILIO_AUTH_TOKEN", TOKEN),
                        ("TWILIO_FROM", FROM), ("SMS_PROVIDER_URL", fake.url), ("SMS_WEBHOOK_SECRET", "hook-secret")):
        monkeypatch.setitem(app.config, name, value)
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def _instance_in_tmp(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))


@pytest.fixture
def post_signed(client, app):
    """POST a provider webhook to `path` with a real signature (or `signature=` a wrong one)."""

    def post(path, params, token=TOKEN, signature=None):
        url = app.config["BASE_URL"].rstrip("/") + path
        sig = signature if signature is not None else twilio_signature(url, params, token)
        return client.post(path, data=urlencode(params), headers={"X-Twilio-Signature": sig},
                           content_type="application/x-www-form-urlencoded")

    return post


@pytest.fixture
def texting(fake_twilio, post_signed):
    """Inbound texts and delivery reports as Twilio sends them, to the installation's webhook secret."""

    class Texting:
        def inbound(self, from_number, body, sid=None, **extra):
            params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": SID, "From": from_number,
                      "To": FROM, "Body": body, "NumMedia": "0", **extra}
            return post_signed("/sms/inbound/hook-secret", params)

        def status(self, message_sid, status, code=None):
            params = {"MessageSid": message_sid, "MessageStatus": status, "AccountSid": SID, "To": "", "From": FROM}
            if code:
                params["ErrorCode"] = str(code)
            return post_signed("/sms/status/hook-secret", params)

        def callbacks(self):
            """Deliver each recorded message's status callback to the URL it named, as Twilio would."""
            for message in fake_twilio.messages:
                path = urlsplit(message["StatusCallback"]).path
                yield message, path

    return Texting()


def text_sequence(org, manager, steps=None, **settings):
    """A sequence whose steps are texts (window all day, every day, no spacing) unless `steps` says otherwise."""
    steps = steps or [
        {"type": "sms", "wait_days": 0, "body": "Hi {{first_name}}, {{owner_name}} from {{company}} here."},
        {"type": "sms", "wait_days": 1, "body": "Still there, {{first_name}}?"},
    ]
    values = {"name": "Text outreach", "steps": steps, "send_days": "1234567", "send_start_hour": 0,
              "send_end_hour": 24, "spacing_minutes": 0, **settings}
    return service.save_sequence(manager, values)


def set_zone(org, name):
    db.session.get(Organization, org.id).timezone = name
    db.session.commit()
