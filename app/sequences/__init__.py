from flask import Blueprint

bp = Blueprint("sequences", __name__)
public_bp = Blueprint("unsubscribe", __name__)

from app.sequences import public_routes, routes, settings_routes  # noqa: E402,F401
