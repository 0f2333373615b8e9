"""Sequences fixtures: a real SMTP server on loopback (aiosmtpd), sequences and contacts."""

import asyncio
import email
import subprocess
import sys
import threading
import time
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult
from imapclient import IMAPClient
from sqlalchemy import select

from app.sequences import service
from tests import factories
from tests.conftest import free_port


class Inbox:
    """What the SMTP server accepted (parsed messages by recipient, and the raw bytes), and how it misbehaves.

    `mail_from`, `rcpt` and `data` script the server's answer at MAIL FROM, at RCPT TO and at
    the end of DATA. Each maps an address (the sender at MAIL FROM, the recipient otherwise) or
    "*" to what happens: a reply line ("550 5.7.1 Sender address rejected"), "stall" (no answer
    for `stall` seconds), "drop" (the connection dies), or a list of these taken one per
    attempt (the last one repeats). A 2xx at the end of DATA delivers the message.
    """

    def __init__(self, refuse=(), drop_data_for=(), delay=0.0, mail_from=None, rcpt=None, data=None, stall=5.0):
        self.messages = []
        self.raw = []  # (mail_from, rcpt_tos, envelope.content) exactly as received
        self.attempts = []  # (command, address) for every MAIL FROM and RCPT TO the server saw
        self.sessions = set()  # one per connection that delivered a message
        self.script = {"MAIL": dict(mail_from or {}), "RCPT": dict(rcpt or {}), "DATA": dict(data or {})}
        for address in refuse:
            self.script["RCPT"][address] = "550 5.1.1 No such user here"
        for address in drop_data_for:
            self.script["DATA"][address] = "drop"
        self.delay = delay
        self.stall = stall
        self.used: dict = {}
        self.lock = threading.Lock()

    def _scripted(self, command, address):
        table = self.script[command]
        key = address.lower() if address.lower() in {k.lower() for k in table} else "*"
        plan = next((v for k, v in table.items() if k.lower() == key), None)
        if isinstance(plan, list):
            with self.lock:
                turn = self.used.get((command, key), 0)
                self.used[(command, key)] = turn + 1
            plan = plan[min(turn, len(plan) - 1)]
        return plan

    async def _act(self, server, plan, default):
        if plan == "drop":
            server.transport.abort()
            return "421 4.3.0 gone"
        if plan == "stall":
            await asyncio.sleep(self.stall)
            return default
        return plan or default

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.attempts.append(("MAIL", address))
        reply = await self._act(server, self._scripted("MAIL", address), "250 OK")
        if reply.startswith("2"):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts.append(("RCPT", address))
        reply = await self._act(server, self._scripted("RCPT", address), "250 OK")
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        plan = self._scripted("DATA", envelope.rcpt_tos[0]) if envelope.rcpt_tos else None
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = await self._act(server, plan, "250 2.0.0 Ok: queued as 4F2C1")
        if not reply.startswith("2"):
            return reply
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
            self.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            self.sessions.add(id(session))
        return reply

    def to(self, address):
        return [m for _, rcpts, m in self.messages if address.lower() in (r.lower() for r in rcpts)]


def _give_every_org_a_postal_address():
    from app.extensions import db
    from app.models import Organization, OutreachSettings

    for org_id in db.session.execute(select(Organization.id)).scalars():
        row = OutreachSettings.query.filter_by(org_id=org_id).first() or OutreachSettings(org_id=org_id)
        row.postal_address = row.postal_address or "1 Test Street, Testville"
        db.session.add(row)
    db.session.commit()


@pytest.fixture
def smtp(app):
    """Start an aiosmtpd server on loopback and point SMTP_URL at it; yields a factory taking Inbox options."""
    started = []

    def start(port=None, password=None, **options):
        """Serve on `port` (default: a free one); with `password`, demand AUTH as user "relay"."""
        inbox = Inbox(**options)
        port = port or free_port()
        auth = {}
        if password is not None:
            def check(server, session, envelope, mechanism, auth_data):
                ok = getattr(auth_data, "password", b"") == password.encode()
                return AuthResult(success=ok, handled=False)

            auth = {"authenticator": check, "auth_require_tls": False, "auth_required": True}
        controller = Controller(inbox, hostname="127.0.0.1", port=port, server_kwargs={"timeout": 30}, **auth)
        controller.start()
        started.append(controller)
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        inbox.url = app.config["SMTP_URL"]
        _give_every_org_a_postal_address()  # with a relay, real sending needs one (and the https BASE_URL)
        return inbox

    previous = app.config.get("SMTP_URL", "")
    yield start
    app.config["SMTP_URL"] = previous
    for controller in started:
        controller.stop()


assert SMTPServer  # aiosmtpd's server class is what the Controller runs


@pytest.fixture
def rep(org):
    return factories.user(org, "rep")


@pytest.fixture
def manager(org):
    return factories.user(org, "manager")


@pytest.fixture
def contact(org):
    return factories.make_contact(org)


def make_sequence(org, manager_user=None, steps=None, **settings):
    steps = steps or [
        {"type": "email", "wait_days": 0, "subject": "Hello {{first_name}}", "body": "Hi {{first_name}} at {{company}}.\n{{owner_name}}"},
        {"type": "email", "wait_days": 3, "subject": "Following up", "body": "Any thoughts, {{first_name}}?"},
        {"type": "call", "wait_days": 2, "body": "Call {{name}}"},
    ]
    values = {"name": "Cold outreach", "steps": steps, "send_days": "1234567", "send_start_hour": 0,
              "send_end_hour": 24, "spacing_minutes": 0, **settings}
    return service.save_sequence(manager_user or factories.user(org, "manager"), values)


@pytest.fixture
def sequence(org, manager):
    return make_sequence(org, manager)


@pytest.fixture(autouse=True)
def _outbox_in_tmp(app, tmp_path, monkeypatch):
    """With no SMTP_URL, messages go to <instance>/outbox: keep that inside the test's tmp dir."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))


@pytest.fixture(autouse=True)
def _org_can_send(request):
    """The test org has a postal address, so a relay (SMTP_URL) is enough for real sending.

    Without one, sending is held (test_mail_settings checks that); tests that point SMTP_URL
    at a dead port before starting the server still mean "the relay is down", not "held".
    A module that tests the settings themselves sets ORG_STARTS_BLANK = True.
    """
    if "org" in request.fixturenames and not getattr(request.module, "ORG_STARTS_BLANK", False):
        request.getfixturevalue("org")
        _give_every_org_a_postal_address()


DSN = """From: MAILER-DAEMON@mx.example
To: rep@agency.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <{tag}@mx.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {to}
Action: failed
Status: 5.1.1

--B
Content-Type: text/rfc822-headers

Message-ID: {mid}
Subject: Hello

--B--
"""


def dsn(tag: str, to: str, mid: str) -> bytes:
    """A delivery status report (bounce) naming `to` as the failed recipient of our message `mid`."""
    return DSN.format(tag=tag, to=to, mid=mid).replace("\n", "\r\n").encode("utf-8", "surrogateescape")


IMAP_USER, IMAP_PASSWORD = "rae", "s3cret-imap"


def start_pymap() -> tuple[subprocess.Popen, int]:
    """Start a real IMAP server (pymap, in-memory, with its demo messages) on a free loopback port."""
    port = free_port()
    pymap = Path(sys.executable).with_name("pymap")
    process = subprocess.Popen([str(pymap), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict",
                                "--demo-data", "--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            IMAPClient("127.0.0.1", port=port, ssl=False, timeout=2).logout()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("pymap did not start")
            time.sleep(0.1)


@pytest.fixture
def imap_server():
    process, port = start_pymap()
    yield port
    process.terminate()
    process.wait(10)


def deliver(port, *raws: bytes) -> list[int]:
    """APPEND messages to the inbox as a mail server would deliver them; return their UIDs."""
    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=5)
    client.login(IMAP_USER, IMAP_PASSWORD)
    uids = []
    for raw in raws:
        answer = client.append("INBOX", raw)
        uids.append(int(answer.split(b"APPENDUID", 1)[1].split()[1].rstrip(b"]")))
    client.logout()
    return uids
