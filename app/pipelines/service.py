"""Pipeline shaping: templates, requirement sets, and the rules for editing them."""

import re

from app.extensions import db
from app.models import FieldDef, LossReason, Pipeline, Stage, StageRequirement
from app.pipelines.catalog import LOSS_REASONS, REQUIREMENT_SETS, TEMPLATES


class PipelineError(Exception):
    """An edit that cannot be made; `message` says why and what to do instead."""

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def slug_key(label: str) -> str:
    """Turn a label into a field key: lowercase words joined by underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return (key or "field")[:64]


def _add_field(pipeline: Pipeline, key, label, type_, options, position) -> FieldDef:
    field = FieldDef(
        org_id=pipeline.org_id, pipeline=pipeline, key=key, label=label, type=type_,
        position=position, **options,
    )
    db.session.add(field)
    return field


def _require(stage: Stage, field: FieldDef, when: str) -> None:
    if not any(r.field is field and r.when == when for r in stage.requirements):
        stage.requirements.append(StageRequirement(org_id=stage.org_id, field=field, when=when))


def create_from_template(org, template_key: str, name: str | None = None) -> Pipeline:
    """Create a pipeline with its stages, fields and criteria from a catalogue template."""
    spec = TEMPLATES.get(template_key)
    if spec is None:
        raise PipelineError(f"Unknown template {template_key!r}.", {"template": "is not a template"})
    position = (db.session.query(db.func.max(Pipeline.position)).filter_by(org_id=org.id).scalar() or 0) + 1
    pipeline = Pipeline(org_id=org.id, name=name or spec["name"], allow_skip=spec["allow_skip"],
                        position=position)
    db.session.add(pipeline)
    fields = {}
    for i, (key, label, type_, options) in enumerate(spec["fields"], start=1):
        fields[key] = _add_field(pipeline, key, label, type_, options, i)
    pos = 0
    for pos, (stage_name, buyer_state, prob, entry, exit_, guidance) in enumerate(spec["stages"], start=1):
        stage = Stage(org_id=org.id, pipeline=pipeline, name=stage_name, buyer_state=buyer_state,
                      probability=prob, position=pos, guidance=guidance,
                      is_meeting=stage_name == spec["meeting"])
        db.session.add(stage)
        for key in entry:
            _require(stage, fields[key], "entry")
        for key in exit_:
            _require(stage, fields[key], "exit")
    won_name, won_entry, won_exit = spec["won"]
    won = Stage(org_id=org.id, pipeline=pipeline, name=won_name, kind="won", probability=100,
                position=pos + 1, buyer_state="Contract signed; onboarding has the context",
                guidance="Hand off to onboarding with a warm introduction and documented context.")
    db.session.add(won)
    for key in won_entry:
        _require(won, fields[key], "entry")
    for key in won_exit:
        _require(won, fields[key], "exit")
    db.session.add(Stage(org_id=org.id, pipeline=pipeline, name=spec["lost"], kind="lost",
                         probability=0, position=pos + 2, buyer_state="Buyer decided not to buy",
                         guidance="Record the real reason: it feeds the loss report."))
    ensure_loss_reasons(org)
    db.session.commit()
    return pipeline


def ensure_loss_reasons(org) -> None:
    """Give an organisation the default loss reasons if it has none."""
    if LossReason.query.filter_by(org_id=org.id).first() is None:
        for i, label in enumerate(LOSS_REASONS, start=1):
            db.session.add(LossReason(org_id=org.id, label=label, position=i))


def apply_requirement_set(stage: Stage, set_key: str, when: str = "exit") -> list[FieldDef]:
    """Require a BANT/MEDDIC set on a stage, creating the pipeline's missing fields."""
    spec = REQUIREMENT_SETS.get(set_key)
    if spec is None:
        raise PipelineError(f"Unknown requirement set {set_key!r}.", {"set": "is not a requirement set"})
    if when not in ("entry", "exit"):
        raise PipelineError("Choose entry or exit.", {"when": "must be entry or exit"})
    pipeline = stage.pipeline
    existing = {f.key: f for f in pipeline.fields}
    position = max((f.position for f in pipeline.fields), default=0)
    applied = []
    for key, label, type_, options in spec["fields"]:
        field = existing.get(key)
        if field is None:
            position += 1
            field = _add_field(pipeline, key, label, type_, options, position)
        elif field.archived:
            field.archived = False
        _require(stage, field, when)
        applied.append(field)
    db.session.commit()
    return applied
