from flask import Blueprint

bp = Blueprint("deals", __name__)
