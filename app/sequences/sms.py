"""Text messages: the provider (Twilio's Messages API, or a file outbox when none is set), numbers and quiet hours.

`TwilioTexter.send` returns the provider's message id (its SID) or raises the same failures as
email (app/sequences/mailer.py) so the sweep treats a text like an email: Deferred (429, 5xx,
no connection: nothing was accepted, try again), Refused (a 4xx naming this number: 21211 not a
valid number, 21610 the number sent STOP, 21614 not a mobile), Unknown (the request was sent and
the answer never came: it may have gone out; never resent on its own).
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app import phones
from app.crypto import SMS_TOKENS, SMS_WEBHOOK_SECRETS, Unreadable, decrypt, encrypt
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import Contact, Enrollment, Organization, SequenceStep, StepSend, utcnow
from app.models.sms import SmsNumber, SmsSettings
from app.sequences.mailer import Deferred, Refused, Unknown
from app.text import clean_text
from app.timezones import to_utc, zone_named

TWILIO_API = "https://api.twilio.com"
TIMEOUT = 20
QUIET_START, QUIET_END = 8, 21  # texts only from 08:00 to 21:00 in the recipient's time zone
MAX_TEXT = 1600  # Twilio's limit for one message body
# Error codes that say the number cannot take texts at all (Twilio): later text steps skip it.
UNREACHABLE_CODES = {"21211", "21614", "30003", "30005", "30006"}
OPTED_OUT_CODES = {"21610"}
UNDELIVERED_LIMIT = 2  # undelivered or failed reports in a row before a number counts as undeliverable


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class SmsConfig:
    provider: str  # "" (the outbox) | twilio
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    base: str  # the provider's API base URL

    @property
    def live(self) -> bool:
        return bool(self.provider and self.account_sid and self.auth_token and self.from_number)


def org_settings(org_id: int) -> SmsSettings | None:
    return SmsSettings.query.filter_by(org_id=org_id).first()


def sms_config(org_id: int | None) -> SmsConfig:
    """The organisation's provider account when it set one, else the installation's (env), else the outbox."""
    base = (current_app.config.get("SMS_PROVIDER_URL") or TWILIO_API).rstrip("/")
    row = org_settings(org_id) if org_id is not None else None
    if row is not None and row.provider:
        try:
            token = decrypt(row.auth_token_encrypted, SMS_TOKENS) if row.auth_token_encrypted else ""
        except Unreadable:
            token = ""
        return SmsConfig(row.provider, row.account_sid, token, row.from_number, base)
    cfg = current_app.config
    return SmsConfig(cfg.get("SMS_PROVIDER", ""), cfg.get("TWILIO_ACCOUNT_SID", ""),
                     cfg.get("TWILIO_AUTH_TOKEN", ""), phones.e164(cfg.get("TWILIO_FROM", "")) or "", base)


def public_base() -> str:
    return (current_app.config.get("BASE_URL") or "http://localhost:5000").rstrip("/")


def webhook_secret(org_id: int) -> str:
    """The secret in this organisation's webhook URLs: SMS_WEBHOOK_SECRET, else its own (made on first save)."""
    if current_app.config.get("SMS_WEBHOOK_SECRET"):
        return current_app.config["SMS_WEBHOOK_SECRET"]
    row = org_settings(org_id)
    if row is None or not row.webhook_secret_encrypted:
        return ""
    try:
        return decrypt(row.webhook_secret_encrypted, SMS_WEBHOOK_SECRETS)
    except Unreadable:
        return ""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def orgs_for_secret(secret: str) -> list[int] | None:
    """The organisations a webhook URL's secret stands for: all (the installation's secret), one, or None."""
    if not secret or len(secret) > 200:
        return None
    shared = current_app.config.get("SMS_WEBHOOK_SECRET") or ""
    if shared:
        if not hmac.compare_digest(_hash(secret), _hash(shared)):
            return None
        return []  # every organisation: the sender's number and the signature decide
    org_id = db.session.execute(select(SmsSettings.org_id).where(SmsSettings.webhook_secret_hash == _hash(secret))
                                ).scalar()
    return [org_id] if org_id is not None else None


def save_settings(actor, values) -> SmsSettings:
    """Save the organisation's provider account (admins); a blank token keeps the stored one."""
    if not actor.has_role("admin"):
        raise Forbidden("Only admins set up text messages.")
    errors: dict = {}
    provider = values.get("provider") or ""
    if provider not in ("", "twilio"):
        errors["provider"] = "must be Twilio or none"
    sid = clean_text(values.get("account_sid"), "account_sid", errors, 64)
    token = clean_text(values.get("auth_token"), "auth_token", errors, 128)
    raw_from = clean_text(values.get("from_number"), "from_number", errors, 40)
    from_number = phones.e164(raw_from) if raw_from else ""
    if raw_from and not from_number and "from_number" not in errors:
        errors["from_number"] = "is not a valid phone number"
    if sid and not (sid.startswith("AC") and sid.isalnum()) and "account_sid" not in errors:
        errors["account_sid"] = "must be the account SID (AC followed by letters and digits)"
    row = org_settings(actor.org_id) or SmsSettings(org_id=actor.org_id)
    if provider and not errors:
        for name, value in (("account_sid", sid), ("from_number", from_number)):
            if not value:
                errors[name] = "is needed to send through Twilio"
        if not token and not row.auth_token_encrypted:
            errors["auth_token"] = "is needed to send through Twilio"
    if errors:
        raise Invalid(errors)
    row.provider, row.account_sid, row.from_number, row.updated_at = provider, sid, from_number, utcnow()
    if token:
        row.auth_token_encrypted = encrypt(token, SMS_TOKENS)
    if not row.webhook_secret_encrypted:
        secret = secrets.token_urlsafe(24)
        row.webhook_secret_encrypted, row.webhook_secret_hash = encrypt(secret, SMS_WEBHOOK_SECRETS), _hash(secret)
    db.session.add(row)
    db.session.commit()
    return row


# ---------------------------------------------------------------- sending


class TwilioTexter:
    """Twilio's Messages API: POST {base}/2010-04-01/Accounts/{sid}/Messages.json, form-encoded, basic auth."""

    def __init__(self, config: SmsConfig, status_callback: str = ""):
        self.config = config
        self.status_callback = status_callback
        self.url = f"{config.base}/2010-04-01/Accounts/{urllib.parse.quote(config.account_sid)}/Messages.json"
        basic = base64.b64encode(f"{config.account_sid}:{config.auth_token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded",
                        "Accept": "application/json"}

    def send(self, to: str, body: str, send_id: int | None = None) -> str:
        fields = {"To": to, "From": self.config.from_number, "Body": body}
        if self.status_callback:
            # The send's id rides along: a report may arrive before the provider's id is written down.
            fields["StatusCallback"] = self.status_callback + (f"?send={send_id}" if send_id else "")
        request = urllib.request.Request(self.url, data=urllib.parse.urlencode(fields).encode(),
                                         headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (an https or test URL)
                answer = _json(response.read(65536))
                status = response.status
        except urllib.error.HTTPError as exc:
            answer, status = _json(exc.read(65536)), exc.code
        except TimeoutError as exc:
            raise Unknown(f"The provider did not answer in time ({exc}); the text may have gone out.",
                          "provider") from None
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            raise Deferred(f"Could not reach the SMS provider: {getattr(exc, 'reason', exc)}", "provider") from None
        code, message = str(answer.get("code") or ""), str(answer.get("message") or "")[:200]
        if 200 <= status < 300 and isinstance(answer.get("sid"), str) and answer["sid"]:
            return answer["sid"][:64]
        words = f"{status} {code} {message}".strip()
        if status == 429 or status >= 500:
            raise Deferred(f"The SMS provider answered {words}", "provider")
        if status == 400 and code:
            raise Refused(f"The SMS provider refused this number: {words}", "provider",
                          address_gone=code in UNREACHABLE_CODES | OPTED_OUT_CODES)
        if 200 <= status < 300:
            raise Unknown(f"The provider answered {status} without a message id.", "provider")
        raise Deferred(f"The SMS provider answered {words}", "provider")

    def close(self) -> None:
        pass


class SmsOutbox:
    """No provider: each text becomes instance/sms_outbox/<id>.json (as email's .eml outbox)."""

    def __init__(self, directory: str, from_number: str = ""):
        self.directory = directory
        self.from_number = from_number

    def send(self, to: str, body: str, send_id: int | None = None) -> str:
        sid = "OUTBOX" + uuid.uuid4().hex
        os.makedirs(self.directory, exist_ok=True)
        with open(os.path.join(self.directory, sid + ".json"), "x", encoding="utf-8") as handle:
            json.dump({"sid": sid, "to": to, "from": self.from_number, "body": body,
                       "at": datetime.now(UTC).isoformat()}, handle, ensure_ascii=False)
        return sid

    def close(self) -> None:
        pass


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def texter_for(org_id: int):
    """How an organisation's texts go out: its provider (status callbacks to our webhook), the outbox when no
    provider is chosen, or None while the chosen provider's account is incomplete (texts wait)."""
    config = sms_config(org_id)
    if config.provider and not config.live:
        return None
    if config.provider == "twilio":
        secret = webhook_secret(org_id)
        callback = f"{public_base()}/sms/status/{secret}" if secret else ""
        return TwilioTexter(config, callback)
    return SmsOutbox(os.path.join(current_app.instance_path, "sms_outbox"), config.from_number)


# ---------------------------------------------------------------- numbers and time


def number_row(org_id: int, phone: str) -> SmsNumber | None:
    return SmsNumber.query.filter_by(org_id=org_id, phone=phone).first()


def why_not_textable(contact: Contact) -> tuple[str | None, str]:
    """(E.164, "") when the contact may get a text now, else (None, the reason the step is skipped)."""
    phone, reason = phones.mobile(contact.phone)
    if phone is None:
        return None, f"No text sent: {reason}."
    row = number_row(contact.org_id, phone)
    if row is not None and row.opted_out_at is not None:
        return None, f"No text sent: {phone} opted out of texts (STOP)."
    if row is not None and row.undeliverable_at is not None:
        return None, f"No text sent: {phone} cannot take texts ({row.last_error or 'undeliverable'})."
    return phone, ""


def contact_zone(contact: Contact, org_zone):
    """The contact's time zone when known (a lead fact, else its number's one zone), else the organisation's."""
    named = (contact.lead_facts or {}).get("timezone") if isinstance(contact.lead_facts, dict) else None
    if isinstance(named, str) and named:
        zone = zone_named(named)
        if zone.key != "UTC" or named.upper() == "UTC":
            return zone
    by_number = phones.zone_of(contact.phone or "")
    return zone_named(by_number) if by_number else org_zone


def quiet_until(at: datetime, zone) -> datetime:
    """The first moment at or after `at` (naive UTC) between 08:00 and 21:00 in `zone`."""
    local = at.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    if QUIET_START <= local.hour < QUIET_END:
        return at
    day = local.date() if local.hour < QUIET_START else local.date() + timedelta(days=1)
    return max(at, to_utc(datetime(day.year, day.month, day.day, QUIET_START), zone))


def skipped_texts(sequence_id: int, limit: int = 50) -> list:
    """The text steps of a sequence that were skipped, newest first, with who and why (the sequence page)."""
    return db.session.execute(
        select(StepSend.position, StepSend.error, StepSend.claimed_at, Contact.id, Contact.name, Contact.email,
               Contact.phone)
        .join(Enrollment, Enrollment.id == StepSend.enrollment_id).join(Contact, Contact.id == Enrollment.contact_id)
        .join(SequenceStep, SequenceStep.id == StepSend.step_id)
        .where(Enrollment.sequence_id == sequence_id, SequenceStep.type == "sms", StepSend.status == "skipped")
        .order_by(StepSend.claimed_at.desc(), StepSend.id.desc()).limit(limit)).all()


def org_name(org_id: int) -> str:
    return db.session.execute(select(Organization.name).where(Organization.id == org_id)).scalar() or ""


def mark_number(org_id: int, phone: str, now: datetime, *, opted_out: bool | None = None,
                failed: str | None = None, unreachable: bool = False, delivered: bool = False) -> SmsNumber:
    """Write down what was learnt about a number (no commit)."""
    row = number_row(org_id, phone)
    if row is None:
        row = SmsNumber(org_id=org_id, phone=phone, failures=0, last_error="")
        db.session.add(row)
    if opted_out is True:
        row.opted_out_at = row.opted_out_at or now
    elif opted_out is False:
        row.opted_out_at = None
    if delivered:
        row.failures, row.undeliverable_at = 0, None
    if failed is not None:
        row.failures = (row.failures or 0) + 1
        row.last_error = failed[:300]
        if unreachable or row.failures >= UNDELIVERED_LIMIT:
            row.undeliverable_at = row.undeliverable_at or now
    row.updated_at = now
    return row
