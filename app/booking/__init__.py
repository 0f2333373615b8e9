from flask import Blueprint

bp = Blueprint("booking", __name__)
