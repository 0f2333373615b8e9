"""Booking: a rep's open slots, and booking, moving and cancelling meetings on a deal.

Times are stored as naive UTC; a rep's weekly windows are wall-clock times in the
profile's zone (the organisation's when the profile names none). Slots are built day by
day as local times and converted with zoneinfo, so a window keeps its wall-clock hours
across a DST change, and a local time that does not exist that day (the spring-forward
gap) offers no slot.

The deal room (app/rooms/) books through `book` too: it passes the buyer's email as
`by` and its `room_id`, and gets the Meeting back (or through `on_booked`, inside the
booking's transaction) to write its own "meeting scheduled" fact. This module writes no
deal facts.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update

from app.booking import invites
from app.booking.clock import local, profile_for, rep_zone, when_text, zone_for
from app.deals.service import can_edit
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.leads import scoring
from app.models import (
    Activity,
    AvailabilityWindow,
    BookingProfile,
    Contact,
    Deal,
    DealContact,
    Meeting,
    User,
)
from app.timezones import utcnow

SLOT_STEP = 15  # minutes between slot starts, on the quarter hour of the rep's clock
ACTIVITY_MEETING_MINUTES = 60  # a meeting logged on the timeline has one time (`at`): it holds an hour
ACTIVITY_KEY = "booking:"  # the timeline entries this module writes (they are not meetings of their own)


# ---------------------------------------------------------------- profile and zone


def windows_for(user_id: int) -> list[AvailabilityWindow]:
    """The user's weekly windows, by weekday and start."""
    return list(db.session.execute(
        select(AvailabilityWindow).where(AvailabilityWindow.user_id == user_id)
        .order_by(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)).scalars())


# ---------------------------------------------------------------- open slots


def open_slots(user, length_minutes: int, now: datetime | None = None,
               ignore_meeting_id: int | None = None, until: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """Every (start, end) in naive UTC the rep can be booked for `length_minutes`, soonest first.

    From now plus the profile's notice to now plus its horizon, inside the weekly windows (in
    the profile's zone), starting every SLOT_STEP minutes of the rep's clock. A slot may not
    overlap the rep's booked Meetings (but `ignore_meeting_id`, the meeting being moved), nor
    the rep's Activity rows of kind "meeting": those have only a start (`at`), so each is taken
    to last ACTIVITY_MEETING_MINUTES (60 minutes).
    """
    profile = profile_for(user)
    if profile is None or not isinstance(length_minutes, int) or length_minutes <= 0:
        return []
    now = now or utcnow()
    earliest = now + timedelta(hours=profile.notice_hours)
    latest = now + timedelta(days=profile.horizon_days)
    if until is not None:  # a page that shows only the first days need not lay out the rest
        latest = min(latest, until)
    candidates = _candidates(windows_for(user.id), zone_for(profile, user), length_minutes, earliest, latest)
    busy = _busy(user.id, earliest, latest + timedelta(minutes=length_minutes), ignore_meeting_id)
    return _free(candidates, busy)


def _candidates(windows: list, zone: ZoneInfo, length: int, earliest: datetime, latest: datetime) -> list:
    """Slot (start, end) pairs from the windows between `earliest` and `latest` (UTC), before any busy time.

    A window whose UTC offset is the same at both ends (every window but those of a clock change) is laid
    out by arithmetic from one conversion; one that spans a change converts each quarter hour.
    """
    by_day: dict = {}
    for window in windows:
        by_day.setdefault(window.weekday, []).append(window)
    first_day = local(earliest, zone).date() - timedelta(days=1)
    last_day = local(latest, zone).date() + timedelta(days=1)
    slots, span = set(), timedelta(minutes=length)
    day = first_day
    while day <= last_day:
        for window in by_day.get(day.weekday(), ()):
            open_at, close_at = _instant(day, window.start_minute, zone), _instant(day, window.end_minute, zone)
            first = -(-window.start_minute // SLOT_STEP) * SLOT_STEP  # the first quarter hour in the window
            steady = open_at - _wall(day, window.start_minute) == close_at - _wall(day, window.end_minute)
            for minute in range(first, window.end_minute, SLOT_STEP):
                if steady:
                    start = open_at + timedelta(minutes=minute - window.start_minute)
                else:
                    start = _instant(day, minute, zone)
                    if local(start, zone) != _wall(day, minute):  # a wall time the spring change skips
                        continue
                if open_at <= start and start + span <= close_at and earliest <= start <= latest:
                    slots.add((start, start + span))
        day += timedelta(days=1)
    return sorted(slots)


def _wall(day: date, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day) + timedelta(minutes=minute)


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The naive UTC instant of the wall time `minute` after midnight of `day` in `zone` (the first, when it is twice)."""
    return _wall(day, minute).replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _busy(user_id: int, start: datetime, end: datetime, ignore_meeting_id: int | None) -> list:
    """The rep's taken stretches that may touch [start, end): booked meetings and logged meeting activities."""
    meetings = select(Meeting.starts_at, Meeting.ends_at).where(
        Meeting.user_id == user_id, Meeting.status == "booked", Meeting.starts_at < end, Meeting.ends_at > start)
    if ignore_meeting_id is not None:
        meetings = meetings.where(Meeting.id != ignore_meeting_id)
    held = timedelta(minutes=ACTIVITY_MEETING_MINUTES)
    logged = select(Activity.at).where(
        Activity.user_id == user_id, Activity.kind == "meeting", Activity.at > start - held, Activity.at < end,
        or_(Activity.unique_key.is_(None), ~Activity.unique_key.startswith(ACTIVITY_KEY)))
    busy = [(s, e) for s, e in db.session.execute(meetings)]
    busy += [(at, at + held) for (at,) in db.session.execute(logged)]
    return sorted(busy)


def _free(candidates: list, busy: list) -> list:
    """The candidates (sorted) that overlap no busy stretch (sorted by start), in one pass over both."""
    free, i, reach = [], 0, []  # reach: the ends of busy stretches started before the candidate's end
    for start, end in candidates:
        while i < len(busy) and busy[i][0] < end:
            reach.append(busy[i][1])
            i += 1
        reach = [b_end for b_end in reach if b_end > start]
        if not reach:
            free.append((start, end))
    return free


def is_open(user, starts_at: datetime, length: int, now: datetime | None = None,
            ignore_meeting_id: int | None = None) -> bool:
    """Whether `starts_at` (naive UTC) for `length` minutes is one of the rep's open slots now."""
    return (starts_at, starts_at + timedelta(minutes=length)) in set(
        open_slots(user, length, now, ignore_meeting_id))


# ---------------------------------------------------------------- booking, moving, cancelling


def book(deal: Deal, rep: User, contact: Contact | None, starts_at, length, by, *, room_id: int | None = None,
         now: datetime | None = None, on_booked: Callable[[Meeting], None] | None = None) -> Meeting:
    """Book `rep` on `deal` at `starts_at` (naive UTC) for `length` minutes; return the Meeting.

    `by` is the acting User, or the buyer's email (a deal room). The slot is checked again
    under a lock of the rep's profile row, so two bookings of one slot cannot both land; the
    second is refused with a message on `starts_at`. The timeline gets the booking, the
    contact's `meeting_booked` event is scored, and the buyer and the rep are each sent the
    invitation (queued, sent by the worker after the commit). `on_booked(meeting)` runs inside
    the transaction, just before the commit (the room writes its fact there).
    """
    now = now or utcnow()
    starts_at, length = _check_booking(deal, rep, contact, starts_at, length)
    _check_actor(by, deal)
    profile = _lock_profile(rep)
    if profile is None or length not in profile.length_list:
        db.session.rollback()
        raise Invalid({"length": "is not a meeting length this rep offers"}, "That meeting length is not offered.")
    if not is_open(rep, starts_at, length, now):
        db.session.rollback()
        raise Invalid({"starts_at": "That time is no longer open: pick another slot."},
                      "That time is no longer open.")
    meeting = Meeting(org_id=deal.org_id, deal_id=deal.id, contact_id=contact.id if contact else None,
                      user_id=rep.id, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=length),
                      uid=f"{uuid4()}@stagegate", sequence=0, status="booked", booked_by=_by_text(by),
                      room_id=room_id, created_at=now, updated_at=now)
    db.session.add(meeting)
    db.session.flush()
    _log(meeting, by, f"Meeting booked for {when_text(meeting)} by {_by_name(by)}", now)
    if contact is not None:
        scoring.record_event(contact, "meeting_booked", now, commit=False)
    invites.queue_invitations(meeting, "REQUEST", rep_zone(meeting.user))
    if on_booked is not None:
        on_booked(meeting)
    db.session.commit()
    return meeting


def reschedule(meeting: Meeting, new_start, by, *, now: datetime | None = None) -> Meeting:
    """Move a booked meeting to another open slot of its rep (same length, same UID, SEQUENCE + 1)."""
    now = now or utcnow()
    _check_open_meeting(meeting)
    _check_actor(by, meeting.deal)
    new_start = _check_start(new_start, "starts_at")
    length = meeting.minutes
    before = when_text(meeting)
    _lock_profile(meeting.user)
    db.session.refresh(meeting)
    if not is_open(meeting.user, new_start, length, now, ignore_meeting_id=meeting.id):
        db.session.rollback()
        raise Invalid({"starts_at": "That time is no longer open: pick another slot."},
                      "That time is no longer open.")
    meeting.starts_at, meeting.ends_at = new_start, new_start + timedelta(minutes=length)
    meeting.sequence += 1
    meeting.updated_at = now
    _log(meeting, by, f"Meeting moved from {before} to {when_text(meeting)} by {_by_name(by)}", now)
    invites.queue_invitations(meeting, "REQUEST", rep_zone(meeting.user))
    db.session.commit()
    return meeting


def cancel(meeting: Meeting, by, *, now: datetime | None = None) -> Meeting:
    """Cancel a booked meeting (SEQUENCE + 1) and send both sides the cancellation."""
    now = now or utcnow()
    _check_open_meeting(meeting)
    _check_actor(by, meeting.deal)
    _lock_profile(meeting.user)
    db.session.refresh(meeting)
    _check_open_meeting(meeting)
    meeting.status = "cancelled"
    meeting.sequence += 1
    meeting.updated_at = now
    _log(meeting, by, f"Meeting on {when_text(meeting)} cancelled by {_by_name(by)}", now)
    invites.queue_invitations(meeting, "CANCEL", rep_zone(meeting.user))
    db.session.commit()
    return meeting


def _check_booking(deal, rep, contact, starts_at, length) -> tuple[datetime, int]:
    errors: dict = {}
    if rep is None or rep.org_id != deal.org_id or not rep.active:
        errors["rep"] = "is not an active user of this organisation"
    if contact is not None and contact.org_id != deal.org_id:
        errors["contact_id"] = "is not a contact of this organisation"
    if not isinstance(length, int) or isinstance(length, bool) or not 5 <= length <= 480:
        errors["length"] = "must be a number of minutes from 5 to 480"
    try:
        starts_at = _check_start(starts_at, "starts_at")
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(errors, "The meeting was not booked: check the highlighted fields.")
    return starts_at, length


def _check_start(starts_at, name: str) -> datetime:
    if not isinstance(starts_at, datetime):
        raise Invalid({name: "Pick one of the open times."})
    if starts_at.tzinfo is not None:
        starts_at = starts_at.astimezone(UTC).replace(tzinfo=None)
    return starts_at


def _check_actor(by, deal: Deal) -> None:
    """A user acting must belong to the deal's organisation; a buyer is named by an email (the room checked it)."""
    if isinstance(by, User):
        if not can_edit(deal, by):
            raise Forbidden("Only the deal's owner, a manager or an admin books or changes its meetings.")
    elif not isinstance(by, str) or not by.strip() or len(by) > 254:
        raise Invalid({"by": "must be the acting user or the buyer's email"})


def _check_open_meeting(meeting: Meeting) -> None:
    if meeting.status != "booked":
        raise Invalid({"meeting": "This meeting was cancelled already."}, "This meeting was cancelled already.")


def _lock_profile(rep: User) -> BookingProfile | None:
    """Hold the rep's profile row until the commit, so bookings of one rep run one after another.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite: a no-op UPDATE takes the database's writer lock
    first, so everything read afterwards is current until the commit.
    """
    query = select(BookingProfile).where(BookingProfile.user_id == rep.id)
    if db.session.get_bind().dialect.name == "postgresql":
        return db.session.execute(query.with_for_update()).scalar_one_or_none()
    db.session.execute(update(BookingProfile).where(BookingProfile.user_id == rep.id)
                       .values(updated_at=BookingProfile.updated_at).execution_options(synchronize_session=False))
    return db.session.execute(query).scalar_one_or_none()


def _by_text(by) -> str:
    return "rep" if isinstance(by, User) else by.strip().lower()


def _by_name(by) -> str:
    return by.name if isinstance(by, User) else by.strip().lower()


def _log(meeting: Meeting, by, body: str, now: datetime) -> None:
    """The meeting's line on the deal's timeline (keyed, so it never counts as a busy meeting of its own)."""
    db.session.add(Activity(org_id=meeting.org_id, deal_id=meeting.deal_id, contact_id=meeting.contact_id,
                            user_id=by.id if isinstance(by, User) else None, kind="meeting", body=body[:2000],
                            at=now, unique_key=f"{ACTIVITY_KEY}{meeting.id}:{meeting.sequence}"))


# ---------------------------------------------------------------- reading


def upcoming_meetings(deal: Deal, now: datetime | None = None) -> list[Meeting]:
    """The deal's booked meetings that have not ended, soonest first."""
    now = now or utcnow()
    return list(db.session.execute(select(Meeting).where(
        Meeting.org_id == deal.org_id, Meeting.deal_id == deal.id, Meeting.status == "booked",
        Meeting.ends_at > now).order_by(Meeting.starts_at)).scalars())


def slots_by_day(user, length: int, now: datetime | None = None, ignore_meeting_id: int | None = None,
                 until: datetime | None = None) -> list:
    """The open slots grouped by the rep's local day: [(day, [(start_utc, label), ...]), ...]."""
    zone = zone_for(profile_for(user), user)
    days: dict = {}
    for start, _ in open_slots(user, length, now, ignore_meeting_id, until):
        wall = local(start, zone)
        days.setdefault(wall.date(), []).append((start, f"{wall:%H:%M}"))
    return sorted(days.items())


def meeting_contacts(deal: Deal) -> list[Contact]:
    """The people a meeting on this deal can be booked with: its contact and the contacts linked to it."""
    rows = db.session.execute(select(Contact).outerjoin(DealContact, and_(
        DealContact.contact_id == Contact.id, DealContact.deal_id == deal.id)).where(
        Contact.org_id == deal.org_id,
        or_(Contact.id == deal.contact_id, DealContact.deal_id == deal.id)).order_by(Contact.name)).scalars()
    return list(dict.fromkeys(rows))
