from flask import Blueprint

bp = Blueprint("contacts", __name__)

from app.contacts import company_routes, deal_routes, routes  # noqa: E402,F401
