"""Admin: the criteria editor (which fields each stage requires on entry and exit)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import CriteriaApplyForm
from app.errors import Invalid
from app.htmx import is_htmx
from app.models import Pipeline, Stage
from app.pipelines.catalog import REQUIREMENT_SETS, TEMPLATES
from app.pipelines.service import apply_set_to_stage, save_requirements
from app.reports.criteria import change_log, moved_most, parse_quarter, quarter_label
from app.reports.service import local_today, quarter_start
from app.tenancy import get_or_404, role_required


@bp.route("/pipelines/<int:pipeline_id>/criteria")
@role_required("admin")
def criteria(pipeline_id):
    """Show each stage's checklist of required fields, on entry and on exit."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    return render_template("admin/criteria.html", pipeline=pipeline, tab="criteria", sets=REQUIREMENT_SETS,
                           templates=TEMPLATES, apply_form=CriteriaApplyForm(formdata=None))


@bp.route("/stages/<int:stage_id>/criteria", methods=["POST"])
@role_required("admin")
def save_criteria(stage_id):
    """Save one stage's checklist; the stage's card swaps itself with a confirmation."""
    stage = get_or_404(Stage, stage_id)
    entry, exit_ = request.form.getlist("entry"), request.form.getlist("exit")
    # The card's form always says which facts the buyer confirms (even none); a post without the
    # marker (an older page) leaves those marks alone.
    buyer = request.form.getlist("buyer") if request.form.get("buyer_marks") == "1" else None
    # Likewise the next-step box: unticked sends nothing, so the marker says the form carries it.
    next_step = request.form.get("next_step") == "1" if request.form.get("next_step_mark") == "1" else None
    error, saved = None, None
    try:
        saved = save_requirements(stage, entry, exit_, buyer, actor=current_user, next_step=next_step)
    except Invalid as exc:
        error = exc.message
    if is_htmx():
        # 200 even on error: htmx swaps only 2xx, and the card must show the message.
        return render_template("admin/_criteria_card.html", stage=stage, pipeline=stage.pipeline,
                               saved=saved, error=error, expanded=True,
                               apply_form=CriteriaApplyForm(formdata=None))
    if saved is None:
        flash(error, "error")
    else:
        flash(f"Criteria for {stage.name} saved.{lacking_note(saved)}", "success")
    return redirect(url_for("admin.criteria", pipeline_id=stage.pipeline_id) + f"#criteria-stage-{stage.id}")


def lacking_note(saved) -> str:
    """' 3 open deals in Proposal lack a fact newly required to leave it.', or '' when none does."""
    if not saved.lacking:
        return ""
    many = saved.lacking != 1
    return (f" {saved.lacking} open deal{'s' if many else ''} in {saved.stage.name} "
            f"lack{'' if many else 's'} a fact newly required to leave it.")


@bp.route("/stages/<int:stage_id>/criteria/apply", methods=["POST"])
@role_required("admin")
def apply_criteria_set(stage_id):
    """Require a BANT or MEDDIC set on a stage, adding the fields the pipeline lacks."""
    stage = get_or_404(Stage, stage_id)
    form = CriteriaApplyForm()
    try:
        fields = apply_set_to_stage(stage, form.set_key.data or "", form.when.data or "exit", current_user)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        name = REQUIREMENT_SETS[form.set_key.data]["name"]
        flash(f"{name} applied: {stage.name} now requires {', '.join(f.label for f in fields)} "
              f"on {form.when.data}.", "success")
    return redirect(url_for("admin.criteria", pipeline_id=stage.pipeline_id) + f"#criteria-stage-{stage.id}")


@bp.route("/stages/<int:stage_id>/criteria/changes")
@role_required("admin")
def criteria_changes(stage_id):
    """Show a stage's criteria changes, each with conversion and time in stage 30 days before and after."""
    stage = get_or_404(Stage, stage_id)
    return render_template("admin/criteria_changes.html", stage=stage, pipeline=stage.pipeline, tab="criteria",
                           changes=change_log(stage.pipeline, stage.id), fields={
                               f.key: f.label for f in stage.pipeline.fields})


@bp.route("/criteria-review")
@role_required("admin")
def criteria_review():
    """List the stages whose conversion or time in stage moved most last quarter, each linked to its log."""
    quarter = parse_quarter(request.args.get("quarter", "")) or quarter_start(local_today(current_user.org.zone))
    return render_template("admin/criteria_review.html", quarter=quarter_label(quarter),
                           moved=moved_most(current_user.org_id, quarter))
