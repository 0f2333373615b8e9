"""The emails that carry a meeting's invitation to the buyer and to the rep (queued, sent by the worker)."""

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from zoneinfo import ZoneInfo

from app.booking import ics
from app.booking.clock import when_text
from app.models import Meeting
from app.sequences.mail_settings import sending_config
from app.sequences.mailer import SMTP_POLICY
from app.sequences.one_off import queue_email

SUBJECTS = {"REQUEST": "Invitation", "CANCEL": "Cancelled"}


def queue_invitations(meeting: Meeting, method: str, zone: ZoneInfo) -> int:
    """Queue this revision of the meeting (REQUEST or CANCEL) to the buyer contact and to the rep (no commit).

    One email per recipient and revision (`meeting:<id>:<sequence>:<who>`), so a retry of the
    change never sends it twice. Returns how many were queued.
    """
    calendar = ics.invitation(meeting, method, zone)
    rep, contact = meeting.user, meeting.contact
    domain = sending_config(meeting.org_id).mail_domain
    recipients = [("rep", rep.name, rep.email)]
    if contact is not None and contact.email:
        recipients.insert(0, ("buyer", contact.name, contact.email))
    queued = 0
    for who, name, address in recipients:
        message = build_message(meeting, method, zone, calendar, (name, address),
                                make_msgid(idstring=f"meeting{meeting.id}.{meeting.sequence}.{who}", domain=domain))
        link = f"/deals/{meeting.deal_id}"
        if queue_email(meeting.org_id, f"meeting:{meeting.id}:{meeting.sequence}:{who}", message, rep, address,
                       link=link) is not None:
            queued += 1
    return queued


def subject(meeting: Meeting, method: str, zone: ZoneInfo) -> str:
    word = SUBJECTS[method] if method == "CANCEL" or meeting.sequence == 0 else "Updated invitation"
    return ics.one_line(f"{word}: {ics.summary(meeting)}, {when_text(meeting, zone)}")


def build_message(meeting: Meeting, method: str, zone: ZoneInfo, calendar: bytes, to: tuple[str, str],
                  message_id: str) -> EmailMessage:
    """A text part and the invitation as `text/calendar; method=...` (what calendars act on), plus invite.ics."""
    rep = meeting.user
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = formataddr((ics.one_line(rep.name), rep.email))
    message["To"] = formataddr((ics.one_line(to[0]), to[1]))
    message["Subject"] = subject(meeting, method, zone)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(body(meeting, method, zone))
    message.add_alternative(calendar, maintype="text", subtype="calendar",
                            params={"method": method, "charset": "UTF-8"})
    message.add_attachment(calendar, maintype="application", subtype="ics", filename="invite.ics")
    return message


def body(meeting: Meeting, method: str, zone: ZoneInfo) -> str:
    """The words around the invitation."""
    when = when_text(meeting, zone)
    rep = meeting.user
    if method == "CANCEL":
        lines = [f"The meeting “{ics.summary(meeting)}” on {when} is cancelled."]
    elif meeting.sequence:
        lines = [f"The meeting “{ics.summary(meeting)}” has moved to {when}."]
    else:
        lines = [f"You have a meeting: “{ics.summary(meeting)}” on {when}."]
    lines += ["", f"With {ics.one_line(rep.name)} <{rep.email}>.",
              "The invitation is attached: open it to add it to your calendar."]
    return "\n".join(lines) + "\n"
