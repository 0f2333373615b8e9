"""How an organisation's outreach email is sent: its relay, public address and footer.

Each organisation's saved settings win over the installation's defaults (SMTP_URL, BASE_URL,
UNSUBSCRIBE_MAILTO) field by field; the relay is one field (host, port, security and login
together), so an organisation's host never receives the installation's password. Nothing
really goes out while a postal address or an https public address is missing.
"""

import ipaddress
import os
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from app import crypto
from app.contacts.service import clean_email
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import OutreachSettings
from app.netguard import HostRefused, check_host
from app.sequences.mailer import InstallationFailure, Outbox, SmtpMailer, SmtpTarget, parse_smtp_url
from app.text import is_text

SECURITY = {"starttls": "STARTTLS", "ssl": "SSL/TLS", "none": "no encryption"}
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
MAILER_SECURITY = {"starttls": "starttls", "ssl": "ssl", "none": "plain"}  # mailer.SmtpTarget's words
MAX_PASSWORD = 1000

ORGANISATION, INSTALLATION = "organisation", "installation"
PASSWORD_UNREADABLE = "The relay's password can no longer be read (the installation's secret key changed): type it again."


@dataclass(frozen=True)
class SendingConfig:
    """What sending for one organisation uses now; `problems` say what stops real sending."""

    smtp: SmtpTarget | None = field(repr=False)  # None: no relay, messages go to the .eml outbox
    base_url: str  # the public address links are built on, no trailing slash
    postal_address: str
    unsubscribe_mailto: str
    problems: tuple[str, ...] = ()  # whole sentences, each naming one thing to set
    relay_source: str = ""  # ORGANISATION, INSTALLATION, or "" when there is no relay at all

    @property
    def ready(self) -> bool:
        """Real sending is possible: a relay, a postal address and an https public address."""
        return not self.problems

    @property
    def held(self) -> bool:
        """A relay is meant to send but something is missing: due emails wait, nothing is sent."""
        return bool(self.relay_source) and not self.ready

    @property
    def mail_domain(self) -> str:
        """The domain of Message-IDs: the public address's host."""
        return _host_of(self.base_url) or "localhost"

    @property
    def relay_name(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}" if self.smtp else ""

    @property
    def where(self) -> str:
        """Where the organisation's email goes now, in words."""
        return where_mail_goes(self)


def settings_row(org_id: int) -> OutreachSettings | None:
    return db.session.execute(select(OutreachSettings).where(OutreachSettings.org_id == org_id)).scalar_one_or_none()


def sending_config(org_id: int) -> SendingConfig:
    """The organisation's sending settings over the installation's defaults; one query, no side effects."""
    row = settings_row(org_id)
    config = current_app.config
    problems = []
    smtp, source = None, ""
    if row is not None and row.relay_host:
        source = ORGANISATION
        password = ""
        if row.relay_username:
            try:
                password = crypto.decrypt(row.relay_password_encrypted or "", crypto.RELAY_PASSWORDS)
            except crypto.Unreadable:
                problems.append(PASSWORD_UNREADABLE)
        smtp = SmtpTarget(row.relay_host, row.relay_port or DEFAULT_PORTS[row.relay_security],
                          MAILER_SECURITY[row.relay_security], row.relay_username, password)
    elif config.get("SMTP_URL"):
        source = INSTALLATION
        try:
            smtp = parse_smtp_url(config["SMTP_URL"])
        except ValueError:
            problems.append("The installation's default relay (SMTP_URL) cannot be read: set up a relay here, "
                            "or ask whoever runs Stagegate to correct SMTP_URL.")
    else:
        problems.append("Set up a relay (its host, port and login): without one nothing is delivered.")
    base_url = ((row.public_url if row is not None else "") or config.get("BASE_URL") or "").rstrip("/")
    problems += _public_url_problems(base_url)
    postal_address = (row.postal_address if row is not None else "") or ""
    if not postal_address.strip():
        problems.append("Add the postal address for the footer: anti-spam laws ask for one in every sales email.")
    mailto = (row.unsubscribe_mailto if row is not None else "") or config.get("UNSUBSCRIBE_MAILTO") \
        or f"unsubscribe@{_host_of(base_url) or 'localhost'}"
    return SendingConfig(smtp, base_url, postal_address, mailto, tuple(problems), source)


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unclosed [ in BASE_URL
        return ""


def _public_url_problems(base_url: str) -> list[str]:
    host = _host_of(base_url)
    if not base_url.lower().startswith("https://") or not host:
        return [f"The public address ({base_url or 'none'}) is not an https address: unsubscribe links must "
                "be https. Set the public https address people open Stagegate at."]
    if host == "localhost" or host.endswith(".localhost") or _is_internal_ip(host):
        return [f"The public address ({base_url}) points at this machine or a private network, so recipients "
                "could not open its unsubscribe links. Set the address people open Stagegate at."]
    return []


def _is_internal_ip(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: not resolved here (sending_config stays cheap)


def where_mail_goes(config: SendingConfig) -> str:
    """Say in words where the organisation's outreach email goes now (no server path, ever)."""
    if not config.relay_source:
        return "No relay is set up: messages are kept in the outbox file store of this installation and not delivered."
    if config.smtp is None:
        return "The relay cannot be read, so nothing is sent: due emails wait until it is fixed."
    relay = f"{config.relay_name} ({SECURITY[_setting_security(config.smtp.security)]})"
    whose = "set up in Settings → Email sending" if config.relay_source == ORGANISATION \
        else "the installation's default relay"
    if config.held:
        return f"Real sending is off: due emails wait, and go out through {relay}, {whose}, once the items below are set."
    return f"Messages are delivered through {relay}, {whose}."


def _setting_security(mailer_security: str) -> str:
    return {v: k for k, v in MAILER_SECURITY.items()}[mailer_security]


def outbox_dir() -> str:
    return os.path.join(current_app.instance_path, "outbox")


# ---------------------------------------------------------------- transports


class HeldMailer:
    """Stands in for the relay while real sending is not allowed: nothing is handed over."""

    def __init__(self, problems: tuple[str, ...]):
        self.problems = problems

    def send(self, message: EmailMessage, sender: str, recipient: str) -> str:
        raise InstallationFailure("Real sending is off until this is set: " + " ".join(self.problems), "settings",
                                  "relay", permanent=True)

    def close(self) -> None:
        pass


class GuardedSmtpMailer(SmtpMailer):
    """An organisation's relay: its host is checked against netguard before every connection."""

    def _connect(self) -> smtplib.SMTP:
        try:
            check_host(self.target.host, self.target.port)
        except HostRefused as exc:  # the name now points inside the network: an admin must fix it
            raise InstallationFailure(str(exc), "connect", "connection", permanent=True) from None
        return super()._connect()


def org_transport(org_id: int, config: SendingConfig | None = None):
    """The mailer for the organisation's config: its relay, the installation's, the outbox, or held."""
    config = config or sending_config(org_id)
    if config.held:
        return HeldMailer(config.problems)
    if config.smtp is None:
        return Outbox(outbox_dir())
    if config.relay_source == ORGANISATION:
        return GuardedSmtpMailer(config.smtp)
    return SmtpMailer(config.smtp)


# ---------------------------------------------------------------- saving


def _text(values: dict, name: str, label: str, errors: dict, limit: int) -> str:
    """A trimmed text field; control characters and bytes that were not UTF-8 (read as U+FFFD) refused."""
    value = values.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if len(value) > limit:
        errors[name] = f"The {label} must be at most {limit:,} characters."
    elif not is_text(value) or any(c < " " and c not in "\r\n\t" for c in value):
        errors[name] = f"The {label} contains characters that are not valid text."
    return value


def _host_name(raw: str) -> str:
    """`raw` as an ASCII host name or IP address; "" when it is neither."""
    host = raw.rstrip(".")
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return ""
    labels = host.split(".")
    if not host or len(host) > 253 or not all(
            label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum() for label in labels):
        return ""
    return host


def _port(raw, errors: dict) -> int | None:
    raw = raw.strip() if isinstance(raw, str) else ""
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 65535:
        errors["relay_port"] = "The port must be a number from 1 to 65535 (587 for STARTTLS, 465 for SSL/TLS)."
        return None
    return int(raw)


def _public_url(raw: str, errors: dict) -> str:
    if not raw:
        return ""
    try:
        parts = urlsplit(raw)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme.lower() not in ("http", "https") or not _host_name(parts.hostname or "") \
            or not port_ok or parts.username or parts.password or parts.query or parts.fragment or any(c.isspace() for c in raw):
        errors["public_url"] = ("Type the address people open Stagegate at, like https://crm.example.com "
                                "(no spaces, no ?query or #part).")
    elif parts.scheme.lower() != "https":
        errors["public_url"] = ("The public address must start with https://, like https://crm.example.com: "
                                "links in email must be https.")
    return raw.rstrip("/")


def save_sending_settings(actor, values: dict) -> OutreachSettings:
    """Save the relay, the public address, the footer's postal address and the unsubscribe mailbox (admins).

    An empty relay host means the installation's default relay. The saved password is kept
    when none is typed, unless the host changed: it is only ever sent to the host it was saved for.
    """
    if not actor.has_role("admin"):
        raise Forbidden("Only admins change the email sending settings.")
    errors: dict = {}
    host = _text(values, "relay_host", "relay host", errors, 253)
    security = values.get("relay_security") or "starttls"
    if security not in SECURITY:
        errors["relay_security"] = "Choose STARTTLS, SSL/TLS or none."
        security = "starttls"
    port = _port(values.get("relay_port"), errors)
    username = _text(values, "relay_username", "username", errors, 254)
    password = values.get("relay_password")
    password = password if isinstance(password, str) else ""
    if len(password) > MAX_PASSWORD or "\x00" in password or any(0xD800 <= ord(c) <= 0xDFFF for c in password):
        errors["relay_password"] = "The password is too long or contains characters that are not valid text."
    public_url = _public_url(_text(values, "public_url", "public address", errors, 300), errors)
    postal_address = _text(values, "postal_address", "postal address", errors, 300)
    mailto = _text(values, "unsubscribe_mailto", "unsubscribe address", errors, 254)
    if mailto and "unsubscribe_mailto" not in errors:
        try:
            mailto = clean_email(mailto)
        except Invalid:
            errors["unsubscribe_mailto"] = "Type an email address like unsubscribe@example.com, or leave it empty."
    row = settings_row(actor.org_id)
    if host and "relay_host" not in errors:
        host = _host_name(host) or host
        if not _host_name(host):
            errors["relay_host"] = "Type the relay's host name only, like smtp.example.com (no smtp:// and no port)."
    if host and "relay_host" not in errors and "relay_port" not in errors:
        try:
            check_host(host, port or DEFAULT_PORTS[security])
        except HostRefused as exc:
            errors["relay_host"] = str(exc)
    if not host and (username or password):
        errors["relay_host"] = "Type the relay's host name, or leave the login empty too."
    if password and not username:
        errors["relay_username"] = "Type the username that goes with the password."
    stored = row.relay_password_encrypted if row is not None and row.relay_host else ""
    same_host = row is not None and (row.relay_host or "").lower() == host.lower()
    if host and username and not password and "relay_host" not in errors:
        if not stored:
            errors["relay_password"] = "Type the relay's password."
        elif not same_host:
            errors["relay_password"] = ("Type the password again: the relay's host changed, and a saved password "
                                        "is only ever sent to the host it was saved for.")
    if errors:
        raise Invalid(errors, "Nothing was saved: check the highlighted fields.")
    if row is None:
        row = OutreachSettings(org_id=actor.org_id)
        db.session.add(row)
    row.postal_address, row.public_url, row.unsubscribe_mailto = postal_address, public_url, mailto
    row.relay_host, row.relay_port, row.relay_security = host, port if host else None, security
    row.relay_username = username if host else ""
    if not host or not username:
        row.relay_password_encrypted = ""
    elif password:
        row.relay_password_encrypted = crypto.encrypt(password, crypto.RELAY_PASSWORDS)
    db.session.commit()
    return row


def form_values(org_id: int) -> dict:
    """The settings as the form shows them (never the password)."""
    row = settings_row(org_id)
    if row is None:
        return {"relay_security": "starttls"}
    return {"relay_host": row.relay_host or "", "relay_port": str(row.relay_port or ""),
            "relay_security": row.relay_security or "starttls", "relay_username": row.relay_username or "",
            "public_url": row.public_url or "", "postal_address": row.postal_address or "",
            "unsubscribe_mailto": row.unsubscribe_mailto or "", "has_password": bool(row.relay_password_encrypted)}
