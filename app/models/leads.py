"""Leads: the ideal customer profile, scoring rules, events, crossings and lead forms."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

EVENT_TYPES = {
    "meeting_booked": "Meeting booked",
    "email_reply": "Email reply",
    "form_fill": "Form fill",
    "email_click": "Email click",
    "page_view": "Page view",
    "email_open": "Email open",
}
# (points, daily cap) for every new organisation (shared/API.md).
DEFAULT_ENGAGEMENT = {
    "meeting_booked": (40, None), "email_reply": (25, None), "form_fill": (20, None),
    "email_click": (5, None), "page_view": (1, 10), "email_open": (0, None),
}
DEFAULT_LAPSE_DAYS = 90
DEFAULT_MQL = 40
DEFAULT_HOT = 70
DEFAULT_SPEED_MINUTES = 5
SCORE_LEVELS = ("new", "mql", "hot")
CROSSING_KINDS = ("arrival", "mql", "hot")
FIT_FIELDS = {"industry": "Industry", "company_size": "Company size", "title": "Title",
              "country": "Country", "email_domain": "Email domain", "source": "Source"}
FIT_OPERATORS = {"in": "is one of", "not_in": "is none of", "contains": "contains",
                 "between": "is between", "equals": "is"}


class LeadSettings(TenantMixin, db.Model):
    """One row per organisation: thresholds, lapse, speed-to-lead window, routing, rescoring progress."""

    id = db.Column(db.Integer, primary_key=True)
    mql_threshold = db.Column(db.Integer, nullable=False, default=DEFAULT_MQL)
    hot_threshold = db.Column(db.Integer, nullable=False, default=DEFAULT_HOT)
    lapse_days = db.Column(db.Integer, nullable=False, default=DEFAULT_LAPSE_DAYS)
    speed_minutes = db.Column(db.Integer, nullable=False, default=DEFAULT_SPEED_MINUTES)
    # Business hours in the organisation's zone; none set means the clock always runs.
    hours_start = db.Column(db.Integer)  # 0-23
    hours_end = db.Column(db.Integer)  # 1-24, after hours_start
    hours_days = db.Column(db.String(7), nullable=False, default="12345")  # ISO weekdays
    routing = db.Column(db.String(30), nullable=False, default="owner_then_round_robin")
    routing_weights = db.Column(db.JSON, nullable=False, default=dict)  # {"<user id>": weight}
    routing_counter = db.Column(db.Integer, nullable=False, default=0)
    # ICP: lists of strings, and free text for pains and triggers.
    icp_industries = db.Column(db.JSON, nullable=False, default=list)
    icp_sizes = db.Column(db.JSON, nullable=False, default=list)  # ["11-50", "51-200"]
    icp_titles = db.Column(db.JSON, nullable=False, default=list)
    icp_countries = db.Column(db.JSON, nullable=False, default=list)
    icp_pains = db.Column(db.Text, nullable=False, default="")
    icp_triggers = db.Column(db.Text, nullable=False, default="")
    rescore_status = db.Column(db.String(8), nullable=False, default="idle")  # idle|queued|running|done
    rescore_total = db.Column(db.Integer, nullable=False, default=0)
    rescore_done = db.Column(db.Integer, nullable=False, default=0)
    rescore_last_id = db.Column(db.Integer, nullable=False, default=0)
    rescore_run = db.Column(db.Integer, nullable=False, default=0)
    rescore_updated_at = db.Column(db.DateTime)

    __table_args__ = (db.UniqueConstraint("org_id", name="uq_lead_settings_org"),)


def is_icp_fact(field) -> bool:
    """A deal fact that asks "matches our ICP" (named for it, like the templates' icp_match)."""
    return "icp" in f"{field.key} {field.label}".lower()


def icp_summary(org_id: int) -> list:
    """The ideal customer profile in words, [(label, text)] of what is set, for reps to tick against."""
    settings = LeadSettings.query.filter_by(org_id=org_id).first()
    if settings is None:
        return []
    lists = [("Industries", settings.icp_industries), ("Company sizes", settings.icp_sizes),
             ("Titles and roles", settings.icp_titles), ("Countries", settings.icp_countries)]
    out = [(label, ", ".join(items)) for label, items in lists if items]
    out += [(label, text) for label, text in (("Pains", settings.icp_pains), ("Buying triggers", settings.icp_triggers))
            if text]
    return out

    @property
    def rescore_percent(self) -> int:
        return int(100 * self.rescore_done / self.rescore_total) if self.rescore_total else 100


class EngagementRule(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    event_type = db.Column(db.String(20), nullable=False)
    points = db.Column(db.Integer, nullable=False, default=0)
    daily_cap = db.Column(db.Integer)  # most points of this type counted per day

    __table_args__ = (db.UniqueConstraint("org_id", "event_type", name="uq_engagement_rule"),)


class FitRule(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    field = db.Column(db.String(20), nullable=False)
    operator = db.Column(db.String(10), nullable=False)
    value = db.Column(db.String(500), nullable=False)
    points = db.Column(db.Integer, nullable=False)
    from_icp = db.Column(db.Boolean, nullable=False, default=False)


class ContactEvent(TenantMixin, db.Model):
    """Something a lead did; engagement points come from these."""

    id = db.Column(db.Integer, primary_key=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    type = db.Column(db.String(20), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    points = db.Column(db.Integer, nullable=False, default=0)  # as counted when recorded
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (db.Index("ix_contact_event_contact_at", "contact_id", "at"),)


class LeadCrossing(TenantMixin, db.Model):
    """A lead arriving or crossing MQL/hot: once per crossing (unique_key), with its response clock."""

    id = db.Column(db.Integer, primary_key=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False)
    kind = db.Column(db.String(8), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    task_id = db.Column(db.Integer, db.ForeignKey("task.id"))
    # Speed-to-lead: the clock starts here (next business opening); null = not a clock.
    clock_at = db.Column(db.DateTime)
    due_at = db.Column(db.DateTime)
    escalated_at = db.Column(db.DateTime)
    unique_key = db.Column(db.String(80), nullable=False, unique=True)

    owner = db.relationship("User")
    contact = db.relationship("Contact")

    __table_args__ = (
        db.Index("ix_lead_crossing_contact", "contact_id", "kind"),
        db.Index("ix_lead_crossing_clock", "org_id", "clock_at"),
        db.Index("ix_lead_crossing_due", "due_at", "escalated_at"),
        db.CheckConstraint("kind in ('arrival','mql','hot')", name="kind"),
    )


class LeadForm(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(32), nullable=False, unique=True)
    name = db.Column(db.String(120), nullable=False)
    title = db.Column(db.String(200), nullable=False, default="")
    intro = db.Column(db.Text, nullable=False, default="")
    # [{"name": "email", "label": "Work email", "maps_to": "email"|"company"|...|"fact:<key>",
    #   "required": bool, "type": "text"|"email"|"tel"|"textarea"}]
    fields = db.Column(db.JSON, nullable=False, default=list)
    consent_text = db.Column(db.Text, nullable=False, default="")
    thank_you = db.Column(db.Text, nullable=False, default="Thank you. We will be in touch shortly.")
    redirect_url = db.Column(db.String(500), nullable=False, default="")
    high_intent = db.Column(db.Boolean, nullable=False, default=False)
    follow_up_minutes = db.Column(db.Integer, nullable=False, default=60)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"))
    stage_id = db.Column(db.Integer, db.ForeignKey("stage.id"))
    allowed_origins = db.Column(db.Text, nullable=False, default="")  # one origin a line
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    pipeline = db.relationship("Pipeline")
    stage = db.relationship("Stage")


class LeadFormView(TenantMixin, db.Model):
    """One row per form, visitor and day: the denominator of visitor-to-customer."""

    id = db.Column(db.Integer, primary_key=True)
    form_id = db.Column(db.Integer, db.ForeignKey("lead_form.id", ondelete="CASCADE"), nullable=False)
    visitor = db.Column(db.String(64), nullable=False)  # keyed hash of address and browser
    day = db.Column(db.Date, nullable=False)

    __table_args__ = (db.UniqueConstraint("form_id", "visitor", "day", name="uq_lead_form_view"),
                      db.Index("ix_lead_form_view_org_day", "org_id", "day"))


SUBMISSION_STATUSES = ("received", "held")


class LeadSubmission(TenantMixin, db.Model):
    """One validated form submission (its nonce makes a replay a no-op).

    The request stores it and answers; the worker turns a `received` one into the contact,
    event, tasks and deal (processed_at), and the sweep picks up any the queue lost. One
    that came without the proofs (page token, unused nonce, empty honeypot) is `held`: the
    worker never touches it until someone accepts it (then `received`, reviewed_at/by set).
    """

    id = db.Column(db.Integer, primary_key=True)
    form_id = db.Column(db.Integer, db.ForeignKey("lead_form.id", ondelete="CASCADE"), nullable=False)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id", ondelete="CASCADE"))
    payload = db.Column(db.JSON, nullable=False, default=dict)  # {"lead", "facts", "message", "answers"}
    processed_at = db.Column(db.DateTime)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"))
    created_new = db.Column(db.Boolean, nullable=False, default=False)  # the contact was created by it
    nonce = db.Column(db.String(40), nullable=False)
    utm = db.Column(db.JSON, nullable=False, default=dict)
    referrer = db.Column(db.String(500), nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    status = db.Column(db.String(8), nullable=False, default="received", server_default="received")
    held_reason = db.Column(db.String(200), nullable=False, default="", server_default="")  # kept after review
    reviewed_at = db.Column(db.DateTime)  # when a held one was accepted: its lead arrives then
    reviewed_by_id = db.Column(db.Integer, db.ForeignKey("user.id", ondelete="SET NULL"))

    form = db.relationship(LeadForm)
    reviewed_by = db.relationship("User")

    __table_args__ = (db.UniqueConstraint("form_id", "nonce", name="uq_lead_submission_nonce"),
                      db.Index("ix_lead_submission_org_created", "org_id", "created_at"),
                      db.Index("ix_lead_submission_contact", "contact_id"),
                      # The worker's scan: received and unprocessed, oldest first (held ones never match).
                      db.Index("ix_lead_submission_pending", "status", "processed_at", "id"),
                      # The review list and its counts; only held rows are in it, so intake pays nothing.
                      db.Index("ix_lead_submission_held", "org_id", "form_id", "id",
                               postgresql_where=db.text("status = 'held'"), sqlite_where=db.text("status = 'held'")),
                      db.CheckConstraint("status in ('received','held')", name="status"))
