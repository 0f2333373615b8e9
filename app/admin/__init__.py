from flask import Blueprint

bp = Blueprint("admin", __name__)

from app.admin import (  # noqa: E402,F401
    criteria_routes,
    fields_routes,
    reasons_routes,
    routes,
    stages_routes,
    users_routes,
)
