"""The room's conversation: comments from both sides, a buyer's proposal of another date for their step
(the rep accepts or declines it), and a buyer asking for a colleague to join (the rep approves: the
colleague gets their own link by email, or declines).

Every buyer action goes on the deal's timeline and tells the owner once; nothing here writes a deal
fact or moves the deal. A buyer acts through their link (`row`, a valid RoomInvite); the seller acts
as a user who may edit the deal.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.contacts.service import contact_with_email
from app.errors import Invalid
from app.extensions import db
from app.models import Activity, Contact, User, utcnow
from app.models.rooms import RoomColleague, RoomComment, RoomStep
from app.rooms.service import (
    check_editor,
    clean_due,
    clean_step_id,
    get_room,
    invite,
    invitee_email,
    room_step,
    tell_owner,
)
from app.text import clean_text

MAX_COMMENT = 2000
MAX_COMMENTS = 500  # a room's thread; a leaked link cannot fill the database
MAX_NOTE = 300
MAX_PENDING_COLLEAGUES = 10
FREE_MAIL = frozenset({"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
                       "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "gmx.com", "gmx.de",
                       "web.de", "yandex.ru", "mail.ru", "qq.com"})


def _timeline(room, contact_id, body: str, now) -> None:
    db.session.add(Activity(org_id=room.org_id, deal_id=room.deal_id, contact_id=contact_id, kind="room",
                            body=body, at=now))


def _who(row) -> str:
    contact = row.contact
    return f"{contact.name} <{contact.email}>" if contact.name else contact.email


# Comments -------------------------------------------------------------------------------------------

def _clean_comment(body, room) -> str:
    errors: dict = {}
    text = clean_text(body, "comment", errors, MAX_COMMENT, required=True)
    if not errors:
        count = db.session.scalar(select(func.count(RoomComment.id)).where(RoomComment.room_id == room.id))
        if count >= MAX_COMMENTS:
            errors["comment"] = f"cannot be added: this room's thread holds at most {MAX_COMMENTS} messages"
    if errors:
        raise Invalid(errors, "Nothing was posted.")
    return text


def buyer_comment(row, body) -> RoomComment:
    """Post the invitee's message to the thread; the owner hears of it on the timeline and by notification."""
    room = row.room
    text = _clean_comment(body, room)
    now = utcnow()
    comment = RoomComment(org_id=room.org_id, room=room, contact_id=row.contact_id, body=text, created_at=now)
    db.session.add(comment)
    db.session.flush()
    short = text if len(text) <= 120 else text[:119] + "…"
    _timeline(room, row.contact_id, f"{_who(row)} wrote in the deal room: “{short}”", now)
    tell_owner(room.deal, "", f"{row.contact.name or row.contact.email} wrote in the room of {room.deal.title}",
               None, f"room-comment:{comment.id}", f"/deals/{room.deal_id}#room-thread")
    db.session.commit()
    return comment


def seller_comment(deal, actor, body) -> RoomComment:
    """Post the rep's answer to the thread (every invitee reads it on their next visit)."""
    check_editor(deal, actor)
    room = get_room(deal)
    if room is None:
        raise Invalid({"comment": "has no room to go to: open the deal room first"}, "Nothing was posted.")
    text = _clean_comment(body, room)
    comment = RoomComment(org_id=room.org_id, room=room, user_id=actor.id, body=text, created_at=utcnow())
    db.session.add(comment)
    db.session.commit()
    return comment


# Another date for a step ----------------------------------------------------------------------------

def _buyer_step(row, step_id) -> RoomStep:
    return room_step(row.room, step_id, side="buyer")


def propose_date(row, step_id, proposed_on, note="", today: date | None = None) -> RoomStep:
    """The invitee proposes another date for one of their open steps; the rep decides. A newer proposal
    replaces the older one. LookupError (404) for a step that is not one of this room's buyer steps."""
    step = _buyer_step(row, step_id)
    errors: dict = {}
    day = clean_due(proposed_on, errors) if proposed_on not in (None, "") else None
    if day is None and "due_on" not in errors:
        errors["due_on"] = "is required: pick the date that suits you"
    today = today or utcnow().date()
    if day is not None and not errors and day < today:
        errors["due_on"] = "must be today or later"
    if day is not None and not errors and day == step.due_on:
        errors["due_on"] = "is the date the step already has"
    text = clean_text(note, "note", errors, MAX_NOTE) if note else ""
    if step.status != "open":
        errors["step"] = "is already done"
    if errors:
        raise Invalid(errors, "No date was proposed.")
    now = utcnow()
    step.proposed_on, step.proposed_note, step.proposed_by_contact_id, step.proposed_at = day, text, row.contact_id, now
    was = f" (was {step.due_on.isoformat()})" if step.due_on else ""
    _timeline(row.room, row.contact_id,
              f"{_who(row)} proposed {day.isoformat()} for “{step.title}”{was}" + (f": {text}" if text else "."), now)
    tell_owner(row.room.deal, "", f"{row.contact.name or row.contact.email} proposed {day.isoformat()} for "
                                  f"“{step.title}”", None, f"room-propose:{step.id}:{now.isoformat()}",
               f"/deals/{row.room.deal_id}#room")
    db.session.commit()
    return step


def decide_date(deal, actor, step_id, accept: bool) -> RoomStep:
    """The rep accepts (the step's date becomes the proposed one) or declines a buyer's proposed date."""
    check_editor(deal, actor)
    room = get_room(deal)
    step = room_step(room, step_id)
    if step.proposed_on is None:
        raise Invalid({"step": "has no proposed date to decide on (perhaps already decided)"}, "Nothing changed.")
    day, now = step.proposed_on, utcnow()
    if accept:
        step.due_on = day
    step.proposed_on, step.proposed_note, step.proposed_by_contact_id, step.proposed_at = None, "", None, None
    verb = "accepted" if accept else "declined"
    db.session.add(Activity(org_id=deal.org_id, deal_id=deal.id, user_id=actor.id, kind="room", at=now,
                            body=f"{actor.name} {verb} {day.isoformat()} for “{step.title}”."))
    db.session.commit()
    return step


# Colleagues ------------------------------------------------------------------------------------------

def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def ask_colleague(row, email, name="") -> RoomColleague:
    """The invitee asks for a colleague from their company to join: the rep approves or declines. The
    colleague's address must be at the invitee's own domain (a personal mailbox's colleague cannot be told
    apart from anyone, so there the rep's approval is the whole check, and the page says so)."""
    room = row.room
    errors: dict = {}
    try:
        address = invitee_email(email)
    except Invalid as exc:
        errors["email"] = exc.fields["contact_email"]
        address = ""
    clean_name = " ".join(clean_text(name, "name", errors, 200).split()) if name else ""
    mine = (row.contact.email or "").lower()
    if address and _domain(mine) not in FREE_MAIL and _domain(address) != _domain(mine):
        errors["email"] = f"must be at {_domain(mine)}, your company's address"
    if address and address == mine:
        errors["email"] = "is your own address"
    if address and not errors:
        known = RoomColleague.query.filter_by(room_id=room.id, email=address).first()
        invited = any(i.contact.email == address and i.revoked_at is None for i in room.invites)
        if invited:
            errors["email"] = "is already invited to this room"
        elif known is not None:
            errors["email"] = {"pending": "is already waiting for the seller's approval",
                               "declined": "was asked for before; please write to the seller in the thread",
                               "approved": "is already invited to this room"}[known.status]
        elif RoomColleague.query.filter_by(room_id=room.id, status="pending").count() >= MAX_PENDING_COLLEAGUES:
            errors["email"] = "cannot be added now: too many requests are waiting for the seller"
    if errors:
        raise Invalid(errors, "Nobody was added.")
    now = utcnow()
    ask = RoomColleague(org_id=room.org_id, room=room, email=address, name=clean_name,
                        requested_by_contact_id=row.contact_id, requested_at=now)
    db.session.add(ask)
    try:
        db.session.flush()
    except IntegrityError:  # the same request from another tab at the same moment
        db.session.rollback()
        raise Invalid({"email": "is already waiting for the seller's approval"}, "Nobody was added.") from None
    label = f"{clean_name} <{address}>" if clean_name else address
    _timeline(room, row.contact_id, f"{_who(row)} asked for {label} to join the deal room.", now)
    tell_owner(room.deal, "", f"{row.contact.name or row.contact.email} asked for {address} to join the room",
               None, f"room-colleague:{ask.id}", f"/deals/{room.deal_id}#room")
    db.session.commit()
    return ask


def decide_colleague(deal, actor, request_id, approve: bool, base_url: str):
    """Approve (the colleague becomes a contact with their own link, emailed) or decline a buyer's request.
    Returns (the request, the Invitation or None)."""
    check_editor(deal, actor)
    room = get_room(deal)
    wanted = clean_step_id(request_id)
    ask = next((c for c in room.colleagues if c.id == wanted), None) if room is not None else None
    if ask is None:
        raise LookupError("no such request in this room")
    if ask.status != "pending":
        raise Invalid({"request": f"was already {ask.status}"}, "Nothing changed.")
    ask.status, ask.decided_by_id, ask.decided_at = ("approved" if approve else "declined"), actor.id, utcnow()
    made = None
    if approve:
        contact = contact_with_email(deal.org_id, ask.email, deal.owner_id)
        if ask.name and not contact.name:
            contact.name = ask.name
        try:
            made = invite(room, actor, ask.email, send=True, base_url=base_url)  # commits the decision with it
        except Invalid:
            db.session.rollback()
            raise
    else:
        db.session.add(Activity(org_id=deal.org_id, deal_id=deal.id, user_id=actor.id, kind="room", at=utcnow(),
                                body=f"{actor.name} declined {ask.email} joining the deal room."))
        db.session.commit()
    return ask, made


def pending_for(room) -> dict:
    """What waits on the seller in the room: buyer-proposed dates and colleague requests."""
    return {"dates": [s for s in room.steps if s.proposed_on is not None],
            "colleagues": [c for c in room.colleagues if c.status == "pending"]}


@dataclass(frozen=True)
class Message:
    """A message of the thread as the pages show it (plain values: the room page is the buyer's, and fast)."""

    author: str
    from_seller: bool
    body: str
    created_at: datetime


def recent_thread(room, limit: int = 100) -> list[Message]:
    """The thread's latest messages, oldest first (the page reads down like a conversation): one statement."""
    rows = db.session.execute(
        select(RoomComment.body, RoomComment.created_at, RoomComment.user_id, User.name, User.email,
               Contact.name, Contact.email)
        .outerjoin(User, User.id == RoomComment.user_id).outerjoin(Contact, Contact.id == RoomComment.contact_id)
        .where(RoomComment.room_id == room.id).order_by(RoomComment.id.desc()).limit(limit)).all()
    return [Message((user_name or user_email) if user_id else (contact_name or contact_email), bool(user_id), body, at)
            for body, at, user_id, user_name, user_email, contact_name, contact_email in reversed(rows)]
