"""Admin: a pipeline's typed deal fields (add, edit, order, archive, delete)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import FieldForm, add_errors
from app.errors import Invalid
from app.models import FieldDef, Pipeline
from app.pipelines.service import delete_field, move_field, save_field, set_field_archived
from app.tenancy import get_or_404, role_required


def _back(field):
    return redirect(url_for("admin.fields", pipeline_id=field.pipeline_id) + f"#field-{field.id}")


def _fields_page(pipeline, form, status=200):
    return render_template("admin/fields.html", pipeline=pipeline, form=form, tab="fields"), status


@bp.route("/pipelines/<int:pipeline_id>/fields")
@role_required("admin")
def fields(pipeline_id):
    """List a pipeline's deal fields with the add-field form."""
    return _fields_page(get_or_404(Pipeline, pipeline_id), FieldForm(formdata=None))


@bp.route("/pipelines/<int:pipeline_id>/fields", methods=["POST"])
@role_required("admin")
def add_field(pipeline_id):
    """Add a typed deal field to a pipeline."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    form = FieldForm()
    if form.validate():
        try:
            field = save_field(pipeline, form.data)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash(f"Field {field.label} added. Tick it on a stage in the criteria editor.", "success")
            return _back(field)
    return _fields_page(pipeline, form, 422)


@bp.route("/fields/<int:field_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_field(field_id):
    """Edit a field's label, type, help text and validation."""
    field = get_or_404(FieldDef, field_id)
    if request.method == "GET":
        form = FieldForm(obj=field)
        form.choices.data = "\n".join(field.choices or [])
        form.min_value.data = "" if field.min_value is None else f"{field.min_value.normalize():f}"
        form.max_value.data = "" if field.max_value is None else f"{field.max_value.normalize():f}"
        form.contact_role.data = field.contact_role or ""
    else:
        form = FieldForm()
        if form.validate():
            try:
                save_field(field.pipeline, form.data, field)
            except Invalid as exc:
                add_errors(form, exc.fields)
            else:
                flash(f"Field {field.label} saved.", "success")
                return _back(field)
    status = 200 if request.method == "GET" else 422
    return render_template("admin/field.html", field=field, pipeline=field.pipeline, form=form), status


@bp.route("/fields/<int:field_id>/move", methods=["POST"])
@role_required("admin")
def move_field_view(field_id):
    """Move a field one place up or down."""
    field = get_or_404(FieldDef, field_id)
    try:
        move_field(field, request.form.get("direction", ""))
    except Invalid as exc:
        flash(exc.message, "error")
    return _back(field)


@bp.route("/fields/<int:field_id>/archive", methods=["POST"])
@role_required("admin")
def archive_field(field_id):
    """Archive or restore a field."""
    field = get_or_404(FieldDef, field_id)
    archived = request.form.get("archived", "1") == "1"
    set_field_archived(field, archived, current_user)
    flash(f"Field {field.label} {'archived: no stage asks for it now' if archived else 'restored'}.", "success")
    return _back(field)


@bp.route("/fields/<int:field_id>/delete", methods=["POST"])
@role_required("admin")
def delete_field_view(field_id):
    """Delete an unused field (one that criteria or deals use must be archived)."""
    field = get_or_404(FieldDef, field_id)
    pipeline_id, label = field.pipeline_id, field.label
    try:
        delete_field(field)
    except Invalid as exc:
        flash(exc.message, "error")
        return _back(field)
    flash(f"Field {label} deleted.", "success")
    return redirect(url_for("admin.fields", pipeline_id=pipeline_id))
