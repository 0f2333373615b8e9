"""A meeting as an iCalendar invitation (RFC 5545 / iTIP RFC 5546), written with the icalendar library."""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from app.booking.clock import rep_zone
from app.models import Meeting
from app.timezones import utcnow

PRODID = "-//Stagegate//Booking//EN"
METHODS = ("REQUEST", "CANCEL")


def invitation(meeting: Meeting, method: str, zone: ZoneInfo | None = None) -> bytes:
    """The VCALENDAR a calendar takes in: METHOD, the rep's VTIMEZONE and the meeting's VEVENT.

    REQUEST books or moves it, CANCEL removes it; a calendar matches them to the first one
    by UID and keeps the one with the highest SEQUENCE. Times are written in the rep's zone
    (`zone`, else the rep's booking zone), with its TZID.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    zone = zone or rep_zone(meeting.user)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add_component(_event(meeting, method, zone))
    # Only the years around the meeting: a calendar needs the rules in force then, not since 1970.
    day = meeting.starts_at.date()
    calendar.add_missing_timezones(first_date=day - timedelta(days=366), last_date=day + timedelta(days=366))
    return calendar.to_ical()


def _event(meeting: Meeting, method: str, zone) -> Event:
    rep, contact = meeting.user, meeting.contact
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", utcnow().replace(tzinfo=UTC))
    event.add("dtstart", meeting.starts_at.replace(tzinfo=UTC).astimezone(zone))
    event.add("dtend", meeting.ends_at.replace(tzinfo=UTC).astimezone(zone))
    event.add("summary", summary(meeting))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{rep.email}")
    organizer.params["cn"] = vText(one_line(rep.name or rep.email))
    event.add("organizer", organizer)
    if contact is not None and contact.email:
        attendee = vCalAddress(f"mailto:{contact.email}")
        attendee.params.update({"cn": vText(one_line(contact.name or contact.email)), "role": "REQ-PARTICIPANT",
                                "partstat": "NEEDS-ACTION", "rsvp": "TRUE"})
        event.add("attendee", attendee)
    return event


def summary(meeting: Meeting) -> str:
    """The meeting's title in calendars: the deal's title and the seller's organisation."""
    return one_line(f"{meeting.deal.title} · {meeting.user.org.name}")


def one_line(text: str) -> str:
    """`text` with every run of whitespace (line breaks too) made one space: safe in a header or a parameter."""
    return " ".join((text or "").split())
