"""Tenant scoping and role checks: one loader for every tenant-owned object."""

from functools import wraps

from flask import abort, g
from flask_login import current_user, login_required

from app.extensions import db
from app.ids import parse_id


def current_actor():
    """Return the acting user: the API key's user, else the signed-in user."""
    return g.get("api_user") or current_user


def get_or_404(model, object_id, org_id=None, options=None):
    """Load `model` by id within the actor's organisation; another tenant's object is a 404.

    `options` (loader options such as joinedload) load related rows in the same statement.
    """
    org_id = org_id if org_id is not None else current_actor().org_id
    # Ids past the INTEGER range cannot exist; PostgreSQL would refuse the comparison (a 500).
    object_id = parse_id(object_id)
    obj = db.session.get(model, object_id, options=options) if object_id is not None else None
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
