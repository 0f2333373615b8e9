"""Delivering one message: SMTP (SMTP_URL) or, with none configured, .eml files in instance/outbox/.

The caller needs to know how far a failed attempt got, because a message that may have
left must never be sent again: NotSent (safe to retry later), Refused (the server
refused the recipient: a bounce), Unknown (the connection died during DATA).
"""

import contextlib
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "ssl"}
TIMEOUT = 30


class NotSent(Exception):
    """Nothing was handed over (no connection, a temporary refusal): retry later."""


class Refused(Exception):
    """The server permanently refused the recipient or sender (5xx before DATA)."""


class Unknown(Exception):
    """The conversation broke during or after DATA: the message may have been delivered."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str
    username: str
    password: str


def parse_smtp_url(url: str) -> SmtpTarget:
    """Read smtp://host:port, smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://host:25, smtp+starttls://user:pass@host:587 "
                         "or smtps://user:pass@host:465")
    security = SCHEMES[parts.scheme]
    default_port = {"plain": 25, "starttls": 587, "ssl": 465}[security]
    return SmtpTarget(parts.hostname, parts.port or default_port, security,
                      unquote(parts.username or ""), unquote(parts.password or ""))


def describe_transport(smtp_url: str, outbox: str) -> str:
    """Say in words where outreach email goes (the sequences page shows it)."""
    if not smtp_url:
        return f"No SMTP_URL is set: messages are written as .eml files to {outbox} instead of being sent."
    try:
        target = parse_smtp_url(smtp_url)
    except ValueError as exc:
        return f"SMTP_URL is not valid ({exc}); nothing can be sent until it is fixed."
    return f"Messages are sent through {target.host}:{target.port} ({target.security})."


class Outbox:
    """The embedded default: each message becomes instance/outbox/<message id>.eml."""

    def __init__(self, directory: str):
        self.directory = directory

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        os.makedirs(self.directory, exist_ok=True)
        name = "".join(c if c.isalnum() or c in ".-_" else "_" for c in message["Message-ID"].strip("<>"))
        path = os.path.join(self.directory, name + ".eml")
        try:
            with open(path, "xb") as handle:
                handle.write(bytes(message))
        except FileExistsError:
            return
        except OSError as exc:
            raise NotSent(f"could not write {path}: {exc}") from exc

    def close(self) -> None:
        pass


class SmtpMailer:
    """One SMTP connection reused for a batch; reconnects after any failure."""

    def __init__(self, target: SmtpTarget):
        self.target = target
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        context = ssl.create_default_context()
        if t.security == "ssl":
            conn = smtplib.SMTP_SSL(t.host, t.port, timeout=TIMEOUT, context=context)
        else:
            conn = smtplib.SMTP(t.host, t.port, timeout=TIMEOUT)
        conn.ehlo()
        if t.security == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
        if t.username:
            conn.login(t.username, t.password)
        return conn

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        try:
            if self.connection is None:
                self.connection = self._connect()
            conn = self.connection
            code, reply = conn.mail(sender)
            if code != 250:
                self._reset()
                raise (Refused if 500 <= code < 600 else NotSent)(f"MAIL FROM: {code} {_text(reply)}")
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                raise (Refused if 500 <= code < 600 else NotSent)(f"RCPT TO {recipient}: {code} {_text(reply)}")
        except (Refused, NotSent):
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        try:
            code, reply = conn.data(bytes(message))
        except smtplib.SMTPDataError as exc:  # a clean refusal of the content: nothing was accepted
            self._reset()
            raise (Refused if 500 <= exc.smtp_code < 600 else NotSent)(f"DATA: {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise Unknown(f"connection lost during DATA: {type(exc).__name__}: {exc}") from exc

    def _reset(self) -> None:
        try:
            self.connection.rset()
        except (OSError, smtplib.SMTPException, AttributeError):
            self._drop()

    def _drop(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError):
                self.connection.close()
        self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
        self.connection = None


def _text(reply) -> str:
    return reply.decode("utf-8", "replace")[:200] if isinstance(reply, bytes) else str(reply)[:200]


def make_mailer(smtp_url: str, outbox_dir: str):
    """Return the transport the configuration asks for."""
    if not smtp_url:
        return Outbox(outbox_dir)
    return SmtpMailer(parse_smtp_url(smtp_url))
