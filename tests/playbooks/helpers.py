"""Shared helpers of the playbook tests."""

from app.extensions import db
from app.models import DiscoveryPrompt
from tests import factories


def prompts(deal, stage_name=None):
    """The call sheet lines of a stage of the deal's pipeline (the deal's own stage by default)."""
    stage = factories.stage(deal.pipeline, stage_name) if stage_name else deal.stage
    return stage, (DiscoveryPrompt.query.filter_by(stage_id=stage.id)
                   .order_by(DiscoveryPrompt.position).all())


def by_key(lines, key):
    return next(p for p in lines if p.field_key == key)


def unmapped(lines, kind="summary"):
    return next(p for p in lines if p.field_key is None and p.kind == kind)


def fresh(model, object_id):
    db.session.expire_all()
    return db.session.get(model, object_id)
