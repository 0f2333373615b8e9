"""API: a pipeline's criteria change log with its before/after figures, and changing a stage's criteria."""

from flask import jsonify, request

from app.api import bp
from app.api.errors import error_response
from app.api.parse import check_keys, json_object, query_id, raise_if, time_value
from app.errors import Forbidden
from app.models import Pipeline, Stage, utcnow
from app.pipelines.service import set_requirements_by_key
from app.reports.criteria import change_json, change_log
from app.tenancy import current_actor, get_or_404

REQUIREMENT_KEYS = ("entry", "exit", "buyer", "next_step", "at")


@bp.get("/pipelines/<int:pipeline_id>/criteria-changes")
def criteria_changes(pipeline_id):
    """List a pipeline's criteria changes, newest first, each with the stage's figures before and after it."""
    errors: dict = {}
    for name in request.args:
        if name != "stage_id":
            errors[name[:64]] = "is not a parameter of this endpoint"
    stage_id = query_id("stage_id", errors)
    raise_if(errors)
    pipeline = get_or_404(Pipeline, pipeline_id)
    if stage_id is not None:
        stage = get_or_404(Stage, stage_id)
        if stage.pipeline_id != pipeline.id:
            return _no_stage()
    return jsonify({"items": change_log(pipeline, stage_id)})


@bp.put("/pipelines/<int:pipeline_id>/stages/<int:stage_id>/requirements")
def put_requirements(pipeline_id, stage_id):
    """Set a stage's entry and exit criteria (admins' keys); `at` in the past records an older change."""
    actor = current_actor()
    pipeline = get_or_404(Pipeline, pipeline_id)
    stage = get_or_404(Stage, stage_id)
    if stage.pipeline_id != pipeline.id:
        return _no_stage()
    if not actor.has_role("admin"):
        raise Forbidden("Only an admin's API key can change a stage's criteria.")
    body = json_object()
    errors: dict = {}
    check_keys(body, REQUIREMENT_KEYS, errors)
    at = time_value(body, "at", errors)
    if at is not None and at > utcnow():
        errors["at"] = "must be in the past"
    raise_if(errors)
    saved = set_requirements_by_key(stage, body.get("entry"), body.get("exit"), body.get("buyer"),
                                    body.get("next_step"), actor, at)
    return jsonify(change_json(saved.change, pipeline, actor.org.zone))


def _no_stage():
    return error_response(404, "not_found", "No such stage in this pipeline.")
