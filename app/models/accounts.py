"""Organisations, users and API keys."""

import hashlib
import secrets
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.base import TenantMixin, utcnow
from app.timezones import zone_named

ROLES = ("admin", "manager", "rep")
ROLE_RANK = {"rep": 1, "manager": 2, "admin": 3}


class Organization(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    slug = db.Column(db.String(80), nullable=False, unique=True)
    currency = db.Column(db.String(3), nullable=False, default="USD")
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    @property
    def zone(self) -> ZoneInfo:
        """The organisation's time zone (UTC when unset or unknown)."""
        return zone_named(self.timezone)


def org_zone(org_id: int) -> ZoneInfo:
    """The time zone of the organisation `org_id` (one small query; UTC when unset or unknown)."""
    return zone_named(db.session.query(Organization.timezone).filter_by(id=org_id).scalar())


class User(UserMixin, TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    # Email is the login, so it is unique across the whole installation.
    email = db.Column(db.String(254), nullable=False, unique=True)
    name = db.Column(db.String(120), nullable=False)
    password_hash = db.Column(db.String(256), nullable=False)
    role = db.Column(db.String(10), nullable=False, default="rep")
    active = db.Column(db.Boolean, nullable=False, default=True)
    # Every session carries the epoch it began in; raising it ends all of this user's sessions.
    session_epoch = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    org = db.relationship(Organization)

    __table_args__ = (db.CheckConstraint("role in ('admin','manager','rep')", name="role"),)

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def has_role(self, role: str) -> bool:
        """Tell whether this user's role is at least `role` (admin > manager > rep)."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def initials(self) -> str:
        return initials_of(self.name, self.email)


def initials_of(name: str, email: str) -> str:
    """A person's initials from their name (two at most), else the first two letters of the email."""
    parts = [p for p in name.split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or email[:2].upper()


def hash_api_key(raw: str) -> str:
    """Hash an API key; keys are long random tokens, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    name = db.Column(db.String(120), nullable=False)
    prefix = db.Column(db.String(16), nullable=False)
    key_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime)
    revoked_at = db.Column(db.DateTime)

    user = db.relationship(User)

    @staticmethod
    def generate() -> str:
        return "sg_" + secrets.token_urlsafe(32)
