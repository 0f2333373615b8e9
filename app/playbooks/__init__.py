from flask import Blueprint

bp = Blueprint("playbooks", __name__)
