"""The deal room: the buyer's page of a deal, its mutual plan, and the people invited to it."""

from datetime import timedelta

from app.extensions import db
from app.models.base import TenantMixin, utcnow

STEP_SIDES = ("buyer", "seller")
STEP_STATUSES = ("open", "done")
LINK_DAYS_AFTER_CLOSE = 30  # a closed deal's room stays readable this long, then its links lapse


class DealRoom(TenantMixin, db.Model):
    """One per deal: the plan both sides work to."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False, unique=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal")
    steps = db.relationship("RoomStep", back_populates="room", order_by="(RoomStep.position, RoomStep.id)",
                            lazy="selectin")
    comments = db.relationship("RoomComment", back_populates="room", order_by="RoomComment.id")
    colleagues = db.relationship("RoomColleague", back_populates="room", order_by="RoomColleague.id")
    invites = db.relationship("RoomInvite", back_populates="room", order_by="RoomInvite.id", lazy="selectin")

    def links_expire_at(self):
        """When every link of the room lapses: 30 days after the deal closed; None while it is open."""
        deal = self.deal
        if deal.status == "open" or deal.closed_at is None:
            return None
        return deal.closed_at + timedelta(days=LINK_DAYS_AFTER_CLOSE)


class RoomStep(TenantMixin, db.Model):
    """A step of the mutual plan; a buyer's step with a `requirement` writes that fact when confirmed."""

    id = db.Column(db.Integer, primary_key=True)
    room_id = db.Column(db.Integer, db.ForeignKey("deal_room.id"), nullable=False, index=True)
    title = db.Column(db.String(200), nullable=False)
    side = db.Column(db.String(6), nullable=False, default="buyer")
    due_on = db.Column(db.Date)
    status = db.Column(db.String(4), nullable=False, default="open")
    requirement = db.Column(db.String(64))  # a field key of the deal's pipeline
    position = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Who confirmed it and how: the invitee, the name they typed, when, from where.
    confirmed_contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    confirmed_by = db.Column(db.String(254))
    confirmed_name = db.Column(db.String(200))
    confirmed_at = db.Column(db.DateTime)
    confirmed_ip = db.Column(db.String(45))
    confirmed_user_agent = db.Column(db.String(300))
    # A buyer's proposal of another date for their open step, until the rep accepts or declines it.
    proposed_on = db.Column(db.Date)
    proposed_note = db.Column(db.String(300), nullable=False, default="", server_default="")
    proposed_by_contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    proposed_at = db.Column(db.DateTime)

    room = db.relationship(DealRoom, back_populates="steps")
    proposed_by = db.relationship("Contact", foreign_keys=[proposed_by_contact_id])

    __table_args__ = (
        db.CheckConstraint("side in ('buyer','seller')", name="side"),
        db.CheckConstraint("status in ('open','done')", name="status"),
    )


class RoomInvite(TenantMixin, db.Model):
    """One person's link to a room. Only the SHA-256 of its token is kept; a new invite replaces the token."""

    id = db.Column(db.Integer, primary_key=True)
    room_id = db.Column(db.Integer, db.ForeignKey("deal_room.id"), nullable=False, index=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"), nullable=False)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    revoked_at = db.Column(db.DateTime)
    # Sending the link by email: the link encrypted (app/crypto.py) only until the worker hands it to
    # the relay, then cleared; what the relay (or the outbox) answered, and when.
    mail_pending = db.Column(db.Text)
    sent_at = db.Column(db.DateTime)
    send_result = db.Column(db.String(300), nullable=False, default="", server_default="")
    # Since the outbox took room invitations: the email that carries the link (its state is the truth).
    email_id = db.Column(db.Integer, db.ForeignKey("outbound_email.id"))

    room = db.relationship(DealRoom, back_populates="invites")
    contact = db.relationship("Contact")
    email = db.relationship("OutboundEmail")

    __table_args__ = (db.UniqueConstraint("room_id", "contact_id", name="uq_room_invite_contact"),)

    def is_valid(self, now=None) -> bool:
        """Not revoked, and the deal open or closed less than 30 days ago."""
        if self.revoked_at is not None:
            return False
        expires = self.room.links_expire_at()
        return expires is None or (now or utcnow()) < expires


class RoomComment(TenantMixin, db.Model):
    """A message in the room's thread, from an invited buyer (`contact_id`) or the seller (`user_id`).
    Everyone with a link reads the thread: what is internal is a note on the deal, never here."""

    id = db.Column(db.Integer, primary_key=True)
    room_id = db.Column(db.Integer, db.ForeignKey("deal_room.id"), nullable=False, index=True)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    room = db.relationship(DealRoom, back_populates="comments")
    contact = db.relationship("Contact")
    user = db.relationship("User")

    __table_args__ = (db.CheckConstraint("(contact_id is null) <> (user_id is null)", name="one_author"),)

    @property
    def author(self) -> str:
        if self.user is not None:
            return self.user.name or self.user.email
        return self.contact.name or self.contact.email


COLLEAGUE_STATUSES = ("pending", "approved", "declined")


class RoomColleague(TenantMixin, db.Model):
    """A buyer's request that a colleague join the room. The rep approves it (the colleague then gets
    their own link by email) or declines it; either way the request is kept, one per address."""

    id = db.Column(db.Integer, primary_key=True)
    room_id = db.Column(db.Integer, db.ForeignKey("deal_room.id"), nullable=False, index=True)
    email = db.Column(db.String(254), nullable=False)
    name = db.Column(db.String(200), nullable=False, default="")
    requested_by_contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"), nullable=False)
    requested_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    status = db.Column(db.String(8), nullable=False, default="pending")
    decided_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    decided_at = db.Column(db.DateTime)

    room = db.relationship(DealRoom, back_populates="colleagues")
    requested_by = db.relationship("Contact")

    __table_args__ = (
        db.UniqueConstraint("room_id", "email", name="uq_room_colleague_email"),
        db.CheckConstraint("status in ('pending','approved','declined')", name="status"),
    )
