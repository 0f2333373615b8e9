from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import auth, deals, errors, metrics, openapi, routes, tasks  # noqa: E402,F401
