"""Sequences fixtures: a real SMTP server on loopback (aiosmtpd), sequences and contacts."""

import asyncio
import email
import socket
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult

from app.extensions import db
from app.models import Company, Contact
from app.sequences import service
from tests import factories


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def make_contact(org, email_address="pat@prospect.example", name="Pat Prospect", company="Prospect Inc"):
    company_row = None
    if company:
        company_row = Company.query.filter_by(org_id=org.id, name=company).first() or Company(org_id=org.id, name=company)
        db.session.add(company_row)
        db.session.flush()
    contact = Contact(org_id=org.id, email=email_address, name=name, company_id=company_row.id if company_row else None)
    db.session.add(contact)
    db.session.commit()
    return contact


@pytest.fixture
def contact(org):
    return make_contact(org)


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


@pytest.fixture
def key_for(org):
    """Authorization headers for a new API key acting as `role` of `org`."""
    from app.auth.service import create_api_key

    def make(role="admin", in_org=None):
        raw, _ = create_api_key(factories.user(in_org or org, role), f"{role} key")
        return {"Authorization": f"Bearer {raw}"}

    return make


@pytest.fixture(autouse=True)
def _outbox_in_tmp(app, tmp_path, monkeypatch):
    """With no SMTP_URL, messages go to <instance>/outbox: keep that inside the test's tmp dir."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
