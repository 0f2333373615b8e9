from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import (  # noqa: E402,F401
    auth,
    deals,
    errors,
    leads,
    metrics,
    openapi,
    routes,
    sequences,
    tasks,
)
