"""Browser sessions: each carries its user's session epoch; a fresh CSRF token at sign-in."""

from flask import current_app, g, session
from flask_login import login_user, logout_user

from app.auth.service import end_sessions

EPOCH_KEY = "_epoch"


def sign_in(user) -> None:
    """Start a session for `user`: a new CSRF token (none from before sign-in stays valid)."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)
    login_user(user)
    session[EPOCH_KEY] = user.session_epoch


def sign_out_everywhere(user) -> None:
    """End this session and every other session of `user` (copied cookies included)."""
    end_sessions(user)
    logout_user()
    session.pop(EPOCH_KEY, None)


def session_is_current(user) -> bool:
    """Tell whether this session began in the user's current epoch."""
    return session.get(EPOCH_KEY) == user.session_epoch
