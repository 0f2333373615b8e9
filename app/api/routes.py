"""API: the key's organisation, and its pipelines with their stages, requirements and fields."""

from flask import jsonify

from app.api import bp
from app.models import Pipeline
from app.tenancy import current_actor, scoped


def stage_json(stage) -> dict:
    return {
        "id": stage.id,
        "name": stage.name,
        "position": stage.position,
        "kind": stage.kind,
        "probability": stage.probability,
        "max_days": stage.max_days,
        "meeting": stage.is_meeting,
        "requirements": {
            "entry": [f.key for f in stage.required_fields("entry")],
            "exit": [f.key for f in stage.required_fields("exit")],
            # Those of them only a buyer's confirmation in the deal room meets (or an override with a reason).
            "buyer": sorted(stage.buyer_keys("entry") | stage.buyer_keys("exit")),
        },
    }


def pipeline_json(pipeline) -> dict:
    return {
        "id": pipeline.id,
        "name": pipeline.name,
        "stages": [stage_json(s) for s in sorted(pipeline.active_stages, key=lambda s: (s.position, s.id))],
        "fields": [f.as_api() for f in pipeline.active_fields],
    }


@bp.get("/organization")
def organization():
    """Describe the key's organisation: its name, slug, time zone and currency (any key of it may read)."""
    org = current_actor().org
    # The zone reports and "today" are counted in: an unknown stored name counts as UTC there too.
    return jsonify({"name": org.name, "slug": org.slug, "time_zone": org.zone.key, "currency": org.currency})


@bp.get("/pipelines")
def pipelines():
    """List the organisation's active pipelines with their stages and fields."""
    rows = scoped(Pipeline).filter_by(archived=False).order_by(Pipeline.position, Pipeline.id).all()
    return jsonify([pipeline_json(p) for p in rows])
