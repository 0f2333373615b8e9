"""The deal room's documents, buyer's side: open the latest version (the opening is recorded) and
acknowledge or accept it with the typed name. Same link, limits, CSRF and calm 404s as the plan."""

from flask import request

from app.documents.routes import pdf_response
from app.documents.service import Evidence
from app.errors import Conflict, Invalid
from app.extensions import limiter
from app.rooms import documents as room_documents_service
from app.rooms import public_bp
from app.rooms.documents import documents_of, open_latest
from app.rooms.guard_routes import checked_post
from app.rooms.public_routes import _not_found, _page, _post_limit, _view_limit
from app.rooms.service import invite_by_token


@public_bp.app_template_global()
def room_documents(room) -> dict:
    """What the room page's documents section shows the invitee (read once a request: the plan asks too)."""
    key = f"stagegate.room_documents.{room.id}"  # the request's own (g outlives a request in tests)
    if key not in request.environ:
        request.environ[key] = documents_of(room)
    return request.environ[key]


def _evidence() -> Evidence:
    return Evidence(request.remote_addr or "", request.headers.get("User-Agent", ""))


@public_bp.get("/<token>/documents/<int:document_id>")
@limiter.limit(_view_limit)
def open_document(token, document_id):
    """Download the latest version of a document shared in the room; the seller sees that it was opened."""
    row = invite_by_token(token)
    if row is None:
        return _not_found()
    try:
        version = open_latest(row, document_id, _evidence())
    except LookupError:
        return _not_found()
    return pdf_response(version)


@public_bp.post("/<token>/documents/<int:document_id>/confirm")
@limiter.limit(_post_limit)
def confirm_document(token, document_id):
    """Acknowledge or accept the latest version with the name the buyer typed; say what happened."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    try:
        done = room_documents_service.confirm_document(row, document_id, request.form.get("version_id"), request.form.get("name"),
                                _evidence())
    except LookupError:
        return _not_found()
    except Invalid as exc:
        words = "; ".join(f"your {k} {v}" if k == "name" else f"this document's {k} {v}" for k, v in exc.fields.items())
        return _page(row, token, 422, f"Nothing was confirmed: {words}.", "error")
    except Conflict as exc:
        return _page(row, token, 409, exc.message, "error")
    verb = "accepted" if done.document.ask == "accept" else "acknowledged"
    return _page(row, token, 200, f"Thank you, {done.name}: “{done.document.title}” is {verb}.")
