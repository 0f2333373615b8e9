"""Whose clock a booking runs on: a rep's profile and zone, and times written in it."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models import BookingProfile, Meeting, org_zone
from app.timezones import zone_named


def profile_for(user) -> BookingProfile | None:
    """The user's booking profile, or None when they have not set their booking hours."""
    return db.session.execute(select(BookingProfile).where(BookingProfile.user_id == user.id)).scalar_one_or_none()


def zone_for(profile: BookingProfile | None, user) -> ZoneInfo:
    """The zone a rep's windows are in: the profile's, else the organisation's."""
    if profile is not None and profile.timezone:
        return zone_named(profile.timezone)
    return org_zone(user.org_id)


def rep_zone(user) -> ZoneInfo:
    """The zone of `user`'s booking hours."""
    return zone_for(profile_for(user), user)


def local(at: datetime, zone: ZoneInfo) -> datetime:
    """A naive UTC time as the naive wall-clock time in `zone`."""
    return at.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def slot_text(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """'Tue 8 Dec 10:00–10:30', local to `zone`."""
    start, end = local(starts_at, zone), local(ends_at, zone)
    return f"{start:%a} {start.day} {start:%b %H:%M}–{end:%H:%M}"


def when_text(meeting: Meeting, zone: ZoneInfo | None = None) -> str:
    """'Tue 8 Dec 10:00–10:30 (Europe/Berlin)' in the rep's zone."""
    zone = zone or rep_zone(meeting.user)
    return f"{slot_text(meeting.starts_at, meeting.ends_at, zone)} ({zone.key})"
