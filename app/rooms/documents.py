"""Documents in the deal room, the buyer's side: what the invitee may open, and their acknowledgement or
acceptance, which writes the mapped fact as the buyer's (`record_buyer_fact`) in the same transaction.

The document's own rules (PDF only, latest version only, a full name to accept) live in
app/documents/service.py; this module joins them to the link and to the gate.
"""

from dataclasses import dataclass

from sqlalchemy.orm.exc import StaleDataError

from app.deals.service import MAX_ID, record_buyer_fact
from app.documents.service import Evidence, confirm, events_of, record_view, shared_on
from app.errors import Conflict
from app.extensions import db
from app.models import DealDocument, DocumentVersion
from app.rooms.service import mark_confirmed, ready_stage, tell_owner


def documents_of(room) -> dict:
    """The documents the room's invitees see, each version's events (theirs and their colleagues')."""
    documents = [d for d in shared_on(room.deal) if d.latest is not None]
    return {"documents": documents, "events": events_of(documents, views=False)}


def _document(invite, document_id) -> DealDocument:
    """One of the room's deal's documents, or LookupError (the caller's calm 404)."""
    try:
        wanted = int(document_id)
    except (TypeError, ValueError):
        raise LookupError("no such document") from None
    document = db.session.get(DealDocument, wanted) if 1 <= wanted <= MAX_ID else None
    deal = invite.room.deal
    if document is None or document.deal_id != deal.id or document.org_id != deal.org_id or document.archived:
        raise LookupError("no such document")
    return document


def open_latest(invite, document_id, evidence: Evidence) -> DocumentVersion:
    """The latest version's bytes for the invitee, the opening recorded (the rep sees who and when)."""
    document = _document(invite, document_id)
    version = (DocumentVersion.query.filter_by(id=document.latest.id)
               .options(db.undefer(DocumentVersion.content)).one())
    record_view(version, invite.contact, evidence)
    return version


@dataclass(frozen=True)
class DocumentConfirmed:
    document: DealDocument
    name: str
    fact_written: bool
    ready_stage: object  # the stage the deal may now move to, or None


def confirm_document(invite, document_id, version_id, typed_name, evidence: Evidence) -> DocumentConfirmed:
    """Record the invitee's acknowledgement or acceptance of a document's latest version; a document mapped
    to a requirement writes that fact as the buyer's. Never moves the deal; tells its owner, saying when the
    next stage's gate would now pass. Invalid (nothing written) for an old version, a second confirmation
    or a name that is not one."""
    document = _document(invite, document_id)
    deal = invite.room.deal
    event = confirm(document, version_id, invite.contact, typed_name, evidence)
    email = invite.contact.email or ""
    written = bool(document.requirement) and record_buyer_fact(deal, document.requirement, event.typed_name, email)
    if written:  # the plan's step for the same fact is done too, by the same person
        for step in invite.room.steps:
            if step.side == "buyer" and step.status == "open" and step.requirement == document.requirement:
                mark_confirmed(step, invite.contact, event.typed_name, event.at, event.ip, event.user_agent)
    ready = ready_stage(deal) if written else None
    verb = "accepted" if document.ask == "accept" else "acknowledged"
    tell_owner(deal, document.title, f"{document.title} {verb} by {event.typed_name}", ready,
               f"room-document:{event.version_id}:{invite.contact_id}", f"/deals/{deal.id}#documents")
    try:
        db.session.commit()
    except StaleDataError:  # the rep saved the deal at the same moment: nothing of this was kept
        db.session.rollback()
        raise Conflict(deal.id, "The seller changed this deal just now. Nothing was confirmed; try again.") from None
    return DocumentConfirmed(document, event.typed_name, written, ready)
