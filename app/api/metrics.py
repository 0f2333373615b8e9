"""API: the METRICS.md numbers of a pipeline over a period, from the same service as the reports page."""

from flask import jsonify, request

from app.api import bp
from app.api.errors import invalid
from app.api.parse import query_id
from app.models import Pipeline
from app.reports.service import ReportInvalid, metrics, parse_period
from app.tenancy import current_actor, get_or_404, scoped

KNOWN = {"pipeline_id", "from", "to", "preset"}


@bp.get("/metrics")
def metrics_view():
    """Return conversion, time in stage, outcomes and forecast for a pipeline and period."""
    actor = current_actor()
    errors = {}
    for name, value in request.args.items(multi=True):
        if name not in KNOWN:
            errors[name[:64]] = "is not a parameter of this endpoint"
        elif value == "":  # the document's parameters are never empty: leave one out for its default
            errors[name] = "must not be empty: leave it out for the default"
    pipeline_id = query_id("pipeline_id", errors)
    try:
        period = parse_period(request.args, actor.org)
    except ReportInvalid as exc:
        errors.update(exc.fields)
    if errors:
        return invalid(errors, "Some report parameters are not valid.")
    if pipeline_id is None:
        pipeline = scoped(Pipeline).filter_by(archived=False).order_by(Pipeline.position, Pipeline.id).first()
        if pipeline is None:
            return invalid({"pipeline_id": "is required: this organisation has no pipeline yet"})
    else:
        pipeline = get_or_404(Pipeline, pipeline_id)
    numbers = metrics(pipeline, period, actor)
    numbers.pop("people")
    return jsonify(numbers)
