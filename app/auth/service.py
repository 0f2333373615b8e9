"""Organisations and users: sign-up, adding people, passwords."""

import re
import secrets
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import Invalid
from app.extensions import db
from app.models import ROLES, Organization, User
from app.pipelines.service import create_from_template, ensure_loss_reasons

MIN_PASSWORD = 8


class AccountError(Invalid):
    """Bad account details (an Invalid whose message names every bad field, for the CLI)."""

    def __init__(self, fields: dict):
        super().__init__(fields, "; ".join(f"{k} {v}" for k, v in fields.items()))


def normalize_email(email) -> str:
    try:
        return validate_email(str(email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError({"email": "must be a valid email address"}) from None


def check_password(password) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError({"password": f"must be at least {MIN_PASSWORD} characters"})
    if len(password) > 200:
        raise AccountError({"password": "must be at most 200 characters"})


def unique_slug(name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "org"
    slug, n = base, 1
    while Organization.query.filter_by(slug=slug).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _new_user(org, email, name, role, password) -> User:
    errors = {}
    try:
        email = normalize_email(email)
        if User.query.filter_by(email=email).first() is not None:
            errors["email"] = "is already registered"
    except AccountError as exc:
        errors.update(exc.fields)
    try:
        check_password(password)
    except AccountError as exc:
        errors.update(exc.fields)
    if role not in ROLES:
        errors["role"] = "must be admin, manager or rep"
    name = (name or "").strip() or (email.split("@")[0] if "email" not in errors else "")
    if len(name) > 120:
        errors["name"] = "must be at most 120 characters"
    if errors:
        raise AccountError(errors)
    user = User(org_id=org.id, email=email, name=name, role=role)
    user.set_password(password)
    return user


def create_organization(name, admin_email, password, admin_name="", templates=(), buyer_confirms=False) -> Organization:
    """Create an organisation, its first admin, and pipelines from the named templates (`buyer_confirms`:
    with the templates' requirements that only the buyer's confirmation in the deal room meets)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise AccountError({"name": "is required (at most 120 characters)"})
    from app.pipelines.catalog import TEMPLATES

    bad = [t for t in templates if t not in TEMPLATES]
    if bad:
        raise AccountError({"template": f"unknown: {', '.join(bad)} (choose from {', '.join(TEMPLATES)})"})
    org = Organization(name=name, slug=unique_slug(name))
    db.session.add(org)
    db.session.flush()
    try:
        db.session.add(_new_user(org, admin_email, admin_name, "admin", password))
    except AccountError:
        db.session.rollback()
        raise
    ensure_loss_reasons(org)
    from app.leads.scoring import ensure_defaults

    ensure_defaults(org.id)  # scoring defaults for every new organisation (shared/API.md)
    db.session.commit()
    for key in templates:
        create_from_template(org, key, buyer_confirms=buyer_confirms)
    return org


def create_user(org, email, name, role, password) -> User:
    """Add a user with a role to an organisation."""
    try:
        user = _new_user(org, email, name, role, password)
    except AccountError:
        db.session.rollback()
        raise
    db.session.add(user)
    db.session.commit()
    return user


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(email, password) -> User | None:
    """Return the active user with this email and password, else None.

    Unknown emails and deactivated users cost one password hash too (against a dummy hash
    made with the configured method), so the answer's timing does not tell who has an account.
    """
    password = str(password or "")
    user = User.query.filter_by(email=str(email or "").strip().lower()).first()
    if user is None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        check_password_hash(_dummy_hash(method), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def end_sessions(user: User, commit: bool = True) -> None:
    """End every session of `user` (sign-out, password change or reset, deactivation)."""
    user.session_epoch = User.session_epoch + 1  # in SQL: two at once both count
    if commit:
        db.session.commit()


def change_password(user: User, current, new) -> User:
    """Change the user's own password after checking the current one; end their sessions."""
    errors = {}
    if not user.check_password(str(current or "")):
        errors["current_password"] = "is not your current password"
    try:
        check_password(new)
    except AccountError as exc:
        errors["new_password"] = exc.fields["password"]
    if errors:
        raise AccountError(errors)
    user.set_password(new)
    end_sessions(user)
    return user


def create_api_key(user, name: str = "API key"):
    """Create an API key acting as `user`; return (raw key shown once, stored row)."""
    from app.models import ApiKey, hash_api_key

    name = (name or "").strip() or "API key"
    if len(name) > 120:
        raise AccountError({"name": "must be at most 120 characters"})
    raw = ApiKey.generate()
    key = ApiKey(org_id=user.org_id, user_id=user.id, name=name, prefix=raw[:10],
                 key_hash=hash_api_key(raw))
    db.session.add(key)
    db.session.commit()
    return raw, key
