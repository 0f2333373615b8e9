"""Admin: a pipeline's playbook editor (call sheets per stage, the objection guide, demo prep and hand-off)."""

from types import SimpleNamespace

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import Invalid
from app.ids import parse_id
from app.models import PROMPT_KINDS, Pipeline, Stage
from app.models.playbooks import MAX_RESPONSES
from app.playbooks import bp
from app.playbooks.routes import refuse_huge_body
from app.playbooks.service import (
    FACT_TYPES,
    add_set_prompts,
    guide,
    playbook_of,
    prompts_by_stage,
    save_guide,
    save_prompts,
    save_settings,
    start_guide,
)
from app.playbooks.starter import SET_PROMPTS
from app.tenancy import get_or_404, role_required


def _editor(pipeline, errors=None, error_stage=None, status=200, typed_lines=None, typed_guide=None):
    """The editor page; after a refused save, the lines or objections as they were typed (nothing lost)."""
    grouped = prompts_by_stage(pipeline)
    if typed_lines is not None:
        grouped[error_stage] = typed_lines
    return render_template("playbooks/editor.html", pipeline=pipeline, grouped=grouped,
                           guide=guide(pipeline) if typed_guide is None else typed_guide,
                           book=playbook_of(pipeline), kinds=PROMPT_KINDS,
                           sets=SET_PROMPTS, fact_types=FACT_TYPES, max_responses=MAX_RESPONSES,
                           errors=errors or {}, error_stage=error_stage, tab="playbook"), status


@bp.route("/pipelines/<int:pipeline_id>")
@role_required("admin")
def editor(pipeline_id):
    """Edit a pipeline's playbook: discovery call sheets, the objection guide, demo prep and hand-off."""
    return _editor(get_or_404(Pipeline, pipeline_id))


@bp.route("/stages/<int:stage_id>/prompts", methods=["POST"])
@role_required("admin")
def save_stage_prompts(stage_id):
    """Save one stage's call sheet (a blank line drops it)."""
    refuse_huge_body()
    stage = get_or_404(Stage, stage_id)
    ids, kinds = request.form.getlist("prompt_id"), request.form.getlist("kind")
    texts, keys = request.form.getlist("text"), request.form.getlist("field")
    if not len(ids) == len(kinds) == len(texts) == len(keys):
        return _editor(stage.pipeline, {"text-0": "the form is incomplete; reload the page"}, stage.id, 422)
    rows = [(parse_id(i) if i else None, k, t, f) for i, k, t, f in zip(ids, kinds, texts, keys, strict=True)]
    try:
        count = save_prompts(stage, current_user, rows)
    except Invalid as exc:
        typed = [SimpleNamespace(id=i, kind=k, text=t, field_key=f) for i, k, t, f in rows]
        return _editor(stage.pipeline, exc.fields, stage.id, 422, typed_lines=typed)
    flash(f"{stage.name} call sheet saved: {count} line{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("playbooks.editor", pipeline_id=stage.pipeline_id) + f"#sheet-{stage.id}")


@bp.route("/stages/<int:stage_id>/prompts/set", methods=["POST"])
@role_required("admin")
def add_stage_set(stage_id):
    """Add the BANT or MEDDIC questions to a stage's call sheet."""
    stage = get_or_404(Stage, stage_id)
    key = request.form.get("set_key") or ""
    try:
        count = add_set_prompts(stage, current_user, key)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(f"{key.upper()} questions added to {stage.name}: {count} lines.", "success")
    return redirect(url_for("playbooks.editor", pipeline_id=stage.pipeline_id) + f"#sheet-{stage.id}")


@bp.route("/pipelines/<int:pipeline_id>/objections", methods=["POST"])
@role_required("admin")
def save_objection_guide(pipeline_id):
    """Save the objection guide (clearing an objection's text takes it off the guide)."""
    refuse_huge_body()
    pipeline = get_or_404(Pipeline, pipeline_id)
    ids, texts = request.form.getlist("objection_id"), request.form.getlist("objection")
    if len(ids) != len(texts):
        return _editor(pipeline, {"objection-0": "the form is incomplete; reload the page"}, status=422)
    rows = [(parse_id(i) if i else None, t, request.form.getlist(f"response-{n}"))
            for n, (i, t) in enumerate(zip(ids, texts, strict=True))]
    try:
        count = save_guide(pipeline, current_user, rows)
    except Invalid as exc:
        typed = [SimpleNamespace(id=i, text=t, responses=r) for i, t, r in rows]
        return _editor(pipeline, exc.fields, status=422, typed_guide=typed)
    flash(f"Objection guide saved: {count} objection{'s' if count != 1 else ''}.", "success")
    return redirect(url_for("playbooks.editor", pipeline_id=pipeline.id) + "#guide")


@bp.route("/pipelines/<int:pipeline_id>/objections/start", methods=["POST"])
@role_required("admin")
def start_objection_guide(pipeline_id):
    """Fill an empty guide with the article's five common objections."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    try:
        count = start_guide(pipeline, current_user)
    except Invalid as exc:
        flash(exc.message, "error")
    else:
        flash(f"The guide now holds {count} common objections, three responses each: make them yours.", "success")
    return redirect(url_for("playbooks.editor", pipeline_id=pipeline.id) + "#guide")


@bp.route("/pipelines/<int:pipeline_id>/settings", methods=["POST"])
@role_required("admin")
def save_playbook_settings(pipeline_id):
    """Save the objections fact, the demo prep facts and the warm-introduction script."""
    refuse_huge_body()
    pipeline = get_or_404(Pipeline, pipeline_id)
    try:
        save_settings(pipeline, current_user, request.form.get("objections_key") or None,
                      request.form.getlist("demo_keys"), request.form.get("handoff_intro", ""))
    except Invalid as exc:
        return _editor(pipeline, exc.fields, status=422)
    flash("Demo prep and hand-off settings saved.", "success")
    return redirect(url_for("playbooks.editor", pipeline_id=pipeline.id) + "#settings")
