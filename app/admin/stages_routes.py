"""Admin: a pipeline's stages (add, edit, order, archive, delete)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import StageForm, add_errors
from app.admin.routes import render_pipeline
from app.errors import Invalid
from app.models import Pipeline, Stage
from app.pipelines.service import (
    deals_in_stage,
    delete_stage,
    move_stage,
    save_stage,
    set_stage_archived,
)
from app.tenancy import get_or_404, role_required


def _back(stage):
    return redirect(url_for("admin.pipeline", pipeline_id=stage.pipeline_id) + f"#stage-{stage.id}")


@bp.route("/pipelines/<int:pipeline_id>/stages", methods=["POST"])
@role_required("admin")
def add_stage(pipeline_id):
    """Add a stage to a pipeline."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    form = StageForm()
    if form.validate():
        try:
            stage = save_stage(pipeline, form.data, actor=current_user)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash(f"Stage {stage.name} added.", "success")
            return _back(stage)
    return render_pipeline(pipeline, stage_form=form, status=422)


@bp.route("/stages/<int:stage_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_stage(stage_id):
    """Edit a stage's name, buyer state, kind, probability, maximum days, meeting flag and guidance."""
    stage = get_or_404(Stage, stage_id)
    form = StageForm(obj=stage) if request.method == "GET" else StageForm()
    if request.method == "POST" and form.validate():
        try:
            save_stage(stage.pipeline, form.data, stage, actor=current_user)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash(f"Stage {stage.name} saved.", "success")
            return _back(stage)
    status = 200 if request.method == "GET" else 422
    return render_template("admin/stage.html", stage=stage, pipeline=stage.pipeline, form=form,
                           held=deals_in_stage(stage)), status


@bp.route("/stages/<int:stage_id>/move", methods=["POST"])
@role_required("admin")
def move_stage_view(stage_id):
    """Move a stage one place up or down."""
    stage = get_or_404(Stage, stage_id)
    try:
        move_stage(stage, request.form.get("direction", ""))
    except Invalid as exc:
        flash(exc.message, "error")
    return _back(stage)


@bp.route("/stages/<int:stage_id>/archive", methods=["POST"])
@role_required("admin")
def archive_stage(stage_id):
    """Archive or restore a stage."""
    stage = get_or_404(Stage, stage_id)
    archived = request.form.get("archived", "1") == "1"
    try:
        set_stage_archived(stage, archived)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(f"Stage {stage.name} {'archived' if archived else 'restored'}.", "success")
    return _back(stage)


@bp.route("/stages/<int:stage_id>/delete", methods=["POST"])
@role_required("admin")
def delete_stage_view(stage_id):
    """Delete an unused stage (a used one must be archived)."""
    stage = get_or_404(Stage, stage_id)
    pipeline_id, name = stage.pipeline_id, stage.name
    try:
        delete_stage(stage)
    except Invalid as exc:
        flash(exc.message, "error")
        return _back(stage)
    flash(f"Stage {name} deleted.", "success")
    return redirect(url_for("admin.pipeline", pipeline_id=pipeline_id))
