from flask import Blueprint

bp = Blueprint("deals", __name__)

from app.deals import routes  # noqa: E402,F401
