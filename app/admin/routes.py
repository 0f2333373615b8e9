from flask import render_template

from app.admin import bp
from app.models import Pipeline
from app.tenancy import role_required, scoped


@bp.route("/pipelines")
@role_required("admin")
def pipelines():
    """List pipelines (placeholder until the admin area lands)."""
    return render_template("admin/pipelines.html", pipelines=scoped(Pipeline).all())
