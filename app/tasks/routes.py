from flask import render_template
from flask_login import login_required

from app.tasks import bp


@bp.route("/")
@login_required
def mine():
    """Show my tasks (placeholder until the tasks area lands)."""
    return render_template("tasks/mine.html")
