"""Documents shared in the deal room: uploads checked by content, every version kept with its SHA-256,
and the buyer's views and confirmations recorded with their evidence.

A buyer confirms the latest version only; a new version asks again: what was confirmed before stays in
the record, against the hash it was confirmed for, and the fact it met is taken back until the buyer
confirms the new version. Writing the mapped fact is the room's job (it owns the
link and the provenance), so `confirm` returns what was confirmed and never touches the deal's facts.
"""

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from app.deals.service import can_edit, withdraw_buyer_fact
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import DOCUMENT_ASKS, Activity, DealDocument, DocumentEvent, DocumentVersion
from app.text import clean_text
from app.timezones import utcnow

MAX_BYTES = 10 * 1024 * 1024  # a proposal or terms as a PDF; bigger files are scans that belong elsewhere
MAX_TITLE = 200
MAX_NAME = 200
PDF_MAGIC = b"%PDF-"


def check_editor(deal, actor) -> None:
    """The deal's owner, a manager or an admin may share documents on it."""
    if not can_edit(deal, actor):
        raise Forbidden("Only the deal's owner or a manager can share documents on it.")


def _filename(raw) -> str:
    """A name any file system and any browser keeps: ASCII letters, digits, dots, dashes; always .pdf."""
    name = unicodedata.normalize("NFKD", raw if isinstance(raw, str) else "").encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(".-")
    stem = re.sub(r"\.pdf$", "", stem, flags=re.IGNORECASE)[:100] or "document"
    return f"{stem}.pdf"


def _read_pdf(upload, errors: dict) -> bytes | None:
    """The upload's bytes if it is a PDF (by its content, not its name) of at most MAX_BYTES."""
    if upload is None or not getattr(upload, "filename", ""):
        errors["file"] = "is required: choose a PDF"
        return None
    content = upload.stream.read(MAX_BYTES + 1)
    if len(content) > MAX_BYTES:
        errors["file"] = f"is larger than {MAX_BYTES // (1024 * 1024)} MB"
    elif not content.startswith(PDF_MAGIC):
        errors["file"] = "is not a PDF (its content does not start as a PDF does)"
    return None if "file" in errors else content


def _requirement(deal, key, errors: dict):
    """A field key of the deal's pipeline, or None."""
    if key in (None, ""):
        return None
    if not isinstance(key, str) or key not in {f.key for f in deal.pipeline.fields}:
        errors["requirement"] = "is not a fact of this deal's pipeline"
        return None
    return key


def share(deal, actor, upload, *, title=None, ask="acknowledge", requirement=None) -> DocumentVersion:
    """Share a new document on `deal` (its version 1). Invalid, with nothing written, for a file that is
    not a PDF or too large, a bad title, ask or requirement."""
    check_editor(deal, actor)
    errors: dict = {}
    content = _read_pdf(upload, errors)
    name = clean_text(title, "title", errors, MAX_TITLE) if title else ""
    if ask not in DOCUMENT_ASKS:
        errors["ask"] = f"must be one of: {', '.join(DOCUMENT_ASKS)}"
    key = _requirement(deal, requirement, errors)
    if errors:
        raise Invalid(errors, "The document was not shared.")
    filename = _filename(upload.filename)
    document = DealDocument(org_id=deal.org_id, deal_id=deal.id, title=name or filename.removesuffix(".pdf"),
                            ask=ask, requirement=key, created_by_id=actor.id)
    db.session.add(document)
    version = _add_version(document, actor, filename, content)
    _log(deal, None, f"{actor.name} shared “{document.title}” (version 1) in the deal room.", actor.id)
    db.session.commit()
    return version


def new_version(document: DealDocument, actor, upload) -> DocumentVersion:
    """Replace a document with a new version: the buyer is asked again."""
    deal = document.deal
    check_editor(deal, actor)
    errors: dict = {}
    content = _read_pdf(upload, errors)
    if errors:
        raise Invalid(errors, "The new version was not shared.")
    version = _add_version(document, actor, _filename(upload.filename), content)
    withdrawn = bool(document.requirement) and withdraw_buyer_fact(deal, document.requirement)
    note = (f" The buyer's confirmation of the earlier version no longer meets “{document.requirement}”."
            if withdrawn else "")
    _log(deal, None, f"{actor.name} shared version {version.number} of “{document.title}”: the buyer is asked "
                     f"to {document.ask} it again.{note}", actor.id)
    db.session.commit()
    return version


def _add_version(document, actor, filename: str, content: bytes) -> DocumentVersion:
    number = (document.latest.number + 1) if document.latest else 1
    version = DocumentVersion(org_id=document.org_id, document=document, number=number, filename=filename,
                              size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content,
                              uploaded_by_id=actor.id)
    db.session.add(version)
    db.session.flush()
    return version


def _log(deal, contact_id, body: str, user_id=None) -> None:
    db.session.add(Activity(org_id=deal.org_id, deal_id=deal.id, contact_id=contact_id, user_id=user_id,
                            kind="room", body=body[:2000], at=utcnow()))


def shared_on(deal) -> list[DealDocument]:
    """The deal's documents (not archived), newest first, with their versions."""
    return (DealDocument.query.filter_by(deal_id=deal.id, org_id=deal.org_id, archived=False)
            .options(db.selectinload(DealDocument.versions)).order_by(DealDocument.id.desc()).all())


def events_of(documents: list, views: bool = True) -> dict:
    """{version id: [events, oldest first]} for the documents' versions, in one statement (without the
    views when `views` is False: the buyer's page shows confirmations only)."""
    ids = [v.id for d in documents for v in d.versions] or [0]
    query = DocumentEvent.query.filter(DocumentEvent.version_id.in_(ids))
    if not views:
        query = query.filter(DocumentEvent.kind != "view")
    found: dict = {}
    for event in query.order_by(DocumentEvent.at, DocumentEvent.id):
        found.setdefault(event.version_id, []).append(event)
    return found


@dataclass(frozen=True)
class Evidence:
    ip: str = ""
    user_agent: str = ""


def _evidence(evidence: Evidence) -> dict:
    return {"ip": (evidence.ip or "")[:45],
            "user_agent": "".join(c for c in (evidence.user_agent or "") if c.isprintable())[:300]}


def record_view(version: DocumentVersion, contact, evidence: Evidence) -> DocumentEvent:
    """Record that a buyer opened a version (each opening: the rep sees when, and how often)."""
    event = DocumentEvent(org_id=version.org_id, version_id=version.id, contact_id=contact.id,
                          email=contact.email or "", kind="view", sha256=version.sha256, **_evidence(evidence))
    db.session.add(event)
    db.session.commit()
    return event


def confirmed(version: DocumentVersion, events: list | None = None) -> DocumentEvent | None:
    """The first acknowledgement or acceptance of exactly this version, if any."""
    rows = events if events is not None else DocumentEvent.query.filter_by(version_id=version.id).all()
    return next((e for e in rows if e.kind != "view" and e.version_id == version.id), None)


def confirm(document: DealDocument, version_id, contact, typed_name, evidence: Evidence) -> DocumentEvent:
    """Record the buyer's acknowledgement or acceptance of the document's latest version, with the name they
    typed, the time, address, user agent and the version's hash (not committed: the room writes the mapped
    fact in the same transaction). Invalid for an older version, a version already confirmed, or a name
    that is not a name."""
    errors: dict = {}
    name = clean_text(typed_name, "name", errors, MAX_NAME, required=True)
    latest = document.latest
    if latest is None or str(latest.id) != str(version_id):
        errors["version"] = "is not the latest version: open the document again"
    elif confirmed(latest) is not None:
        errors["version"] = f"is already {'accepted' if document.ask == 'accept' else 'acknowledged'}"
    if document.ask == "accept" and "name" not in errors and len(name.split()) < 2:
        errors["name"] = "must be your full name (first and last), as a signature"
    if errors:
        raise Invalid(errors, "Nothing was confirmed.")
    event = DocumentEvent(org_id=document.org_id, version_id=latest.id, contact_id=contact.id,
                          email=contact.email or "", kind=document.ask, typed_name=name, sha256=latest.sha256,
                          at=utcnow(), **_evidence(evidence))
    db.session.add(event)
    verb = "accepted" if document.ask == "accept" else "acknowledged"
    _log(document.deal, contact.id, f"{name} <{contact.email}> {verb} “{document.title}” version {latest.number} "
                                    f"(SHA-256 {latest.sha256[:12]}…) in the deal room.")
    return event
