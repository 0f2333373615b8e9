"""Pipelines, their stages, deal fields and the criteria that gate each stage."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

STAGE_KINDS = ("open", "won", "lost")
FIELD_TYPES = {
    "text": "Text",
    "long_text": "Long text",
    "number": "Number",
    "money": "Money",
    "date": "Date",
    "checkbox": "Checkbox",
    "choice": "Choice",
    "contact": "Contact with role",
    "email": "Email",
    "url": "URL",
}
CONTACT_ROLES = {
    "decision_maker": "Decision maker",
    "economic_buyer": "Economic buyer",
    "champion": "Champion",
    "influencer": "Influencer",
    "user": "User",
}
WHEN = ("entry", "exit")


class Pipeline(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    position = db.Column(db.Integer, nullable=False, default=0)
    allow_skip = db.Column(db.Boolean, nullable=False, default=True)
    archived = db.Column(db.Boolean, nullable=False, default=False)
    # Who receives the hand-off task when a deal is won; the deal's owner when unset.
    handoff_user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    stages = db.relationship(
        "Stage", back_populates="pipeline", order_by="Stage.position", lazy="selectin"
    )
    fields = db.relationship(
        "FieldDef", back_populates="pipeline", order_by="FieldDef.position", lazy="selectin"
    )
    handoff_user = db.relationship("User")

    @property
    def active_stages(self):
        return [s for s in self.stages if not s.archived]

    @property
    def open_stages(self):
        return [s for s in self.active_stages if s.kind == "open"]

    @property
    def active_fields(self):
        return [f for f in self.fields if not f.archived]

    def stage_by_kind(self, kind):
        return next((s for s in self.active_stages if s.kind == kind), None)


class Stage(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False, index=True)
    name = db.Column(db.String(80), nullable=False)
    buyer_state = db.Column(db.String(200), nullable=False, default="")
    kind = db.Column(db.String(4), nullable=False, default="open")
    probability = db.Column(db.Integer, nullable=False, default=0)
    max_days = db.Column(db.Integer, nullable=False, default=7)
    is_meeting = db.Column(db.Boolean, nullable=False, default=False)
    # pipeline | best_case | commit | omitted; unset derives one from the probability (reports).
    forecast_category = db.Column(db.String(10))
    guidance = db.Column(db.Text, nullable=False, default="")
    position = db.Column(db.Integer, nullable=False, default=0)
    archived = db.Column(db.Boolean, nullable=False, default=False)
    # Closing discipline: a deal stays in this stage only with a next step dated today or later
    # (Deal.next_step / next_step_due); the board flags the deals in it whose date has passed.
    needs_next_step = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    pipeline = db.relationship(Pipeline, back_populates="stages")
    requirements = db.relationship(
        "StageRequirement",
        back_populates="stage",
        lazy="selectin",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        db.CheckConstraint("kind in ('open','won','lost')", name="kind"),
        db.CheckConstraint("probability >= 0 and probability <= 100", name="probability"),
        db.CheckConstraint("max_days >= 1", name="max_days"),
    )

    def required_fields(self, when):
        """Return the active fields this stage requires on `when` ('entry' or 'exit')."""
        return [
            r.field
            for r in sorted(self.requirements, key=lambda r: r.field.position)
            if r.when == when and not r.field.archived
        ]

    def buyer_keys(self, when) -> set:
        """The keys of the fields this stage requires on `when` that only a buyer's confirmation meets."""
        return {r.field.key for r in self.requirements if r.when == when and r.buyer and not r.field.archived}

    def requires(self, field, when) -> bool:
        return any(r.field_id == field.id and r.when == when for r in self.requirements)


class FieldDef(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False, index=True)
    key = db.Column(db.String(64), nullable=False)
    label = db.Column(db.String(120), nullable=False)
    type = db.Column(db.String(12), nullable=False, default="text")
    help_text = db.Column(db.String(300), nullable=False, default="")
    choices = db.Column(db.JSON)  # list of strings, for type "choice"
    contact_role = db.Column(db.String(20))  # for type "contact"
    min_value = db.Column(db.Numeric(16, 2))
    max_value = db.Column(db.Numeric(16, 2))
    pattern = db.Column(db.String(200))
    future_only = db.Column(db.Boolean, nullable=False, default=False)
    position = db.Column(db.Integer, nullable=False, default=0)
    archived = db.Column(db.Boolean, nullable=False, default=False)

    pipeline = db.relationship(Pipeline, back_populates="fields")

    __table_args__ = (db.UniqueConstraint("pipeline_id", "key", name="uq_field_def_pipeline_key"),)

    def as_api(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "type": self.type,
            "choices": list(self.choices) if self.type == "choice" else None,
        }


class StageRequirement(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    stage_id = db.Column(db.Integer, db.ForeignKey("stage.id"), nullable=False, index=True)
    field_id = db.Column(db.Integer, db.ForeignKey("field_def.id"), nullable=False, index=True)
    when = db.Column(db.String(5), nullable=False)
    # Met only by the buyer's confirmation in the deal room (or a manager's override with a reason).
    buyer = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    stage = db.relationship(Stage, back_populates="requirements")
    field = db.relationship(FieldDef, lazy="joined")

    __table_args__ = (
        db.UniqueConstraint("stage_id", "field_id", "when", name="uq_stage_requirement"),
        db.CheckConstraint("\"when\" in ('entry','exit')", name="when"),
    )


class CriteriaChange(TenantMixin, db.Model):
    """One edit of a stage's criteria (entry, exit, buyer marks, next step) or guidance: who, when,
    and the stage's criteria before and after it (app/pipelines/changes.py writes every one)."""

    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False)
    stage_id = db.Column(db.Integer, db.ForeignKey("stage.id", ondelete="CASCADE"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # {"entry": [keys], "exit": [keys], "buyer": [keys], "next_step": bool, "guidance": text}
    before = db.Column(db.JSON, nullable=False, default=dict)
    after = db.Column(db.JSON, nullable=False, default=dict)
    source = db.Column(db.String(10), nullable=False, default="editor")  # editor | set | stage | field | api
    recorded_at = db.Column(db.DateTime, nullable=False, default=utcnow)  # differs from `at` when backfilled

    stage = db.relationship(Stage)
    user = db.relationship("User")

    __table_args__ = (
        db.Index("ix_criteria_change_pipeline_at", "pipeline_id", "at"),
        db.Index("ix_criteria_change_stage_at", "stage_id", "at"),
    )


class LossReason(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    label = db.Column(db.String(120), nullable=False)
    position = db.Column(db.Integer, nullable=False, default=0)
    archived = db.Column(db.Boolean, nullable=False, default=False)
