from flask import Blueprint

bp = Blueprint("rooms", __name__)
public_bp = Blueprint("room", __name__)
