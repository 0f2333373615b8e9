from flask import Blueprint

bp = Blueprint("leads", __name__)

from app.leads import form_routes, held_routes, routes  # noqa: E402,F401
