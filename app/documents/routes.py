"""The rep's side of deal-room documents: share a PDF, replace it with a new version, download a version,
and see what each buyer did with it (on the deal page)."""

from flask import Response, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.documents import bp
from app.documents.service import events_of, new_version, share, shared_on
from app.errors import StagegateError
from app.extensions import db
from app.ids import parse_id
from app.models import DOCUMENT_ASKS, Deal, DealDocument, DocumentVersion
from app.tenancy import get_or_404


@bp.app_template_global()
def deal_documents(deal) -> dict:
    """What the deal page's documents panel shows: the documents, each version's events, the asks."""
    documents = shared_on(deal)
    fields = [f for f in deal.pipeline.fields if f.type == "checkbox"]
    return {"documents": documents, "events": events_of(documents), "asks": DOCUMENT_ASKS, "fields": fields}


def _back(deal) -> str:
    return url_for("deals.show", deal_id=deal.id) + "#documents"


def _refused(exc: StagegateError) -> None:
    fields = getattr(exc, "fields", {}) or {}
    flash(" ".join([exc.message, *(f"“{k}” {v}." for k, v in fields.items())]), "error")


@bp.route("/<int:deal_id>/documents", methods=["POST"])
@login_required
def share_document(deal_id):
    """Share a PDF on the deal: the buyer sees it in the deal room."""
    deal = get_or_404(Deal, deal_id)
    try:
        version = share(deal, current_user, request.files.get("file"), title=request.form.get("title"),
                        ask=request.form.get("ask", "acknowledge"), requirement=request.form.get("requirement"))
    except StagegateError as exc:
        _refused(exc)
        return redirect(_back(deal))
    document = version.document
    flash(f"Shared “{document.title}” (version 1, {max(1, version.size // 1024)} KB). Buyers with a room link "
          f"can now {document.ask} it.", "success")
    return redirect(_back(deal))


@bp.route("/<int:deal_id>/documents/<int:document_id>/versions", methods=["POST"])
@login_required
def add_version(deal_id, document_id):
    """Replace a document with a new version: confirmations of the old one stay on record."""
    deal = get_or_404(Deal, deal_id)
    document = get_or_404(DealDocument, document_id)
    if document.deal_id != deal.id:
        return redirect(_back(deal))
    try:
        version = new_version(document, current_user, request.files.get("file"))
    except StagegateError as exc:
        _refused(exc)
        return redirect(_back(deal))
    flash(f"Shared version {version.number} of “{document.title}”: buyers are asked to {document.ask} it again.",
          "success")
    return redirect(_back(deal))


@bp.route("/<int:deal_id>/documents/<int:document_id>/versions/<int:number>")
@login_required
def download(deal_id, document_id, number):
    """Download one version as the buyer received it (the bytes its SHA-256 names)."""
    deal = get_or_404(Deal, deal_id)
    document = get_or_404(DealDocument, document_id)
    version = None
    if document.deal_id == deal.id and parse_id(number):
        version = (DocumentVersion.query.filter_by(document_id=document.id, number=number, org_id=deal.org_id)
                   .options(db.undefer(DocumentVersion.content)).first())
    if version is None:
        return Response("No such version.", status=404, mimetype="text/plain")
    return pdf_response(version)


def pdf_response(version: DocumentVersion) -> Response:
    """A version as a download: never rendered by the browser in the app's origin, never sniffed."""
    return Response(version.content, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{version.filename}"',
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, no-store"})
