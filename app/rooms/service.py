"""The deal room: a deal's mutual plan, the buyers invited to it, and their confirmations.

A confirmation of a step that carries a requirement writes that fact through the deals service
(`record_buyer_fact`, provenance "buyer"), puts it on the deal's timeline and tells the owner when
the next stage's gate would now pass. It never moves the deal: the rep does, through the gate.
Links are bearer tokens: only their SHA-256 is stored.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app.contacts.service import clean_email, contact_with_email
from app.crypto import Unreadable, decrypt
from app.deals.service import MAX_ID, can_edit, next_stage, ready_for, record_buyer_fact
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.models import Activity, Contact, Deal, Notification, utcnow
from app.models.rooms import STEP_SIDES, DealRoom, RoomInvite, RoomStep
from app.sequences.mailer import SendFailure
from app.sequences.one_off import queue_email
from app.sequences.sending import mail_domain, transport_for
from app.text import clean_text, is_text
from app.webhooks.events import emit
from app.webhooks.shapes import step_json

MAX_STEP_TITLE = 200
MAX_NAME = 200
MAX_STEPS = 50
MAX_TOKEN = 100  # token_urlsafe(32) is 43 characters; anything much longer names nothing
INVITE_LINKS = b"stagegate room invite links"  # app/crypto.py purpose: the link while its email waits


@dataclass(frozen=True)
class Invitation:
    url: str
    contact_email: str
    expires_at: datetime | None
    invite: RoomInvite


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def get_room(deal: Deal) -> DealRoom | None:
    """The deal's room, or None before anyone opened it."""
    return DealRoom.query.filter_by(org_id=deal.org_id, deal_id=deal.id).first()


def check_editor(deal: Deal, actor) -> None:
    if not can_edit(deal, actor):
        raise Forbidden("Only the deal's owner or a manager can change its room.")


def buyer_requirements(deal: Deal) -> list:
    """The pipeline's buyer-marked requirements, each field once, in stage order: the room's first steps."""
    seen, fields = set(), []
    for stage in deal.pipeline.active_stages:
        for when in ("entry", "exit"):
            keys = stage.buyer_keys(when)
            for f in stage.required_fields(when):
                if f.key in keys and f.key not in seen:
                    seen.add(f.key)
                    fields.append(f)
    return fields


def open_room(deal: Deal, actor) -> tuple[DealRoom, bool]:
    """Open the deal's room (once) with a buyer step for each buyer-marked requirement; return (room, created)."""
    check_editor(deal, actor)
    room = get_room(deal)
    if room is not None:
        return room, False
    room = DealRoom(org_id=deal.org_id, deal_id=deal.id, created_by_id=actor.id)
    db.session.add(room)
    for position, f in enumerate(buyer_requirements(deal), start=1):
        db.session.add(RoomStep(org_id=deal.org_id, room=room, title=f.label[:MAX_STEP_TITLE], side="buyer",
                                requirement=f.key, position=position))
    try:
        db.session.commit()
    except IntegrityError:  # opened at the same moment by someone else: theirs is the room
        db.session.rollback()
        return get_room(deal), False
    return room, True


def clean_due(value, errors: dict):
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date):
        return value
    try:
        day = date.fromisoformat(value.strip()) if isinstance(value, str) and len(value.strip()) == 10 else None
    except ValueError:
        day = None
    if day is None or not 1970 <= day.year <= 2100:
        errors["due_on"] = "must be a date (YYYY-MM-DD)"
    return day


def add_step(room: DealRoom, actor, *, title, side="buyer", due_on=None, requirement=None) -> RoomStep:
    """Add a step to the plan; a `requirement` must be a buyer-side field of the deal's pipeline."""
    deal = room.deal
    check_editor(deal, actor)
    errors: dict = {}
    title = clean_text(title, "title", errors, MAX_STEP_TITLE, required=True)
    if side not in STEP_SIDES:
        errors["side"] = "must be buyer or seller"
    due = clean_due(due_on, errors)
    if requirement in ("", None):
        requirement = None
    elif not isinstance(requirement, str) or requirement not in {f.key for f in deal.pipeline.active_fields}:
        errors["requirement"] = "is not a field of this deal's pipeline"
    elif side != "buyer":
        errors["requirement"] = "only a buyer's step can confirm a fact"
    if len(room.steps) >= MAX_STEPS:
        errors["title"] = f"a plan holds at most {MAX_STEPS} steps"
    if errors:
        raise Invalid(errors, "The step was not added.")
    position = max((s.position for s in room.steps), default=0) + 1
    step = RoomStep(org_id=room.org_id, room=room, title=title, side=side, due_on=due, requirement=requirement,
                    position=position)
    db.session.add(step)
    db.session.commit()
    return step


def edit_step(room: DealRoom, actor, step_id, *, title, due_on=None) -> RoomStep:
    """Reword an open step or change its date, in the buyer's words for this deal (the buyer sees it at once).
    A done step is as it was confirmed: refused. LookupError (the caller's 404) for a step not in the room."""
    check_editor(room.deal, actor)
    step = room_step(room, step_id)
    errors: dict = {}
    title = clean_text(title, "title", errors, MAX_STEP_TITLE, required=True)
    due = clean_due(due_on, errors)
    if step.status != "open":
        errors["step"] = "is done; it stays as it was confirmed"
    if errors:
        raise Invalid(errors, "The step was not changed.")
    step.title, step.due_on = title, due
    if step.proposed_on is not None and step.proposed_on == due:  # the rep took the buyer's date
        step.proposed_on, step.proposed_note, step.proposed_by_contact_id, step.proposed_at = None, "", None, None
    db.session.commit()
    return step


def remove_step(room: DealRoom, actor, step_id) -> str:
    """Take an open step off the plan; a step that carries a requirement stays (the gate asks for it: the buyer
    confirms it here, or a manager overrides it). Returns the removed step's title."""
    check_editor(room.deal, actor)
    step = room_step(room, step_id)
    if step.requirement:
        raise Invalid({"step": "confirms a fact the gate requires, so it stays on the plan"}, "Nothing was removed.")
    if step.status != "open":
        raise Invalid({"step": "is done; it stays on the plan as a record"}, "Nothing was removed.")
    title = step.title
    room.steps.remove(step)
    db.session.delete(step)
    db.session.commit()
    return title


def invitee_email(value) -> str:
    """The invitee's address, normalised; Invalid naming contact_email when it is not one."""
    if isinstance(value, str) and is_text(value) and len(value) <= 254:
        try:
            return clean_email(value)
        except Invalid as exc:
            raise Invalid({"contact_email": exc.fields.get("email", "must be an email address")},
                          "No invitation was made.") from None
    raise Invalid({"contact_email": "must be an email address like name@example.com"}, "No invitation was made.")


def complete_seller_step(room: DealRoom, actor, step_id) -> RoomStep:
    """Mark one of the seller's own steps done (the buyer sees "Done"). A buyer's step is the buyer's to
    confirm: refused. Nothing changes the deal's facts: a seller step carries no requirement. LookupError
    (the caller's 404) for a step that is not in this room."""
    check_editor(room.deal, actor)
    step = room_step(room, step_id)
    if step.side != "seller":
        raise Invalid({"step": "is not one of our steps in this room"}, "Nothing was marked done.")
    if step.status == "done":
        raise Invalid({"step": "is already done"}, "Nothing was marked done.")
    step.status, step.confirmed_at = "done", utcnow()
    step.confirmed_by, step.confirmed_name = actor.email, actor.name
    db.session.add(Activity(org_id=room.org_id, deal_id=room.deal_id, user_id=actor.id, kind="room",
                            at=step.confirmed_at, body=f"{actor.name} marked “{step.title}” done in the deal room."))
    db.session.commit()
    return step


def invite(room: DealRoom, actor, contact_email, *, send: bool = False, base_url: str) -> Invitation:
    """Give the contact (created in the organisation if new) a fresh link to the room; an older link of
    theirs stops working. `send` emails it through the organisation's mail transport (by the worker)."""
    deal = room.deal
    check_editor(deal, actor)
    email = invitee_email(contact_email)
    if deal.status != "open" and room.links_expire_at() is not None and room.links_expire_at() <= utcnow():
        raise Invalid({"contact_email": "the deal closed more than 30 days ago; its room is closed"},
                      "No invitation was made.")
    contact = contact_with_email(deal.org_id, email, deal.owner_id)
    token = secrets.token_urlsafe(32)
    url = f"{base_url.rstrip('/')}/r/{token}"
    row = RoomInvite.query.filter_by(room_id=room.id, contact_id=contact.id).first()
    if row is None:
        row = RoomInvite(org_id=room.org_id, room=room, contact_id=contact.id)
        db.session.add(row)
    row.token_hash = token_hash(token)
    _cancel_email(row, "Not sent: a newer link replaced this one.")
    row.created_by_id, row.created_at, row.revoked_at = actor.id, utcnow(), None
    row.mail_pending, row.sent_at, row.send_result, row.email = None, None, "", None
    db.session.flush()
    if send:
        queue_invite_email(row, url)
    db.session.commit()
    return Invitation(url, email, room.links_expire_at(), row)


def revoke(room: DealRoom, actor, contact_email) -> RoomInvite:
    """End a contact's link to the room (it answers 404 from now on); Invalid when they have none."""
    check_editor(room.deal, actor)
    email = contact_email.strip().lower() if isinstance(contact_email, str) and is_text(contact_email) else ""
    row = (RoomInvite.query.join(Contact, RoomInvite.contact_id == Contact.id)
           .filter(RoomInvite.room_id == room.id, Contact.org_id == room.org_id,
                   db.func.lower(Contact.email) == email).first()) if email and len(email) <= 254 else None
    if row is None:
        raise Invalid({"contact_email": "has no invitation to this room"}, "Nothing was revoked.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.mail_pending = None
        _cancel_email(row, "Not sent: the link was revoked before it went out.")
    db.session.commit()
    return row


def invite_by_token(token) -> RoomInvite | None:
    """The valid invitation a link's token names: not revoked, and its deal open or closed under 30 days."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or not token.isascii():
        return None
    # The room, its deal and owner and the invitee come with the link in one statement: every room page
    # and post reads them.
    row = (RoomInvite.query.filter_by(token_hash=token_hash(token))
           .options(joinedload(RoomInvite.room).joinedload(DealRoom.deal).joinedload(Deal.owner),
                    joinedload(RoomInvite.contact)).first())
    return row if row is not None and row.is_valid() else None


def room_step(room, step_id, side: str | None = None) -> RoomStep:
    """The room's step with this id (of `side`, when given); LookupError, the caller's calm 404, for any other
    id, a step of another room, or no room at all."""
    wanted = clean_step_id(step_id)
    step = next((s for s in room.steps if s.id == wanted), None) if room is not None else None
    if step is None or (side is not None and step.side != side):
        raise LookupError("no such step in this room")
    return step


def clean_step_id(step_id) -> int | None:
    try:
        step_id = int(step_id)
    except (TypeError, ValueError):
        return None
    return step_id if 1 <= step_id <= MAX_ID else None


@dataclass(frozen=True)
class Confirmed:
    step: RoomStep
    fact_written: bool
    ready_stage: object  # the stage the deal may now move to, or None


def buyer_confirm(token, step_id, typed_name, ip: str = "", user_agent: str = "") -> Confirmed:
    """Record the invitee's confirmation of one of their open buyer steps, with the name they typed.

    A step with a requirement writes that fact with provenance "buyer"; the deal's timeline and its
    owner hear of it. Invalid (nothing written) for a bad name or a step already done; LookupError
    (the caller's 404, nothing written) for a link that is not valid or a step that is not one of
    this room's buyer steps.
    """
    row = invite_by_token(token)
    if row is None:
        raise LookupError("no such link")
    room, deal = row.room, row.room.deal
    errors: dict = {}
    name = " ".join(clean_text(typed_name, "name", errors, MAX_NAME, required=True).split())
    step = room_step(room, step_id, side="buyer")
    if step.status != "open":
        errors["step"] = "is already confirmed"
    if errors:
        raise Invalid(errors, "Nothing was confirmed.")
    email = row.contact.email or ""
    now = utcnow()
    mark_confirmed(step, row.contact, name, now, ip, user_agent)
    written = bool(step.requirement) and record_buyer_fact(deal, step.requirement, name, email, step.due_on)
    ready = ready_stage(deal) if written else None
    _tell(deal, step, name, email, ready, now)
    try:
        db.session.commit()
    except StaleDataError:  # the rep saved the deal at the same moment: nothing of this was kept
        db.session.rollback()
        raise Conflict(deal.id, "The seller changed this deal just now. Nothing was confirmed; try again.") from None
    return Confirmed(step, written, ready)


def mark_confirmed(step: RoomStep, contact, name: str, now, ip: str = "", user_agent: str = "") -> None:
    """Mark a buyer's step done as `contact` confirmed it, with the evidence kept (address, printable agent)."""
    step.status, step.confirmed_at = "done", now
    step.confirmed_contact_id, step.confirmed_by, step.confirmed_name = contact.id, contact.email or "", name
    step.confirmed_ip = (ip or "")[:45]
    step.confirmed_user_agent = "".join(c for c in (user_agent or "") if c.isprintable())[:300]
    emit(step.org_id, "room.step_confirmed",
         lambda: {"step": step_json(step), "room_id": step.room_id, "deal_id": step.room.deal_id})


def ready_stage(deal: Deal):
    """The stage the deal may now move to (its next stage's gate would pass), or None."""
    stage = next_stage(deal) if deal.status == "open" else None
    return stage if stage is not None and ready_for(deal, stage) else None


def tell_owner(deal: Deal, title: str, otherwise: str, ready, unique_key: str, url: str = "") -> None:
    """Notify the deal's owner once (`unique_key`): "<title>: ready to move to X" when the gate would now
    pass, else `otherwise`."""
    text = f"{title}: ready to move to {ready.name}" if ready is not None else otherwise
    db.session.add(Notification(org_id=deal.org_id, user_id=deal.owner_id, kind="room", text=text[:300],
                                url=url or f"/deals/{deal.id}", unique_key=unique_key))


def _tell(deal: Deal, step: RoomStep, name: str, email: str, ready, now) -> None:
    """Put the confirmation on the deal's timeline and tell the owner, saying when the next move is ready."""
    body = f"{name} <{email}> confirmed “{step.title}” in the deal room."
    db.session.add(Activity(org_id=deal.org_id, deal_id=deal.id, contact_id=step.confirmed_contact_id,
                            kind="room", body=body, at=now))
    tell_owner(deal, step.title, f"{step.title}: confirmed by {name}", ready, f"room-step:{step.id}")


def seller_team(deal: Deal) -> list[str]:
    """The names the buyer sees on the seller's side: the deal's owner (no one's email but theirs is shown)."""
    return [deal.owner.name or deal.owner.email]


def _invite_message(row: RoomInvite, url: str) -> EmailMessage:
    deal = row.room.deal
    owner = deal.owner
    message = EmailMessage()
    message["From"] = formataddr((owner.name or owner.email, owner.email))
    message["To"] = row.contact.email
    message["Subject"] = f"Our plan for {deal.title}"
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"room{row.id}", domain=mail_domain(row.org_id))
    message.set_content(f"Hello{' ' + row.contact.name if row.contact.name else ''},\n\n"
                        f"{owner.name or owner.email} shared the plan for {deal.title} with you. "
                        f"Open it here to see the steps and confirm yours:\n\n{url}\n\n"
                        "The link is yours alone; please do not forward it.\n")
    return message


def queue_invite_email(row: RoomInvite, url: str) -> None:
    """Queue the link's email in the outbox (no commit): sent by the worker with the same delivery truth as
    every email (retries, bounces, the sender told), kept encrypted until sent, one email per link."""
    message = _invite_message(row, url)
    deal = row.room.deal
    email = queue_email(row.org_id, f"room-invite:{row.id}:{row.token_hash[:24]}", message, deal.owner,
                        row.contact.email, link=f"/deals/{deal.id}#room", kind="room", sealed=True)
    row.email = email


def _cancel_email(row: RoomInvite, why: str) -> None:
    """A link's email still waiting in the outbox carries a dead link once the link changes: it is not sent."""
    email = row.email
    if email is not None and email.status in ("queued", "retrying"):
        email.status, email.error, email.next_attempt_at, email.message = "skipped", why, None, b""


def invite_email_state(row: RoomInvite) -> str:
    """What the rep reads beside an invitee: how the email with their link fared, in a few words."""
    email = row.email
    if email is None:
        if row.sent_at is not None:
            return "emailed"
        return row.send_result or ""
    if email.status == "sent":
        return "emailed"
    if email.status in ("queued", "sending"):
        return "email queued"
    if email.status == "retrying":
        return "email delayed: the relay asked to try again later"
    return {"bounced": "email bounced", "failed": "email not delivered", "unknown": "email may not have gone out",
            "skipped": "not emailed: the address bounced before"}.get(email.status, email.status)


def send_invite(invite_id: int) -> str:
    """Email an invitation queued before the outbox took them (a job left in Redis by an older version):
    once, through the organisation's transport, then forget the link."""
    row = db.session.get(RoomInvite, invite_id)
    if row is None or not row.mail_pending or row.revoked_at is not None:
        return "nothing to send"
    try:
        url = decrypt(row.mail_pending, INVITE_LINKS)
    except Unreadable:
        row.mail_pending, row.send_result = None, "Not sent: the link could not be read (SECRET_KEY changed)."
        db.session.commit()
        return row.send_result
    message = _invite_message(row, url)
    mailer = transport_for(row.org_id)
    try:
        answer = mailer.send(message, row.room.deal.owner.email, row.contact.email)
        row.sent_at = utcnow()
    except SendFailure as exc:
        answer = f"Not sent: {exc}"
    finally:
        mailer.close()
    row.mail_pending = None
    row.send_result = str(answer)[:300]
    db.session.commit()
    return row.send_result
