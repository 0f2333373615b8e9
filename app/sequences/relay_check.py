"""Send a test message": one short email through the organisation's relay now, and the relay's own answer.

Every way the SMTP conversation can end becomes one sentence an admin can act on: the relay's
250 with its queue id, or the code and text it refused with; "Could not connect to host:port"
for every connection failure; never a stack trace or an internal detail.
"""

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from app.contacts.service import clean_email
from app.errors import Forbidden, Invalid
from app.netguard import HostRefused, check_host
from app.sequences.mail_settings import (
    ORGANISATION,
    PASSWORD_UNREADABLE,
    sending_config,
    where_mail_goes,
)
from app.sequences.mailer import SmtpTarget

TEST_TIMEOUT = 10  # seconds: an admin is waiting for the page


@dataclass(frozen=True)
class RelayAnswer:
    """What the relay said to the test message, in words an admin can act on."""

    accepted: bool
    text: str


def recipient_for_test(actor, to_address) -> str:
    """The address a test message goes to: the one typed, else the admin's own."""
    if not actor.has_role("admin"):
        raise Forbidden("Only admins send test messages.")
    try:
        return clean_email(to_address if isinstance(to_address, str) and to_address.strip() else actor.email)
    except Invalid:
        raise Invalid({"test_to": "Type the email address to send the test message to, like you@example.com."},
                      "The test message was not sent.") from None


def send_test_message(actor, to_address) -> RelayAnswer:
    """Send one short message through the organisation's relay now and report the relay's own answer."""
    recipient = recipient_for_test(actor, to_address)
    config = sending_config(actor.org_id)
    if config.smtp is None:
        return RelayAnswer(False, where_mail_goes(config) + " There is no relay to test.")
    if PASSWORD_UNREADABLE in config.problems:
        return RelayAnswer(False, PASSWORD_UNREADABLE)
    target = config.smtp
    if config.relay_source == ORGANISATION:
        try:
            check_host(target.host, target.port)
        except HostRefused as exc:
            return RelayAnswer(False, str(exc))
    message = EmailMessage()
    message["From"] = formataddr((actor.name, actor.email))
    message["To"] = recipient
    message["Subject"] = "Stagegate test message"
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring="sgtest", domain=config.mail_domain)
    message.set_content(f"{actor.name} sent this from Stagegate to check that {target.host} delivers "
                        "the organisation's email. Nothing else needs doing.\n")
    return _converse(target, actor.email, recipient, message)


def _reply(code: int, text) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split())  # multi-line replies read as one line
    return f"{code} {''.join(c for c in text if c.isprintable())}".strip()[:300]


def _converse(target: SmtpTarget, sender: str, recipient: str, message: EmailMessage) -> RelayAnswer:
    where = f"{target.host}:{target.port}"
    context = ssl.create_default_context()
    try:
        if target.security == "ssl":
            conn = smtplib.SMTP_SSL(target.host, target.port, timeout=TEST_TIMEOUT, context=context)
        else:
            conn = smtplib.SMTP(target.host, target.port, timeout=TEST_TIMEOUT)
    except smtplib.SMTPConnectError as exc:  # it answered, with a refusal
        return RelayAnswer(False, f"The relay at {where} refused the connection: {_reply(exc.smtp_code, exc.smtp_error)}")
    except ssl.SSLError as exc:
        return RelayAnswer(False, _tls_failed(where, exc))
    except (OSError, smtplib.SMTPException):
        return RelayAnswer(False, f"Could not connect to {where}.")
    conversation = _Conversation(conn, where)
    try:
        return conversation.run(target, sender, recipient, message, context)
    finally:
        conversation.end()


class _Conversation:
    """One test message's SMTP dialogue; every way it can end becomes a sentence."""

    def __init__(self, conn: smtplib.SMTP, where: str):
        self.conn, self.where, self.step, self.broken = conn, where, "EHLO", False

    def run(self, target, sender, recipient, message, context) -> RelayAnswer:
        try:
            return self._dialogue(target, sender, recipient, message, context)
        except smtplib.SMTPAuthenticationError as exc:
            return RelayAnswer(False, f"The relay refused the login: {_reply(exc.smtp_code, exc.smtp_error)}")
        except smtplib.SMTPResponseException as exc:
            return RelayAnswer(False, f"The relay refused {self.step}: {_reply(exc.smtp_code, exc.smtp_error)}")
        except smtplib.SMTPServerDisconnected:
            self.broken = True
            return RelayAnswer(False, f"The relay at {self.where} closed the connection during {self.step}.")
        except smtplib.SMTPException as exc:  # smtplib's own refusal, e.g. no login method in common
            return RelayAnswer(False, f"The relay at {self.where} could not be used for {self.step}: {exc}")
        except ssl.SSLError as exc:
            self.broken = True
            return RelayAnswer(False, _tls_failed(self.where, exc))
        except TimeoutError:
            self.broken = True
            return RelayAnswer(False, f"The relay at {self.where} did not answer {self.step} within "
                                      f"{TEST_TIMEOUT} seconds.")
        except OSError:  # reset, broken pipe: smtplib's exceptions are OSErrors too, so this comes last
            self.broken = True
            return RelayAnswer(False, f"The relay at {self.where} closed the connection during {self.step}.")

    def _dialogue(self, target, sender, recipient, message, context) -> RelayAnswer:
        conn, where = self.conn, self.where
        code, text = conn.ehlo()
        if code != 250:
            return RelayAnswer(False, f"The relay refused EHLO: {_reply(code, text)}")
        if target.security == "starttls":
            self.step = "STARTTLS"
            if not conn.has_extn("starttls"):
                return RelayAnswer(False, f"The relay at {where} does not offer STARTTLS: choose SSL/TLS or none.")
            conn.starttls(context=context)
            conn.ehlo()
        if target.username:
            self.step = "the login"
            if not conn.has_extn("auth"):
                return RelayAnswer(False, f"The relay at {where} does not offer a login (AUTH) on this connection: "
                                          "choose STARTTLS or SSL/TLS, or leave the username empty.")
            conn.login(target.username, target.password)
        self.step = "MAIL FROM"
        code, text = conn.mail(sender)
        if code != 250:
            return RelayAnswer(False, f"The relay refused the sender {sender}: {_reply(code, text)}")
        self.step = "RCPT TO"
        code, text = conn.rcpt(recipient)
        if code not in (250, 251):
            return RelayAnswer(False, f"The relay refused the recipient {recipient}: {_reply(code, text)}")
        self.step = "DATA"
        code, text = conn.data(bytes(message))
        return RelayAnswer(True, f"The relay accepted the test message for {recipient}: {_reply(code, text)}")

    def end(self) -> None:
        """Say QUIT when the relay is still listening; just hang up when it is not."""
        if not self.broken:
            try:
                self.conn.quit()
                return
            except (OSError, smtplib.SMTPException):
                pass
        self.conn.close()


def _tls_failed(where: str, exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS with {where} failed: the relay's certificate could not be verified ({exc.verify_message})."
    return f"TLS with {where} failed: the relay did not complete a TLS handshake (is the security setting right?)."
