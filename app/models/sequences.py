"""Outreach sequences: steps, enrollments, one send row per enrollment step, replies, suppressions."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

STEP_TYPES = {"email": "Email", "sms": "Text message (SMS)", "call": "Call task", "linkedin": "LinkedIn task"}
ENROLLMENT_STATUSES = ("active", "paused", "replied", "finished", "bounced", "unsubscribed", "stopped")
OPEN_STATUSES = ("active", "paused")
# What happened to one step of one enrollment (StepSend.status):
#   sending   claimed and committed before the SMTP conversation; a crash leaves it, a later sweep calls it unknown
#   retrying  the relay answered 4xx for this recipient or message; tried again at next_attempt_at (5 min, 30 min, 2 h)
#   sent      the relay answered 250 after the message (relay_reply holds its words, e.g. "250 2.0.0 Ok: queued as X")
#   bounced   the relay refused this recipient or this message for good (5xx); relay_reply says why
#   failed    still refused for the moment after the last retry: the enrollment pauses and its owner is told
#   unknown   the conversation broke during or after the message: it may have arrived; never resent on its own
#   skipped   the message could not be built (e.g. an address the email library cannot write), or a text
#             step found no mobile number that may be texted (error says why)
#   task      a call or LinkedIn step became a task
SEND_STATUSES = ("sending", "retrying", "sent", "bounced", "failed", "unknown", "skipped", "task")


class Sequence(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    # ISO weekdays the window is open (1 = Monday), e.g. "12345".
    send_days = db.Column(db.String(7), nullable=False, default="12345")
    send_start_hour = db.Column(db.Integer, nullable=False, default=8)
    send_end_hour = db.Column(db.Integer, nullable=False, default=18)
    daily_cap = db.Column(db.Integer, nullable=False, default=40)  # emails per sending rep per day
    spacing_minutes = db.Column(db.Integer, nullable=False, default=5)  # random 0..N minutes added per send
    archived = db.Column(db.Boolean, nullable=False, default=False)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    steps = db.relationship("SequenceStep", order_by="SequenceStep.position", cascade="all, delete-orphan",
                            back_populates="sequence")

    __table_args__ = (
        db.CheckConstraint("send_start_hour >= 0 and send_end_hour <= 24 and send_start_hour < send_end_hour",
                           name="send_hours"),
        db.CheckConstraint("daily_cap >= 1", name="daily_cap"),
    )


class SequenceStep(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    sequence_id = db.Column(db.Integer, db.ForeignKey("sequence.id"), nullable=False)
    position = db.Column(db.Integer, nullable=False)  # 1, 2, 3...
    type = db.Column(db.String(10), nullable=False, default="email")
    wait_days = db.Column(db.Integer, nullable=False, default=0)
    subject = db.Column(db.String(200), nullable=False, default="")
    body = db.Column(db.Text, nullable=False, default="")

    sequence = db.relationship(Sequence, back_populates="steps")

    __table_args__ = (
        db.UniqueConstraint("sequence_id", "position", name="uq_sequence_step_position"),
        db.CheckConstraint("type in ('email','sms','call','linkedin')", name="type"),
        db.CheckConstraint("wait_days >= 0", name="wait_days"),
    )


class Enrollment(TenantMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    sequence_id = db.Column(db.Integer, db.ForeignKey("sequence.id"), nullable=False, index=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"), nullable=False, index=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"))
    # The sender: From and {{owner_name}}. The contact's owner (else the enroller) until the first email
    # goes out, then fixed: a thread keeps one voice, and replies land in that sender's inbox.
    owner_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    enrolled_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    status = db.Column(db.String(12), nullable=False, default="active")
    position = db.Column(db.Integer, nullable=False, default=1)  # the next step to run
    next_due_at = db.Column(db.DateTime)  # when the next step runs; NULL when nothing is due
    paused_until = db.Column(db.DateTime)
    pause_reason = db.Column(db.String(200), nullable=False, default="")
    # "<sequence>:<contact>" while active or paused, NULL once ended: one open enrollment per pair.
    open_key = db.Column(db.String(40), unique=True)
    enrolled_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    first_sent_at = db.Column(db.DateTime)
    replied_at = db.Column(db.DateTime)
    ended_at = db.Column(db.DateTime)

    sequence = db.relationship(Sequence)
    contact = db.relationship("Contact")
    owner = db.relationship("User", foreign_keys=[owner_id])
    enrolled_by = db.relationship("User", foreign_keys=[enrolled_by_id])
    sends = db.relationship("StepSend", order_by="StepSend.position", back_populates="enrollment")

    __table_args__ = (
        db.Index("ix_enrollment_due", "status", "next_due_at"),
        db.CheckConstraint(
            "status in ('active','paused','replied','finished','bounced','unsubscribed','stopped')", name="status"),
    )


class StepSend(TenantMixin, db.Model):
    """What happened to one step of one enrollment: at most one row, so at most one send."""

    id = db.Column(db.Integer, primary_key=True)
    enrollment_id = db.Column(db.Integer, db.ForeignKey("enrollment.id"), nullable=False)
    step_id = db.Column(db.Integer, db.ForeignKey("sequence_step.id"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False)
    sender_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    status = db.Column(db.String(8), nullable=False, default="sending")
    message_id = db.Column(db.String(200), unique=True)  # stored before the message leaves
    to_email = db.Column(db.String(254), nullable=False, default="")
    to_phone = db.Column(db.String(16), nullable=False, default="", server_default="")  # a text step's number, E.164
    # A text step: the provider's message id (its status callbacks name it) and its latest delivery report.
    provider_sid = db.Column(db.String(64), unique=True)
    delivery = db.Column(db.String(12), nullable=False, default="", server_default="")
    task_id = db.Column(db.Integer, db.ForeignKey("task.id"))
    error = db.Column(db.String(300), nullable=False, default="")  # what went wrong, in words
    relay_reply = db.Column(db.String(300), nullable=False, default="", server_default="")  # the relay's last answer
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")  # times handed to the relay
    next_attempt_at = db.Column(db.DateTime)  # retrying: when the sweep tries again
    claimed_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    sent_at = db.Column(db.DateTime)

    enrollment = db.relationship(Enrollment, back_populates="sends")
    step = db.relationship(SequenceStep)

    __table_args__ = (
        db.UniqueConstraint("enrollment_id", "step_id", name="uq_step_send_enrollment_step"),
        db.Index("ix_step_send_sender_claimed", "sender_id", "claimed_at"),
        db.Index("ix_step_send_status_claimed", "status", "claimed_at"),
        db.Index("ix_step_send_to_phone", "to_phone"),  # an inbound text finds who was texted at its number
        db.CheckConstraint("status in ('sending','retrying','sent','bounced','failed','unknown','skipped','task')",
                           name="status"),
    )


# The outbox page: an organisation's latest sends, newest first (a rep's use ix_step_send_sender_claimed).
db.Index("ix_step_send_org_claimed", StepSend.org_id, StepSend.claimed_at)
class SenderPause(TenantMixin, db.Model):
    """Sending held because the installation failed, not a recipient: nobody is suppressed, nothing is counted.

    One sender's (user_id: the relay refused that From) or every sender's of the organisation
    (user_id NULL: connection, TLS, authentication, a relay that stops answering). The sweep
    leaves the held enrollments alone (still active and due) until the pause is cleared: by
    "Resume sending", or, for a failure that can pass (retry_at set), by the first send that
    gets through once retry_at has come.
    """

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    kind = db.Column(db.String(12), nullable=False)  # sender | connection | timeout | tls | auth | relay
    reason = db.Column(db.String(300), nullable=False)  # in words, with the relay's answer
    since = db.Column(db.DateTime, nullable=False, default=utcnow)
    retry_at = db.Column(db.DateTime)  # NULL: held until someone resumes it
    failures = db.Column(db.Integer, nullable=False, default=1)  # tries that failed in a row
    cleared_at = db.Column(db.DateTime)
    cleared_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))  # NULL with cleared_at: a send got through
    # "<org>:<user>" or "<org>:*" while open, NULL once cleared: one open pause per sender and scope.
    open_key = db.Column(db.String(40), unique=True)

    user = db.relationship("User", foreign_keys=[user_id])


class SenderDay(TenantMixin, db.Model):
    """Emails one sender handed to the relay on one day of the organisation's calendar: the daily cap.

    The claim takes a slot with `sent = sent + 1 WHERE sent < cap` in its own transaction, so
    concurrent sweeps and workers queue on this row and never pass the cap together.
    """

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    day = db.Column(db.Date, nullable=False)
    sent = db.Column(db.Integer, nullable=False, default=0)

    __table_args__ = (db.UniqueConstraint("user_id", "day", name="uq_sender_day_user_day"),)


class Suppression(TenantMixin, db.Model):
    """An address the organisation must not email again (unsubscribed or bounced)."""

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False)
    reason = db.Column(db.String(12), nullable=False)  # unsubscribed | bounced | manual
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.UniqueConstraint("org_id", "email", name="uq_suppression_org_email"),
        # SQLite does not enforce VARCHAR lengths: refuse there what PostgreSQL refuses.
        db.CheckConstraint("length(email) <= 254", name="email_length"),
    )


class InboundEmail(TenantMixin, db.Model):
    """One inbound message handled (webhook or IMAP), so a retry or a re-poll acts once."""

    id = db.Column(db.Integer, primary_key=True)
    # No index of its own: the unique (org_id, message_key) serves org_id lookups, and a lone org_id
    # index is what PostgreSQL picks with stale statistics, reading an organisation's every message.
    org_id = db.Column(db.Integer, db.ForeignKey("organization.id"), nullable=False)
    message_key = db.Column(db.String(64), nullable=False)  # sha256 of its Message-ID (or of its bytes)
    kind = db.Column(db.String(12), nullable=False)  # reply | auto_reply | bounce | unmatched | unsubscribe
    enrollment_id = db.Column(db.Integer, db.ForeignKey("enrollment.id"))
    from_email = db.Column(db.String(254), nullable=False, default="")
    subject = db.Column(db.String(300), nullable=False, default="")
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        db.UniqueConstraint("org_id", "message_key", name="uq_inbound_email_key"),
        db.CheckConstraint("length(from_email) <= 254 and length(subject) <= 300", name="lengths"),
    )


QUARANTINE_SOURCES = ("imap", "webhook")
# held: waiting for an admin; handled: a retry succeeded; dropped: an admin let it go.
QUARANTINE_STATUSES = ("held", "handled", "dropped")


class QuarantinedEmail(TenantMixin, db.Model):
    """An inbound message that could not be handled, set aside with its reason for an admin."""

    id = db.Column(db.Integer, primary_key=True)
    mailbox_id = db.Column(db.Integer, db.ForeignKey("mailbox.id", ondelete="SET NULL"))
    source = db.Column(db.String(8), nullable=False)
    message_key = db.Column(db.String(64), nullable=False)  # as InboundEmail's: the same message is held once
    raw = db.Column(db.LargeBinary, nullable=False, default=b"")  # emptied once handled or dropped
    headers_only = db.Column(db.Boolean, nullable=False, default=False)  # too large: its headers were kept
    reason = db.Column(db.String(300), nullable=False)
    sender = db.Column(db.String(300), nullable=False, default="")  # the From header as written, for display
    subject = db.Column(db.String(300), nullable=False, default="")
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    attempts = db.Column(db.Integer, nullable=False, default=1)
    status = db.Column(db.String(8), nullable=False, default="held")

    __table_args__ = (
        db.UniqueConstraint("org_id", "message_key", name="uq_quarantined_email_key"),
        db.Index("ix_quarantined_email_org_status", "org_id", "status", "received_at"),
        db.CheckConstraint("source in ('imap','webhook')", name="source"),
        db.CheckConstraint("status in ('held','handled','dropped')", name="status"),
    )


class OutreachSettings(TenantMixin, db.Model):
    """Per organisation: how its outreach email is sent (app/sequences/mail_settings.py).

    An empty relay host means the installation's SMTP_URL; an empty public URL, its BASE_URL.
    """

    id = db.Column(db.Integer, primary_key=True)
    postal_address = db.Column(db.String(300), nullable=False, default="")
    relay_host = db.Column(db.String(253), nullable=False, default="", server_default="")
    relay_port = db.Column(db.Integer)
    relay_security = db.Column(db.String(8), nullable=False, default="starttls", server_default="starttls")
    relay_username = db.Column(db.String(254), nullable=False, default="", server_default="")
    relay_password_encrypted = db.Column(db.Text, nullable=False, default="", server_default="")  # Fernet
    public_url = db.Column(db.String(300), nullable=False, default="", server_default="")
    unsubscribe_mailto = db.Column(db.String(254), nullable=False, default="", server_default="")

    __table_args__ = (
        db.UniqueConstraint("org_id", name="uq_outreach_settings_org"),
        db.CheckConstraint("relay_security in ('none','starttls','ssl')", name="relay_security"),
        db.CheckConstraint("relay_port is null or relay_port between 1 and 65535", name="relay_port"),
    )


class Mailbox(TenantMixin, db.Model):
    """An IMAP inbox polled for replies: the organisation's shared one (user_id NULL) or a rep's."""

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    host = db.Column(db.String(253), nullable=False)
    port = db.Column(db.Integer, nullable=False, default=993)
    security = db.Column(db.String(8), nullable=False, default="ssl")  # ssl | starttls | none
    username = db.Column(db.String(254), nullable=False)
    password_encrypted = db.Column(db.Text, nullable=False)  # Fernet, keyed from SECRET_KEY
    folder = db.Column(db.String(120), nullable=False, default="INBOX")
    last_uid = db.Column(db.BigInteger, nullable=False, default=0)
    uid_validity = db.Column(db.BigInteger)
    next_poll_at = db.Column(db.DateTime, nullable=False, default=utcnow, index=True)
    last_polled_at = db.Column(db.DateTime)
    last_error = db.Column(db.String(300), nullable=False, default="")

    user = db.relationship("User")


class BulkEnrollJob(TenantMixin, db.Model):
    """Enrolling many contacts at once, run by the worker with progress the page polls."""

    id = db.Column(db.Integer, primary_key=True)
    sequence_id = db.Column(db.Integer, db.ForeignKey("sequence.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    contact_ids = db.Column(db.JSON, nullable=False, default=list)
    search = db.Column(db.String(200), nullable=False, default="")  # the contacts search it came from
    status = db.Column(db.String(8), nullable=False, default="queued")  # queued | running | done
    total = db.Column(db.Integer, nullable=False, default=0)
    processed = db.Column(db.Integer, nullable=False, default=0)
    enrolled = db.Column(db.Integer, nullable=False, default=0)
    skipped = db.Column(db.JSON, nullable=False, default=list)  # [{"email", "reason"}]
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    touched_at = db.Column(db.DateTime, nullable=False, default=utcnow)  # last progress; the sweep resumes stale jobs
    finished_at = db.Column(db.DateTime)

    sequence = db.relationship(Sequence)

    __table_args__ = (db.Index("ix_bulk_enroll_job_status_touched", "status", "touched_at"),)

    @property
    def finished(self) -> bool:
        return self.status == "done"

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100


# What happened to a one-off email (OutboundEmail.status): StepSend's words, plus `queued` (waiting for the worker).
OUTBOUND_STATUSES = ("queued", "sending", "retrying", "sent", "bounced", "failed", "unknown", "skipped")


class OutboundEmail(TenantMixin, db.Model):
    """A one-off email (a meeting invitation), built when queued and sent by the worker with StepSend's delivery truth.

    `key` makes queueing idempotent (one row per meeting revision and recipient); `message`
    holds the finished bytes, so what goes out is what the change that queued it said.
    """

    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(12), nullable=False, default="booking")
    key = db.Column(db.String(120), nullable=False, unique=True)
    sender_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    from_email = db.Column(db.String(254), nullable=False)
    to_email = db.Column(db.String(254), nullable=False)
    subject = db.Column(db.String(300), nullable=False, default="")
    message = db.deferred(db.Column(db.LargeBinary, nullable=False))
    # A message that carries a bearer link (a room invitation) is kept encrypted while it waits and
    # emptied once its outcome is known, so the database never holds a usable link in the clear.
    sealed = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    message_id = db.Column(db.String(200), nullable=False, unique=True)
    link = db.Column(db.String(200), nullable=False, default="")  # where the sender is sent when it fails
    status = db.Column(db.String(8), nullable=False, default="queued")
    relay_reply = db.Column(db.String(300), nullable=False, default="")
    error = db.Column(db.String(300), nullable=False, default="")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime)  # queued or retrying: when the worker tries it
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    claimed_at = db.Column(db.DateTime)
    sent_at = db.Column(db.DateTime)

    __table_args__ = (
        db.Index("ix_outbound_email_due", "status", "next_attempt_at"),
        db.CheckConstraint("status in ('queued','sending','retrying','sent','bounced','failed','unknown','skipped')",
                           name="status"),
    )
