"""What every buyer's post in the deal room passes first: a body of sane size, a live link, text that is
text, and the page's CSRF token. Each refusal is answered on the room's own page (or its calm 404)."""

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from app.rooms.public_routes import MAX_BODY, _not_found, _page, _readable
from app.rooms.service import invite_by_token


def checked_post(token):
    """(the invite, None) when the post may go on, else (None or the invite, the response to send)."""
    if (request.content_length or 0) > MAX_BODY:
        return None, (render_template("rooms/public_gone.html", too_large=True), 413)
    row = invite_by_token(token)
    if row is None:
        return None, _not_found()
    if not _readable():
        return row, _page(row, token, 400, "Nothing was done: what was sent is not text we can keep (a broken "
                                           "character). Please try again.", "error")
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):  # as CSRFProtect does for every other form
            validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return row, _page(row, token, 400, "This page had expired, so nothing was done. Please try again.", "error")
    return row, None
