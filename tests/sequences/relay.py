"""A real SMTP relay on loopback (aiosmtpd) that answers the way providers do: queue ids, AUTH, refusals, TLS."""

import datetime
import email
import ssl
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

QUEUED = "250 2.0.0 Ok: queued as 4BQ7X1"


class Relay:
    """What a provider's relay says; `messages` holds what it accepted."""

    def __init__(self, refuse_sender: str = "", data_reply: str = QUEUED):
        self.refuse_sender = refuse_sender
        self.data_reply = data_reply
        self.messages = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return self.data_reply


def login_checker(username: str, password: str):
    """An aiosmtpd authenticator accepting one login."""

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == username.encode() \
            and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # handled=True would leave the reply to us

    return check


def self_signed_context(tmp_path) -> ssl.SSLContext:
    """A server TLS context with a certificate no client trusts (what a misconfigured relay has)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "relay.crt", tmp_path / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def start_relay(started: list, handler: Relay | None = None, **controller_options) -> tuple[Relay, int]:
    """Start `handler` on a free loopback port; `started` collects controllers to stop."""
    handler = handler or Relay()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_kwargs={"timeout": 30},
                            **controller_options)
    controller.start()
    started.append(controller)
    return handler, port


@pytest.fixture
def relays():
    """Start relays: relays(handler=None, **aiosmtpd options) -> (handler, port); all stop after the test."""
    started = []

    def start(handler=None, **options):
        return start_relay(started, handler, **options)

    yield start
    for controller in started:
        controller.stop()
