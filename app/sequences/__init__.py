from flask import Blueprint

bp = Blueprint("sequences", __name__)
public_bp = Blueprint("unsubscribe", __name__)
sms_bp = Blueprint("sms", __name__)
