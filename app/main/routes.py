from flask import redirect, url_for
from flask_login import current_user, login_required

from app.main import bp
from app.models import Pipeline


@bp.route("/")
@login_required
def home():
    """Send people to their board, or admins with no pipeline to the pipeline setup."""
    pipeline = (
        Pipeline.query.filter_by(org_id=current_user.org_id, archived=False)
        .order_by(Pipeline.position, Pipeline.id)
        .first()
    )
    if pipeline is None:
        return redirect(url_for("admin.pipelines"))
    return redirect(url_for("deals.board", pipeline_id=pipeline.id))


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every page that names no icon (a 404 in every log otherwise)."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/healthz")
def healthz():
    """Report the database, Redis and the worker's last tick; 503 when any fails (for supervisors)."""
    from app.health.service import health

    report, status = health()
    return report, status, {"Cache-Control": "no-store"}
