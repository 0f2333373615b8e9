"""A rep's booking hours: zone, meeting lengths, notice, horizon and weekly windows, saved whole or not at all."""

import re
from functools import cache
from zoneinfo import available_timezones

from sqlalchemy import delete

from app.booking.service import profile_for, windows_for, zone_for
from app.errors import Invalid
from app.extensions import db
from app.models import AvailabilityWindow, BookingProfile
from app.models.booking import WEEKDAYS
from app.text import clean_int, clean_text
from app.timezones import utcnow

LENGTH_CHOICES = (15, 20, 30, 45, 60, 90, 120)
WINDOWS_PER_DAY = 3  # rows the form offers for each weekday
_TIME = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zones this machine knows, sorted."""
    return tuple(sorted(available_timezones()))


def window_field(weekday: int, row: int, end: str) -> str:
    """The form field of one end ("start" or "end") of a window row, e.g. "w0_1_start"."""
    return f"w{weekday}_{row}_{end}"


def form_values(user) -> dict:
    """The saved hours as the form shows them (defaults when nothing is saved yet)."""
    profile = profile_for(user)
    values = {"timezone": (profile.timezone or "") if profile else "",
              "lengths": [str(n) for n in (profile.length_list if profile else [30])],
              "notice_hours": str(profile.notice_hours if profile else 4),
              "horizon_days": str(profile.horizon_days if profile else 21)}
    rows: dict = {}
    for window in windows_for(user.id):
        row = rows.get(window.weekday, 0)
        rows[window.weekday] = row + 1
        values[window_field(window.weekday, row, "start")] = _hhmm(window.start_minute)
        values[window_field(window.weekday, row, "end")] = _hhmm(window.end_minute)
    return values


def zone_label(user) -> str:
    return zone_for(profile_for(user), user).key


def save_hours(user, values: dict) -> BookingProfile:
    """Save the user's booking hours and replace their weekly windows; raise Invalid naming each bad field.

    Nothing is written unless every field is good: windows must end after they start and
    must not overlap another window of the same day.
    """
    errors: dict = {}
    zone = clean_text(values.get("timezone"), "timezone", errors, 64)
    if zone and "timezone" not in errors and zone not in zone_names():
        errors["timezone"] = "Pick a time zone from the list, or leave it empty for the organisation's."
    lengths = _lengths(values.get("lengths"), errors)
    notice = clean_int(values.get("notice_hours"), "notice_hours", errors, 0, 720, required=True)
    horizon = clean_int(values.get("horizon_days"), "horizon_days", errors, 1, 365, required=True)
    windows = _windows(values, errors)
    if errors:
        raise Invalid(errors, "Nothing was saved: check the highlighted fields.")
    profile = profile_for(user) or BookingProfile(org_id=user.org_id, user_id=user.id)
    profile.timezone, profile.lengths = zone or None, ",".join(str(n) for n in lengths)
    profile.notice_hours, profile.horizon_days, profile.updated_at = notice, horizon, utcnow()
    db.session.add(profile)
    db.session.execute(delete(AvailabilityWindow).where(AvailabilityWindow.user_id == user.id))
    db.session.add_all(AvailabilityWindow(org_id=user.org_id, user_id=user.id, weekday=day, start_minute=start,
                                          end_minute=end) for day, start, end in windows)
    db.session.commit()
    return profile


def _lengths(raw, errors: dict) -> list[int]:
    items = raw if isinstance(raw, list | tuple) else [x for x in str(raw or "").split(",")]
    lengths = set()
    for item in items:
        number = clean_int(item, "lengths", errors, 5, 480) if isinstance(item, str | int) else None
        if number is None or number not in LENGTH_CHOICES:
            errors["lengths"] = "Pick meeting lengths from the list."
            return []
        lengths.add(number)
    if not lengths:
        errors["lengths"] = "Pick at least one meeting length."
    return sorted(lengths)


def _windows(values: dict, errors: dict) -> list[tuple[int, int, int]]:
    """(weekday, start minute, end minute) of every filled window row, checked per day."""
    found = []
    for day in range(7):
        taken: list = []
        for row in range(WINDOWS_PER_DAY):
            start_name, end_name = window_field(day, row, "start"), window_field(day, row, "end")
            start = _minute(values.get(start_name), start_name, errors, allow_24=False)
            end = _minute(values.get(end_name), end_name, errors, allow_24=True)
            if start_name in errors or end_name in errors or (start is None and end is None):
                continue
            if start is None or end is None:
                errors[start_name if start is None else end_name] = "Type both a start and an end, or neither."
            elif end <= start:
                errors[end_name] = f"The {WEEKDAYS[day]} window must end after it starts."
            elif any(s < end and start < e for s, e in taken):
                errors[start_name] = f"This overlaps another {WEEKDAYS[day]} window: make them one, or move it."
            else:
                taken.append((start, end))
                found.append((day, start, end))
    return found


def _minute(raw, name: str, errors: dict, allow_24: bool) -> int | None:
    """Minutes after midnight from "HH:MM" (blank: None); "24:00" only as an end."""
    text = clean_text(raw, name, errors, 16)
    if name in errors or not text:
        return None
    match = _TIME.fullmatch(text)
    minute = int(match.group(1)) * 60 + int(match.group(2)) if match else None
    if minute is None or minute > 1440 or (minute == 1440 and not allow_24):
        errors[name] = "Type a time like 09:00" + (" (24:00 for midnight)." if allow_24 else ".")
        return None
    return minute


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
