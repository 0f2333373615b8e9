"""Organisations and users: sign-up, adding people, passwords."""

import re

from email_validator import EmailNotValidError, validate_email

from app.extensions import db
from app.models import ROLES, Organization, User
from app.pipelines.service import create_from_template, ensure_loss_reasons

MIN_PASSWORD = 8


class AccountError(Exception):
    def __init__(self, fields: dict):
        super().__init__("; ".join(f"{k} {v}" for k, v in fields.items()))
        self.fields = fields


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


def create_organization(name, admin_email, password, admin_name="", templates=()) -> Organization:
    """Create an organisation, its first admin, and pipelines from the named templates."""
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
        create_from_template(org, key)
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


def authenticate(email, password) -> User | None:
    user = User.query.filter_by(email=str(email or "").strip().lower()).first()
    if user is None or not user.active or not user.check_password(str(password or "")):
        return None
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
