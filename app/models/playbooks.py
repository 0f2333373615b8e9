"""Playbooks: a pipeline's discovery call sheet, objection guide, demo prep and hand-off content."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

# The article's structure of a discovery call: open questions, silence, summary statements.
PROMPT_KINDS = {"question": "Open question", "silence": "Silence", "summary": "Summary statement"}
MAX_RESPONSES = 3  # the article: three written responses to each objection


class Playbook(TenantMixin, db.Model):
    """One per pipeline: which facts the demo prep sheet gathers, the objections fact, the hand-off script."""

    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False, unique=True)
    # The deal field the objection picker writes ("Price: answered with ..."), so a stage can require it.
    objections_key = db.Column(db.String(64))
    demo_keys = db.Column(db.JSON, nullable=False, default=list)  # field keys the demo prep sheet shows
    handoff_intro = db.Column(db.Text, nullable=False, default="")  # the warm introduction, as a script


class DiscoveryPrompt(TenantMixin, db.Model):
    """A line of a stage's discovery call sheet: an open question, a silence cue or a summary statement."""

    id = db.Column(db.Integer, primary_key=True)
    stage_id = db.Column(db.Integer, db.ForeignKey("stage.id"), nullable=False, index=True)
    kind = db.Column(db.String(8), nullable=False, default="question")
    text = db.Column(db.String(500), nullable=False)
    field_key = db.Column(db.String(64))  # the deal fact an answer is saved as; none: a timeline note
    position = db.Column(db.Integer, nullable=False, default=0)

    __table_args__ = (db.CheckConstraint("kind in ('question','silence','summary')", name="kind"),)


class DiscoveryAnswer(TenantMixin, db.Model):
    """What a rep typed for one prompt on a call (the demo prep sheet reads the latest of each)."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False, index=True)
    prompt_id = db.Column(db.Integer, db.ForeignKey("discovery_prompt.id", ondelete="SET NULL"))
    question = db.Column(db.String(500), nullable=False)  # as it was asked, whatever happens to the prompt
    answer = db.Column(db.Text, nullable=False)
    saved_as = db.Column(db.String(6), nullable=False)  # fact | note | buyer (a buyer's fact: kept as a note)
    field_key = db.Column(db.String(64))
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.CheckConstraint("saved_as in ('fact','note','buyer')", name="saved_as"),)


class Objection(TenantMixin, db.Model):
    """One of the market's common objections, with up to three written responses."""

    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False, index=True)
    text = db.Column(db.String(300), nullable=False)
    responses = db.Column(db.JSON, nullable=False, default=list)
    position = db.Column(db.Integer, nullable=False, default=0)
    archived = db.Column(db.Boolean, nullable=False, default=False)


class DealObjection(TenantMixin, db.Model):
    """An objection that came up on a deal, and the response the rep used (its index, or none yet)."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False, index=True)
    objection_id = db.Column(db.Integer, db.ForeignKey("objection.id"), nullable=False, index=True)
    response = db.Column(db.Integer)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)

    objection = db.relationship(Objection)

    __table_args__ = (db.UniqueConstraint("deal_id", "objection_id", name="uq_deal_objection"),
                      db.Index("ix_deal_objection_org_at", "org_id", "at"))
