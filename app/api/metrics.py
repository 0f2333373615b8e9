"""API: the METRICS.md numbers of a pipeline over a period, and the deals behind each, from the
same service as the reports page."""

from flask import jsonify, request

from app.api import bp
from app.api.errors import invalid
from app.api.parse import query_id, query_page
from app.models import Pipeline
from app.reports.drill import deals_behind, read_question
from app.reports.service import ReportInvalid, metrics, parse_period, report_owner, scope_owner
from app.tenancy import current_actor, get_or_404, scoped

KNOWN = {"pipeline_id", "from", "to", "preset", "owner_email"}
DRILL_KNOWN = KNOWN | {"metric", "part", "stage_id", "close", "category", "page"}


def _report_args(known: set, errors: dict):
    """Read the report's common parameters: (pipeline or None, period, owner or None), errors filled in."""
    actor = current_actor()
    for name, value in request.args.items(multi=True):
        if name not in known:
            errors[name[:64]] = "is not a parameter of this endpoint"
        elif value == "":  # the document's parameters are never empty: leave one out for its default
            errors[name] = "must not be empty: leave it out for the default"
    pipeline_id = query_id("pipeline_id", errors)
    period = owner = None
    try:
        period = parse_period(request.args, actor.org)
    except ReportInvalid as exc:
        errors.update(exc.fields)
    try:
        owner = report_owner(actor, request.args.get("owner_email", "")[:254])
    except ReportInvalid as exc:
        errors.update(exc.fields)
    if errors:
        return None, period, owner
    if pipeline_id is not None:
        return get_or_404(Pipeline, pipeline_id), period, owner
    pipeline = scoped(Pipeline).filter_by(archived=False).order_by(Pipeline.position, Pipeline.id).first()
    if pipeline is None:
        errors["pipeline_id"] = "is required: this organisation has no pipeline yet"
    return pipeline, period, owner


@bp.get("/metrics")
def metrics_view():
    """Return conversion, time in stage, outcomes and forecast for a pipeline, period and owner."""
    errors: dict = {}
    pipeline, period, owner = _report_args(KNOWN, errors)
    if errors:
        return invalid(errors, "Some report parameters are not valid.")
    numbers = metrics(pipeline, period, current_actor(), owner)
    numbers.pop("people")
    numbers.pop("users")
    return jsonify(numbers)


@bp.get("/metrics/deals")
def metric_deals():
    """Return the deals behind one number of GET /metrics for the same parameters, 50 a page."""
    errors: dict = {}
    pipeline, period, owner = _report_args(DRILL_KNOWN, errors)
    question = read_question(request.args, query_id("stage_id", errors), pipeline, errors)
    page = query_page(errors)
    if errors:
        return invalid(errors, "Some report parameters are not valid.")
    owner_id = owner.id if owner is not None else scope_owner(current_actor())
    return jsonify(deals_behind(pipeline, period, question, owner_id, page))
