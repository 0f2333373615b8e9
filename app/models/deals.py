"""Deals, their stage history, and the people and companies behind them."""

from app.extensions import db
from app.models.base import TenantMixin, iso, utcnow

TRANSITION_KINDS = ("create", "forward", "backward", "skip", "close", "reopen", "override")
DEAL_STATUSES = ("open", "won", "lost")


class Company(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    industry = db.Column(db.String(120), nullable=False, default="")
    size = db.Column(db.String(40), nullable=False, default="")
    website = db.Column(db.String(300), nullable=False, default="")
    domain = db.Column(db.String(253), nullable=False, default="")  # lead routing matches email domains
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.Index("ix_company_org_domain", "org_id", "domain"),)


class Contact(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    company_id = db.Column(db.Integer, db.ForeignKey("company.id"))
    name = db.Column(db.String(200), nullable=False, default="")
    email = db.Column(db.String(254))  # NULL: a contact known by name only (a gate fact "Dana Ortiz, CFO")
    phone = db.Column(db.String(40), nullable=False, default="")
    title = db.Column(db.String(120), nullable=False, default="")
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    persona = db.Column(db.String(80), nullable=False, default="")
    lead_status = db.Column(db.String(20), nullable=False, default="new")
    lead_score = db.Column(db.Integer, nullable=False, default=0)
    unsubscribed = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Lead scoring (app/leads/scoring.py): lead_score = min(100, fit + engagement).
    fit_score = db.Column(db.Integer, nullable=False, default=0)
    engagement_score = db.Column(db.Integer, nullable=False, default=0)
    score_level = db.Column(db.String(4), nullable=False, default="new")  # new|mql|hot, what the score says
    level_changes = db.Column(db.Integer, nullable=False, default=0)  # makes each crossing's unique key
    score_expires_at = db.Column(db.DateTime)  # when the next counted event lapses
    lead_facts = db.Column(db.JSON, nullable=False, default=dict)  # industry, company_size, country...
    source = db.Column(db.String(80), nullable=False, default="")
    source_form_id = db.Column(db.Integer, db.ForeignKey("lead_form.id", ondelete="SET NULL"))
    utm = db.Column(db.JSON, nullable=False, default=dict)
    referrer = db.Column(db.String(500), nullable=False, default="")
    # Why the lead went to its owner, in words, written when routing chose the owner
    # ("owner of Acme's other deals", "round robin among 3 reps"); "" before routing or when set by hand.
    routed_because = db.Column(db.String(200), nullable=False, default="", server_default="")

    company = db.relationship(Company)
    owner = db.relationship("User", foreign_keys=[owner_id])

    __table_args__ = (db.UniqueConstraint("org_id", "email", name="uq_contact_org_email"),
                      db.Index("ix_contact_lead", "org_id", "score_level", "lead_score"),
                      db.Index("ix_contact_score_expires", "score_expires_at"),
                      db.Index("ix_contact_org_phone", "org_id", "phone"))  # an inbound text finds its sender

    @property
    def display(self) -> str:
        if not self.email:
            return self.name
        return f"{self.name} <{self.email}>" if self.name else self.email


class Deal(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"), nullable=False)
    stage_id = db.Column(db.Integer, db.ForeignKey("stage.id"), nullable=False)
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    company_id = db.Column(db.Integer, db.ForeignKey("company.id"))
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    title = db.Column(db.String(200), nullable=False)
    amount = db.Column(db.Numeric(14, 2))
    currency = db.Column(db.String(3), nullable=False, default="USD")
    facts = db.Column(db.JSON, nullable=False, default=dict)
    # Where each fact came from, written by the deals service with the fact (app/deals/provenance.py):
    # {key: {"source": "rep"|"buyer"|"form"|"import"|"api"|"override", "by": email, "at": ISO time, "reason"?}}.
    facts_meta = db.Column(db.JSON, nullable=False, default=dict, server_default="{}")
    status = db.Column(db.String(4), nullable=False, default="open")
    loss_reason_id = db.Column(db.Integer, db.ForeignKey("loss_reason.id"))
    # A loss reason not on the organisation's list: reported as "Other", with this text.
    loss_reason_other = db.Column(db.Text)
    next_step = db.Column(db.String(200), nullable=False, default="")
    next_step_due = db.Column(db.Date)
    # When the rep expects the deal to close (optional): the forecast counts open deals by it.
    expected_close_date = db.Column(db.Date)
    stage_entered_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    closed_at = db.Column(db.DateTime)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)

    pipeline = db.relationship("Pipeline")
    stage = db.relationship("Stage")
    owner = db.relationship("User")
    company = db.relationship(Company)
    contact = db.relationship(Contact)
    loss_reason = db.relationship("LossReason")

    # Optimistic locking: every UPDATE checks the version it read (two writers never
    # silently overwrite each other; the loser gets StaleDataError -> a conflict).
    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        db.Index("ix_deal_board", "org_id", "pipeline_id", "status", "stage_id", "stage_entered_at"),
        # Covers the board's per-column count and total (an index-only scan, not 10k wide rows).
        db.Index("ix_deal_stage_totals", "org_id", "pipeline_id", "stage_id", "owner_id", "amount"),
        # Reports: deals closed in a period (win rate, meeting-to-close, deal cycle).
        db.Index("ix_deal_closed", "org_id", "pipeline_id", "closed_at"),
        # A contact's or a company's deals (their pages, lead routing, the visitor-to-customer rate).
        db.Index("ix_deal_contact", "contact_id"),
        db.Index("ix_deal_company", "company_id"),
        # The forecast and the deals list: open deals expected to close in a period.
        db.Index("ix_deal_expected_close", "org_id", "pipeline_id", "status", "expected_close_date"),
        db.CheckConstraint("status in ('open','won','lost')", name="status"),
    )


class DealContact(TenantMixin, db.Model):
    """A contact's role on a deal (decision maker, champion, ...)."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False, index=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"), nullable=False, index=True)
    role = db.Column(db.String(20), nullable=False)

    contact = db.relationship(Contact)

    __table_args__ = (db.UniqueConstraint("deal_id", "contact_id", "role", name="uq_deal_contact"),)


class StageTransition(TenantMixin, db.Model):
    """One stage change of a deal, with the facts and criteria as they stood then."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False)
    from_stage_id = db.Column(db.Integer, db.ForeignKey("stage.id"))
    to_stage_id = db.Column(db.Integer, db.ForeignKey("stage.id"), nullable=False)
    kind = db.Column(db.String(10), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    facts = db.Column(db.JSON, nullable=False, default=dict)
    criteria = db.Column(db.JSON, nullable=False, default=list)
    reason = db.Column(db.Text, nullable=False, default="")
    override = db.Column(db.Boolean, nullable=False, default=False)
    # When the deal entered `from_stage`: the `at` of its previous transition (in (at, id) order),
    # NULL on a creation. Written by the gate with the move (app/deals/service.py _move, from the
    # deal's stage_entered_at, which the gate keeps equal to its latest transition's `at`), so a
    # completed stay is one row [from_entered_at, at) in from_stage: time in stage is a range on
    # `at`, not a LEAD() over every history (app/reports/queries.py), and no earlier row changes.
    from_entered_at = db.Column(db.DateTime)

    from_stage = db.relationship("Stage", foreign_keys=[from_stage_id])
    to_stage = db.relationship("Stage", foreign_keys=[to_stage_id])
    user = db.relationship("User")

    __table_args__ = (
        db.Index("ix_transition_deal_at", "deal_id", "at"),
        # The reports' range (a pipeline's transitions in a period): the trailing columns are what
        # conversion and time in stage read, so both are index-only scans, not 50,000 row lookups.
        db.Index("ix_transition_org_to_at", "org_id", "to_stage_id", "at", "deal_id", "id", "from_stage_id",
                 "from_entered_at"),
        # Reports: "did this deal enter the meeting stage (before it closed)", one probe per closed deal.
        db.Index("ix_transition_deal_stage", "deal_id", "to_stage_id", "at"),
    )

    def as_api(self) -> dict:
        return {
            "from_stage_id": self.from_stage_id,
            "to_stage_id": self.to_stage_id,
            "kind": self.kind,
            "at": iso(self.at),
            "user_email": self.user.email if self.user else None,
            "facts": self.facts,
            "criteria": self.criteria,
            "reason": self.reason,
            "override": self.override,
        }


class Task(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), index=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    kind = db.Column(db.String(20), nullable=False, default="follow_up")
    title = db.Column(db.String(200), nullable=False)
    notes = db.Column(db.Text, nullable=False, default="")
    due_at = db.Column(db.DateTime)
    done_at = db.Column(db.DateTime)
    # What created it, so a job that runs twice creates it once (e.g. "handoff:deal:7").
    unique_key = db.Column(db.String(120), unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    owner = db.relationship("User")
    deal = db.relationship(Deal)
    contact = db.relationship(Contact)


class Notification(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    kind = db.Column(db.String(20), nullable=False)
    text = db.Column(db.String(300), nullable=False)
    url = db.Column(db.String(300), nullable=False, default="")
    read_at = db.Column(db.DateTime)
    unique_key = db.Column(db.String(120), unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class DealFieldChange(TenantMixin, db.Model):
    """A change of a deal's amount, next-step date or expected close date: the weekly review's "what
    changed" is exact, and the forecast of a past week can be rebuilt."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False)
    field = db.Column(db.String(20), nullable=False)
    old_value = db.Column(db.String(40))
    new_value = db.Column(db.String(40))
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.Index("ix_deal_field_change_org_at", "org_id", "at"),
        db.Index("ix_deal_field_change_deal_at", "deal_id", "at"),
        db.CheckConstraint("field in ('amount','next_step_due','expected_close_date')", name="field"),
    )
