"""Text messages: an organisation's SMS provider settings and what is known of each number it texts."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

SMS_PROVIDERS = ("twilio",)
# A provider's delivery report (StepSend.delivery): "" until one arrives.
DELIVERY_STATES = ("", "queued", "sent", "delivered", "undelivered", "failed")


class SmsSettings(TenantMixin, db.Model):
    """Per organisation: its SMS provider account (empty: the installation's, else the file outbox)."""

    id = db.Column(db.Integer, primary_key=True)
    provider = db.Column(db.String(12), nullable=False, default="")  # "" | twilio
    account_sid = db.Column(db.String(64), nullable=False, default="")
    auth_token_encrypted = db.Column(db.Text, nullable=False, default="")  # Fernet (app/crypto.py SMS_TOKENS)
    from_number = db.Column(db.String(16), nullable=False, default="")  # E.164
    # The webhook URLs' secret: its SHA-256 finds the organisation; the Fernet copy shows it in Settings.
    webhook_secret_hash = db.Column(db.String(64), unique=True)
    webhook_secret_encrypted = db.Column(db.Text, nullable=False, default="")
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.UniqueConstraint("org_id", name="uq_sms_settings_org"),
        db.CheckConstraint("provider in ('','twilio')", name="provider"),
    )


class SmsNumber(TenantMixin, db.Model):
    """One phone number (E.164) the organisation texts: opted out (STOP) or found undeliverable."""

    id = db.Column(db.Integer, primary_key=True)
    phone = db.Column(db.String(16), nullable=False)
    opted_out_at = db.Column(db.DateTime)  # NULL: may be texted
    undeliverable_at = db.Column(db.DateTime)  # NULL: not known to be unreachable
    failures = db.Column(db.Integer, nullable=False, default=0)  # undelivered or failed reports in a row
    last_error = db.Column(db.String(300), nullable=False, default="")
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.UniqueConstraint("org_id", "phone", name="uq_sms_number_org_phone"),)
