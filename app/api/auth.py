"""Bearer-key authentication and per-key rate limiting for the JSON API."""

import hashlib
from datetime import timedelta

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from sqlalchemy.orm import joinedload

from app.api import bp
from app.api.errors import error_response
from app.extensions import csrf, db, limiter
from app.models import ApiKey, hash_api_key, utcnow

# Writing last_used_at on every call would turn each read into a write; a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


def public(view):
    """Mark an API view as needing no key (the OpenAPI document)."""
    view.api_public = True
    return view


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        return None
    return token


def _rate_key() -> str:
    """Limit per key; requests without one share their address's bucket."""
    token = bearer_token()
    if token:
        return "api-key:" + hashlib.sha256(token.encode()).hexdigest()
    return "api-ip:" + (request.remote_addr or "unknown")


def _api_limit() -> str:
    return current_app.config["API_RATE_LIMIT"]


def _auth_fail_limit() -> str:
    return current_app.config["API_AUTH_FAIL_LIMIT"]


def _is_public_view() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    return view is not None and getattr(view, "api_public", False)


def _refused(response) -> bool:
    return response.status_code == 401


csrf.exempt(bp)
# One budget per key across the whole API (a per-endpoint budget multiplied it by the endpoint count).
limiter.shared_limit(_api_limit, scope="api", key_func=_rate_key)(bp)
# Failed authentications per client address: a random key gets its own per-key budget, so without
# this every guess was free and cost a database lookup. Only a 401 counts; once the address is over,
# the limiter answers 429 before authenticate() runs (app-level before_request hooks run first).
limiter.shared_limit(_auth_fail_limit, scope="api-auth-fail", key_func=get_remote_address,
                     deduct_when=_refused, exempt_when=_is_public_view,
                     error_message="Too many requests with a missing or wrong API key from your address. "
                                   "Wait and try again with a valid key.")(bp)


def find_key(raw: str) -> ApiKey | None:
    """Return the live key for `raw`: not revoked, its user active and in the key's organisation."""
    # The key's user comes in the same statement: every API call acts as that user.
    key = ApiKey.query.options(joinedload(ApiKey.user)).filter_by(key_hash=hash_api_key(raw)).first()
    if key is None or key.revoked_at is not None:
        return None
    user = key.user
    if user is None or not user.active or user.org_id != key.org_id:
        return None
    return key


def _touch(key: ApiKey) -> None:
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        db.session.execute(db.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        db.session.commit()


@bp.before_request
def authenticate():
    """Refuse requests without a live key; act as the key's user."""
    if _is_public_view():
        return None
    if request.method == "OPTIONS":  # Flask's automatic answer: the Allow header, no data
        return None
    token = bearer_token()
    key = find_key(token) if token else None
    if key is None:
        message = ("Send your API key as 'Authorization: Bearer <key>'." if token is None
                   else "That API key is not valid, was revoked, or its user is deactivated.")
        response = error_response(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="stagegate"'
        return response
    g.api_key = key
    g.api_user = key.user
    _touch(key)
    return None

