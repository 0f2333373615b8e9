"""Delivering one message: SMTP (SMTP_URL) or, with none configured, .eml files in instance/outbox/.

`send` returns the relay's answer to the message (only a 250 there is a delivery) or raises
what the caller must do next, because a message that may have left must never be sent again:

- Deferred: a 4xx for this recipient or message; nothing was accepted, try it again later.
- Refused: a 5xx for this recipient or message; `address_gone` when the address itself does
  not exist (RCPT 5.1.x): only then is the address a bounce to suppress.
- InstallationFailure: the relay would not take mail from us at all (connection, TLS,
  authentication, the sender refused, a relay that stops answering); nothing was handed
  over, and no recipient is to blame. `whole_relay` says whether every sender is affected.
- Unknown: the conversation broke during or after the message: it may have been delivered.
"""

import contextlib
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "ssl"}
TIMEOUT = 30
# SMTP wants CRLF line ends (relays refuse bare LF since the SMTP-smuggling fixes) and 7-bit
# bodies unless 8BITMIME was negotiated. Headers set whole (List-Unsubscribe) are written as set.
SMTP_POLICY = policy.SMTP.clone(cte_type="7bit", refold_source="none")

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})\b")
# Words in a refusal that blame the installation, not the recipient (Postfix, Exim, Exchange wording).
_RELAY_WORDS = ("relay access denied", "relaying denied", "not permitted to relay", "client host",
                "authentication", "not authenticated", "helo command rejected")
_SENDER_WORDS = ("sender address", "sender domain", "sender rejected", "sender verify", "sender not")


class SendFailure(Exception):
    """A send that did not end in a 250; `reply` is the relay's answer (or what broke), `stage` where."""

    def __init__(self, reply: str, stage: str = ""):
        super().__init__(reply)
        self.reply = reply[:300]
        self.stage = stage


class Deferred(SendFailure):
    """A 4xx for this recipient or message: nothing was accepted; try again later."""


class Refused(SendFailure):
    """A 5xx for this recipient or message; `address_gone` when the mailbox does not exist."""

    def __init__(self, reply: str, stage: str = "", address_gone: bool = False):
        super().__init__(reply, stage)
        self.address_gone = address_gone


class InstallationFailure(SendFailure):
    """The relay takes no mail from us: nothing was handed over and no recipient is to blame."""

    def __init__(self, reply: str, stage: str, kind: str, permanent: bool, whole_relay: bool = True):
        super().__init__(reply, stage)
        self.kind = kind  # sender | connection | timeout | tls | auth | relay
        self.permanent = permanent  # it will not pass by itself: wait for someone to resume
        self.whole_relay = whole_relay  # every sender, not just this From


class Unknown(SendFailure):
    """The conversation broke during or after the message: it may have been delivered."""

    def __init__(self, reply: str, stage: str = "DATA", stalled: bool = False):
        super().__init__(reply, stage)
        self.stalled = stalled  # the relay stopped answering (not a dropped line)


class _Stale(Exception):
    """A reused connection turned out closed before the message began: open a new one and try once more."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)  # never in a log line or a traceback


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


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire: CRLF line ends, 7-bit, headers folded by RFC 5322."""
    return message.as_bytes(policy=SMTP_POLICY)


class Outbox:
    """The embedded default: each message becomes instance/outbox/<message id>.eml."""

    def __init__(self, directory: str):
        self.directory = directory

    def send(self, message: EmailMessage, sender: str, recipient: str) -> str:
        name = "".join(c if c.isalnum() or c in ".-_" else "_" for c in message["Message-ID"].strip("<>")) + ".eml"
        try:
            os.makedirs(self.directory, exist_ok=True)
            with open(os.path.join(self.directory, name), "xb") as handle:
                handle.write(wire_bytes(message))
        except FileExistsError:
            pass
        except OSError as exc:
            raise InstallationFailure(f"The outbox folder could not be written ({exc.strerror}).", "outbox",
                                      "relay", permanent=False) from exc
        return f"Kept in the outbox as {name}: no relay is set up, so it was not delivered."

    def close(self) -> None:
        pass


class SmtpMailer:
    """One SMTP connection reused for a batch; a new one after any failure."""

    def __init__(self, target: SmtpTarget):
        self.target = target
        self.connection: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, sender: str, recipient: str) -> str:
        data = wire_bytes(message)
        if self.connection is not None:
            try:
                return self._transaction(data, sender, recipient)
            except _Stale:
                self._drop()  # the relay closed the idle connection: that is no failure of ours
        try:
            return self._transaction(data, sender, recipient)
        except _Stale as exc:
            raise InstallationFailure(str(exc), "MAIL FROM", "connection", permanent=False) from None

    def _transaction(self, data: bytes, sender: str, recipient: str) -> str:
        conn = self.connection or self._connect()
        stage = "MAIL FROM"
        try:
            code, text = _answer(conn.mail(sender))
            if code != 250:
                self._reset()
                if code == 421:
                    raise _Stale(f"{code} {text}")
                raise _installation(code, text, stage, default_scope="sender")
            stage = "RCPT TO"
            code, text = _answer(conn.rcpt(recipient))
            if code not in (250, 251):
                self._reset()
                raise _refusal(code, text, stage)
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if _timed_out(exc):
                raise InstallationFailure(f"The relay stopped answering (no reply within {TIMEOUT} s at {stage}).",
                                          stage, "timeout", permanent=False) from None
            raise _Stale(f"The relay closed the connection at {stage} ({exc}).") from None
        try:
            code, text = _answer(conn.data(data))
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing of the message was sent
            self._reset()
            raise _refusal(exc.smtp_code, _text(exc.smtp_error), "DATA") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if _timed_out(exc):
                raise Unknown(f"No answer within {TIMEOUT} s after the message.", stalled=True) from None
            raise Unknown(f"The connection broke during the message ({exc}).") from None
        if code != 250:
            self._reset()
            raise _refusal(code, text, "end of DATA")
        return f"{code} {text}"[:300]

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        stage = "connect"
        conn = None
        try:
            context = ssl.create_default_context()
            if t.security == "ssl":
                stage = "TLS"
                conn = smtplib.SMTP_SSL(t.host, t.port, timeout=TIMEOUT, context=context)
            else:
                conn = smtplib.SMTP(t.host, t.port, timeout=TIMEOUT)
            stage = "EHLO"
            conn.ehlo_or_helo_if_needed()
            if t.security == "starttls":
                stage = "STARTTLS"
                conn.starttls(context=context)
                conn.ehlo()
            if t.username:
                stage = "AUTH"
                conn.login(t.username, t.password)
        except smtplib.SMTPAuthenticationError as exc:
            _close(conn)
            code, text = exc.smtp_code, _text(exc.smtp_error)
            raise InstallationFailure(f"The relay refused the SMTP user name or password: {code} {text}", stage,
                                      "auth", permanent=code >= 500) from None
        except smtplib.SMTPNotSupportedError as exc:
            _close(conn)
            raise InstallationFailure(f"The relay does not offer {stage} ({exc}).", stage,
                                      "tls" if stage == "STARTTLS" else "auth", permanent=True) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            _close(conn)
            raise InstallationFailure(f"TLS with the relay failed: {exc}", stage, "tls", permanent=True) from None
        except smtplib.SMTPResponseException as exc:  # a greeting, EHLO or STARTTLS answer other than OK
            _close(conn)
            code, text = exc.smtp_code, _text(exc.smtp_error)
            raise InstallationFailure(f"The relay answered {code} {text} at {stage}.", stage,
                                      "auth" if stage == "AUTH" else "relay", permanent=code >= 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close(conn)
            if _timed_out(exc):
                raise InstallationFailure(f"The relay {t.host}:{t.port} did not answer within {TIMEOUT} s ({stage}).",
                                          stage, "timeout", permanent=False) from None
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise InstallationFailure(f"Could not connect to the relay {t.host}:{t.port} ({why}).", stage,
                                      "connection", permanent=False) from None
        self.connection = conn
        return conn

    def _reset(self) -> None:
        try:
            self.connection.rset()
        except (OSError, smtplib.SMTPException, AttributeError):
            self._drop()

    def _drop(self) -> None:
        _close(self.connection)
        self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.quit()
        self._drop()


def _close(conn) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()


def _timed_out(exc: BaseException) -> bool:
    """smtplib reports a read that timed out as a closed connection: look underneath."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def _text(reply) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:250]


def _answer(pair) -> tuple[int, str]:
    code, reply = pair
    return code, _text(reply)


def _blame(code: int, text: str) -> str | None:
    """Whose failure a refusal is: 'relay' (every sender), 'sender' (this From), or None (the recipient's)."""
    lowered = text.lower()
    enhanced = _ENHANCED.match(text)
    subject = enhanced.group(2, 3) if enhanced else None
    if code in (421, 530, 454) or any(w in lowered for w in _RELAY_WORDS):
        return "relay"
    if subject in (("1", "7"), ("1", "8")) or any(w in lowered for w in _SENDER_WORDS):
        return "sender"
    return None


def _installation(code: int, text: str, stage: str, default_scope: str) -> InstallationFailure:
    scope = _blame(code, text) or default_scope
    kind = "auth" if "auth" in text.lower() else ("sender" if scope == "sender" else "relay")
    who = "the sender address" if scope == "sender" else "mail from this installation"
    return InstallationFailure(f"The relay refused {who} at {stage}: {code} {text}", stage, kind,
                               permanent=code >= 500, whole_relay=scope == "relay")


def _refusal(code: int, text: str, stage: str) -> SendFailure:
    """Classify a refusal at RCPT TO or of the message: the installation's, temporary, or permanent."""
    if _blame(code, text) or not 400 <= code < 600:
        return _installation(code, text, stage, default_scope="relay")
    reply = f"{code} {text}"
    if code < 500:
        return Deferred(reply, stage)
    enhanced = _ENHANCED.match(text)
    gone = stage == "RCPT TO" and (enhanced.group(2) == "1" if enhanced else code in (550, 551, 553))
    return Refused(reply, stage, address_gone=gone)
