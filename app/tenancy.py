"""Tenant scoping and role checks: one loader for every tenant-owned object."""

from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from app.extensions import db


def current_actor():
    """Return the acting user: the API key's user, else the signed-in user."""
    return g.get("api_user") or current_user


def get_or_404(model, object_id, org_id=None):
    """Load `model` by id within the actor's organisation; another tenant's object is a 404."""
    org_id = org_id if org_id is not None else current_actor().org_id
    # Ids are 32-bit integer columns: a larger number (a URL can carry any) cannot exist and
    # would overflow PostgreSQL's integer type.
    obj = db.session.get(model, object_id) if isinstance(object_id, int) and 0 < object_id < 2**31 else None
    if obj is None or obj.org_id != org_id:
        abort(404)
    return obj


def scoped(model):
    """Start a query over `model` limited to the actor's organisation."""
    return model.query.filter_by(org_id=current_actor().org_id)


def role_required(role):
    """Require a signed-in user whose role is at least `role`."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorator
