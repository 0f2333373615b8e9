from flask import render_template
from flask_login import login_required

from app.contacts import bp


@bp.route("/")
@login_required
def index():
    """List contacts (placeholder until the contacts area lands)."""
    return render_template("contacts/index.html")
