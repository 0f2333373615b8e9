"""Booking: a rep's bookable hours (profile and weekly windows) and the meetings booked in them."""

from app.extensions import db
from app.models.base import TenantMixin, utcnow

MEETING_STATUSES = ("booked", "cancelled")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class BookingProfile(TenantMixin, db.Model):
    """One user's booking settings; the row is also what a booking locks, so two bookings of one rep queue up."""

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, unique=True)
    timezone = db.Column(db.String(64))  # NULL: the organisation's zone
    lengths = db.Column(db.String(40), nullable=False, default="30")  # minutes offered, e.g. "30,60"
    notice_hours = db.Column(db.Integer, nullable=False, default=4)  # nothing bookable sooner than this
    horizon_days = db.Column(db.Integer, nullable=False, default=21)  # nor further ahead than this
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship("User")

    __table_args__ = (
        db.CheckConstraint("notice_hours between 0 and 720", name="notice_hours"),
        db.CheckConstraint("horizon_days between 1 and 365", name="horizon_days"),
    )

    @property
    def length_list(self) -> list[int]:
        """The meeting lengths offered, in minutes, shortest first."""
        return sorted({int(x) for x in (self.lengths or "").split(",") if x.strip().isdigit()})


class AvailabilityWindow(TenantMixin, db.Model):
    """A weekly stretch of bookable time in the profile's zone: weekday 0 = Monday, minutes from midnight."""

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    weekday = db.Column(db.Integer, nullable=False)
    start_minute = db.Column(db.Integer, nullable=False)
    end_minute = db.Column(db.Integer, nullable=False)

    __table_args__ = (
        db.Index("ix_availability_window_user_day", "user_id", "weekday", "start_minute"),
        db.CheckConstraint("weekday between 0 and 6", name="weekday"),
        db.CheckConstraint("start_minute >= 0 and end_minute <= 1440 and start_minute < end_minute", name="minutes"),
    )


class Meeting(TenantMixin, db.Model):
    """A meeting booked on a deal with a rep; `uid` and `sequence` are its iCalendar identity and revision."""

    id = db.Column(db.Integer, primary_key=True)
    deal_id = db.Column(db.Integer, db.ForeignKey("deal.id"), nullable=False)
    contact_id = db.Column(db.Integer, db.ForeignKey("contact.id"))
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)  # the rep whose calendar it is
    starts_at = db.Column(db.DateTime, nullable=False)  # naive UTC
    ends_at = db.Column(db.DateTime, nullable=False)
    uid = db.Column(db.String(100), nullable=False, unique=True)
    sequence = db.Column(db.Integer, nullable=False, default=0)  # +1 on every reschedule or cancel
    status = db.Column(db.String(10), nullable=False, default="booked")
    booked_by = db.Column(db.String(254), nullable=False, default="rep")  # "rep" or the buyer's email
    room_id = db.Column(db.Integer)  # the deal room it was booked from (no foreign key: the room area owns it)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    deal = db.relationship("Deal")
    contact = db.relationship("Contact")
    user = db.relationship("User")

    __table_args__ = (
        db.Index("ix_meeting_user_starts", "user_id", "status", "starts_at"),
        db.Index("ix_meeting_deal_starts", "deal_id", "starts_at"),
        db.CheckConstraint("status in ('booked','cancelled')", name="status"),
        db.CheckConstraint("starts_at < ends_at", name="times"),
    )

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)
