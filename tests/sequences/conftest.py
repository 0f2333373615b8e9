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
from imapclient import IMAPClient

from app.sequences import service
from tests import factories
from tests.conftest import free_port


class Inbox:
    """What the SMTP server accepted: parsed messages, by recipient."""

    def __init__(self, refuse=(), drop_data_for=(), delay=0.0):
        self.messages = []
        self.refuse = {a.lower() for a in refuse}
        self.drop_data_for = {a.lower() for a in drop_data_for}
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.lower() in self.drop_data_for for r in envelope.rcpt_tos):
            server.transport.abort()  # the connection dies after the data, before the reply
            return None
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def to(self, address):
        return [m for _, rcpts, m in self.messages if address.lower() in (r.lower() for r in rcpts)]


@pytest.fixture
def smtp(app):
    """Start an aiosmtpd server on loopback and point SMTP_URL at it; yields a factory taking Inbox options."""
    started = []

    def start(**options):
        inbox = Inbox(**options)
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, server_kwargs={"timeout": 30})
        controller.start()
        started.append(controller)
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        inbox.url = app.config["SMTP_URL"]
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
