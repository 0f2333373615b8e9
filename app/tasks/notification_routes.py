from flask import abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.errors import Forbidden
from app.htmx import is_htmx
from app.models import Notification
from app.tasks import bp
from app.tasks.service import mark_all_read, mark_read, recent_notifications
from app.tenancy import get_or_404


def _bell() -> str:
    """The header bell, swapped out of band so its count follows the change."""
    return render_template("tasks/_bell.html", bell_oob=True)


@bp.route("/notifications")
@login_required
def notifications():
    """List my notifications, newest first."""
    return render_template("tasks/notifications.html", items=recent_notifications(current_user))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id):
    """Mark one notification read."""
    item = get_or_404(Notification, notification_id)
    try:
        mark_read(item, current_user)
    except Forbidden:
        abort(404)  # someone else's notification: as if it did not exist
    if is_htmx():
        return render_template("tasks/_notification.html", item=item) + _bell()
    return redirect(url_for("tasks.notifications"))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_all():
    """Mark all my notifications read."""
    mark_all_read(current_user)
    if is_htmx():
        return render_template("tasks/_notifications.html", items=recent_notifications(current_user)) + _bell()
    return redirect(url_for("tasks.notifications"))
