"""Admin: loss reasons reps pick when a deal is lost."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import LossReasonForm, add_errors
from app.deals.losses import loss_breakdown
from app.errors import Invalid
from app.models import LossReason
from app.pipelines.service import add_loss_reason, rename_loss_reason, set_loss_reason_archived
from app.tenancy import get_or_404, role_required, scoped


def _page(form, status=200, editing=None):
    reasons = scoped(LossReason).order_by(LossReason.archived, LossReason.position, LossReason.id).all()
    breakdown = {g.loss_reason_id: g for g in loss_breakdown(current_user.org_id)}
    return render_template("admin/loss_reasons.html", reasons=reasons, form=form, editing=editing,
                           breakdown=breakdown), status


@bp.route("/loss-reasons")
@role_required("admin")
def loss_reasons():
    """List loss reasons with the add form."""
    return _page(LossReasonForm(formdata=None))


@bp.route("/loss-reasons", methods=["POST"])
@role_required("admin")
def add_loss_reason_view():
    """Add a loss reason."""
    form = LossReasonForm()
    if form.validate():
        try:
            reason = add_loss_reason(current_user.org, form.label.data)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash(f"Loss reason \u201c{reason.label}\u201d added.", "success")
            return redirect(url_for("admin.loss_reasons"))
    return _page(form, 422)


@bp.route("/loss-reasons/<int:reason_id>", methods=["POST"])
@role_required("admin")
def rename_loss_reason_view(reason_id):
    """Rename a loss reason."""
    reason = get_or_404(LossReason, reason_id)
    form = LossReasonForm()
    if form.validate():
        try:
            rename_loss_reason(reason, form.label.data)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash(f"Loss reason renamed to \u201c{reason.label}\u201d.", "success")
            return redirect(url_for("admin.loss_reasons"))
    return _page(LossReasonForm(formdata=None), 422, editing=(reason.id, form))


@bp.route("/loss-reasons/<int:reason_id>/archive", methods=["POST"])
@role_required("admin")
def archive_loss_reason(reason_id):
    """Archive or restore a loss reason."""
    reason = get_or_404(LossReason, reason_id)
    archived = request.form.get("archived", "1") == "1"
    set_loss_reason_archived(reason, archived)
    flash(f"\u201c{reason.label}\u201d {'archived: reps no longer see it' if archived else 'restored'}.", "success")
    return redirect(url_for("admin.loss_reasons"))
