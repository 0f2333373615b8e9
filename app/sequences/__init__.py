from flask import Blueprint

bp = Blueprint("sequences", __name__)
public_bp = Blueprint("unsubscribe", __name__)
