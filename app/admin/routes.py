"""Admin: the organisation's pipelines (list, create, settings, order, archive)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import TEMPLATE_CHOICES, NewPipelineForm, PipelineForm, StageForm, add_errors
from app.admin.service import org_users
from app.errors import Invalid
from app.models import CONTACT_ROLES, FIELD_TYPES, Pipeline
from app.pipelines.service import (
    create_from_template,
    create_pipeline,
    deal_counts,
    move_pipeline,
    org_pipelines,
    set_pipeline_archived,
    update_pipeline,
)
from app.tenancy import get_or_404, role_required


@bp.context_processor
def admin_globals():
    """Give admin templates the field type and contact role names."""
    return {"field_types": FIELD_TYPES, "contact_roles": CONTACT_ROLES}


def _pipelines_page(form, status=200):
    return render_template("admin/pipelines.html", pipelines=org_pipelines(current_user.org_id),
                           form=form, templates=TEMPLATE_CHOICES), status


def pipeline_form(pipeline, formdata=None) -> PipelineForm:
    """Build the settings form with the organisation's active users as hand-off owners."""
    form = PipelineForm(formdata=formdata, obj=None if formdata else pipeline)
    form.handoff_user_id.choices = [("", "The deal's owner")] + [
        (str(u.id), u.name) for u in org_users(current_user.org_id) if u.active
    ]
    if formdata is None:
        form.handoff_user_id.data = str(pipeline.handoff_user_id or "")
    return form


def render_pipeline(pipeline, settings=None, stage_form=None, status=200):
    """Render a pipeline's page: settings, its stages, and the add-stage form."""
    return render_template(
        "admin/pipeline.html", pipeline=pipeline, form=settings or pipeline_form(pipeline),
        stage_form=stage_form or StageForm(formdata=None), tab="stages", deal_counts=deal_counts(pipeline),
    ), status


@bp.route("/pipelines")
@role_required("admin")
def pipelines():
    """List pipelines; an empty list offers the templates."""
    return _pipelines_page(NewPipelineForm(formdata=None))


@bp.route("/pipelines", methods=["POST"])
@role_required("admin")
def create_pipeline_view():
    """Create a pipeline, blank or from a template."""
    form = NewPipelineForm()
    if form.validate():
        try:
            if form.template.data:
                pipeline = create_from_template(current_user.org, form.template.data, form.name.data or None,
                                                buyer_confirms=True)
            else:
                pipeline = create_pipeline(current_user.org, form.name.data)
        except Invalid as exc:
            add_errors(form, {"name": exc.fields.get("name") or exc.message})
        else:
            flash(f"{pipeline.name} is ready. Shape its stages, fields and criteria.", "success")
            return redirect(url_for("admin.pipeline", pipeline_id=pipeline.id))
    return _pipelines_page(form, 422)


@bp.route("/pipelines/<int:pipeline_id>")
@role_required("admin")
def pipeline(pipeline_id):
    """Show a pipeline's settings and stages."""
    return render_pipeline(get_or_404(Pipeline, pipeline_id))


@bp.route("/pipelines/<int:pipeline_id>", methods=["POST"])
@role_required("admin")
def update_pipeline_view(pipeline_id):
    """Rename a pipeline, set skipping and the hand-off owner."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    form = pipeline_form(pipeline, request.form)
    if form.validate():
        try:
            update_pipeline(pipeline, form.name.data, form.allow_skip.data, form.handoff_user_id.data)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash("Pipeline settings saved.", "success")
            return redirect(url_for("admin.pipeline", pipeline_id=pipeline.id))
    return render_pipeline(pipeline, settings=form, status=422)


@bp.route("/pipelines/<int:pipeline_id>/move", methods=["POST"])
@role_required("admin")
def move_pipeline_view(pipeline_id):
    """Move a pipeline up or down the list."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    try:
        move_pipeline(pipeline, request.form.get("direction", ""))
    except Invalid as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.pipelines"))


@bp.route("/pipelines/<int:pipeline_id>/archive", methods=["POST"])
@role_required("admin")
def archive_pipeline(pipeline_id):
    """Archive or restore a pipeline."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    archived = request.form.get("archived", "1") == "1"
    set_pipeline_archived(pipeline, archived)
    flash(f"{pipeline.name} {'archived: it is hidden from the board' if archived else 'restored'}.", "success")
    return redirect(url_for("admin.pipelines"))

