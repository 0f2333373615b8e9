from flask import render_template
from flask_login import login_required

from app.deals import bp
from app.models import Pipeline
from app.tenancy import get_or_404


@bp.route("/board/<int:pipeline_id>")
@login_required
def board(pipeline_id):
    """Show a pipeline's board (placeholder until the board lands)."""
    return render_template("deals/board.html", pipeline=get_or_404(Pipeline, pipeline_id))
