"""The activity timeline, and CSV import jobs with their per-row results."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

ACTIVITY_KINDS = {
    "note": "Note",
    "call": "Call",
    "meeting": "Meeting",
    "email": "Email",
    "sms": "Text message",
    "reply": "Reply",
    "form_fill": "Form fill",
    "lead": "Lead status",
    "room": "Deal room",
}
LOGGABLE_KINDS = ("note", "call", "meeting", "email")  # what a person logs by hand (an email sent or received outside Stagegate)
# A call, an email or a meeting is a touch: it answers a lead (speed to lead); a note is not.
TOUCH_KINDS = ("call", "email", "meeting")
# The tasks a lead's crossing makes (app/leads/scoring.py); a touch on the lead closes them.
LEAD_TASK_KINDS = ("hot_lead", "lead_follow_up")
IMPORT_KINDS = {"companies": "Companies", "contacts": "Contacts", "deals": "Deals"}
IMPORT_STATUSES = ("mapping", "queued", "running", "done", "failed")


class Activity(TenantMixin, db.Model):
    """Something that happened with a deal or contact (stage changes live in StageTransition)."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"))
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    kind = db.Column(db.String(10), nullable=False, default="note")
    body = db.Column(db.Text, nullable=False, default="")
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # What produced it, so a job that runs twice logs it once (e.g. "send:enrollment:3:step:2").
    unique_key = db.Column(db.String(120), unique=True)

    user = db.relationship("User")
    deal = db.relationship("Deal")
    contact = db.relationship("Contact")

    __table_args__ = (
        db.Index("ix_activity_deal_at", "deal_id", "at"),
        db.Index("ix_activity_contact_at", "contact_id", "at"),
        db.CheckConstraint(
            "kind in ('note','call','meeting','email','sms','reply','form_fill','lead','room')", name="kind"
        ),
    )


class ImportJob(TenantMixin, db.Model):
    """One uploaded CSV: its mapping, progress counters and status."""

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    kind = db.Column(db.String(10), nullable=False)
    pipeline_id = db.Column(db.Integer, db.ForeignKey("pipeline.id"))
    filename = db.Column(db.String(255), nullable=False, default="")
    # The decoded file lives in the database so any worker machine can run the job.
    content = db.deferred(db.Column(db.Text, nullable=False, default=""))
    delimiter = db.Column(db.String(1), nullable=False, default=",")
    headers = db.Column(db.JSON, nullable=False, default=list)
    mapping = db.Column(db.JSON, nullable=False, default=list)  # one target (or "") per column
    note = db.Column(db.String(300), nullable=False, default="")  # e.g. "read as Windows-1252"
    status = db.Column(db.String(8), nullable=False, default="mapping")
    total_rows = db.Column(db.Integer, nullable=False, default=0)
    processed = db.Column(db.Integer, nullable=False, default=0)
    created_count = db.Column(db.Integer, nullable=False, default=0)
    updated_count = db.Column(db.Integer, nullable=False, default=0)
    error_count = db.Column(db.Integer, nullable=False, default=0)
    warning_count = db.Column(db.Integer, nullable=False, default=0)  # imported, with a note in the report
    message = db.Column(db.String(500), nullable=False, default="")
    # Set by an admin or manager to import deals past the gate (each deal's history records it).
    override_reason = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)
    # When the job was last queued or committed a batch: the sweep wakes one quiet for 2 minutes.
    progress_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")
    pipeline = db.relationship("Pipeline")

    __table_args__ = (
        db.CheckConstraint(
            "status in ('mapping','queued','running','done','failed')", name="status"
        ),
        # The import sweep's lookup of unfinished imports by their last progress.
        db.Index("ix_import_job_unfinished", "status", "progress_at"),
    )

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total_rows) if self.total_rows else 0


class ImportRow(TenantMixin, db.Model):
    """The outcome of one CSV row, committed with what it created (so a rerun never repeats it)."""

    id = db.Column(db.Integer, primary_key=True)
    import_id = db.Column(db.Integer, db.ForeignKey("import_job.id"), nullable=False)
    row_number = db.Column(db.Integer, nullable=False)  # as a spreadsheet shows it (header = 1)
    outcome = db.Column(db.String(8), nullable=False)  # created | updated | error
    problems = db.Column(db.JSON, nullable=False, default=list)  # [{"column", "message"}]
    reported = db.Column(db.Boolean, nullable=False, default=False)  # in the error report

    __table_args__ = (
        db.UniqueConstraint("import_id", "row_number", name="uq_import_row"),
        db.Index("ix_import_row_reported", "import_id", "reported", "row_number"),
    )
