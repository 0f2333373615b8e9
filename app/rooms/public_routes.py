"""The deal room, buyer's side: the page at a link (/r/<token>) and the confirmation of a step.

No login: the link's token is the buyer's key (only its SHA-256 is stored). A revoked, expired or
unknown link is a calm 404 that writes nothing. Every post carries the page's CSRF token (checked
here, so a stale page is answered on the room's own page) and is rate limited per address, as the
public lead forms are. The page never shows the deal's facts, notes or amount.
"""

from urllib.parse import unquote_to_bytes

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from app.errors import Conflict, Invalid
from app.extensions import csrf, limiter
from app.rooms import public_bp
from app.rooms.service import buyer_confirm, invite_by_token, seller_team

csrf.exempt(public_bp)  # checked in confirm(), to answer on the room's page rather than redirect
MAX_BODY = 64 * 1024  # a name is a few bytes; a 100 KB name is refused by its limit, not read whole


def _view_limit() -> str:
    return current_app.config["ROOM_VIEW_LIMIT"]


def _post_limit() -> str:
    return current_app.config["ROOM_POST_LIMIT"]


def _readable() -> bool:
    """The body is form-encoded UTF-8: Werkzeug keeps a field it cannot decode (a lone surrogate's bytes,
    %ED%A0%80) as its raw %-text, which would pass for a name."""
    raw = request.get_data(cache=True)  # read before request.form, which then parses the cached body
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _not_found():
    return render_template("rooms/public_gone.html"), 404


def _page(row, token, status=200, notice="", notice_kind="success", errors=None, typed="", step_id=None,
          **kept):
    """The room page for this link, saying what happened (`notice`); `kept` holds what a refused form's
    fields said, so nothing typed is lost (typed_comment, colleague_email, colleague_name, proposed_on, ...)."""
    room = row.room
    deal = room.deal
    return render_template("rooms/public.html", token=token, room=room, deal_title=deal.title,
                           team=seller_team(deal),
                           invitee=row.contact, notice=notice, notice_kind=notice_kind, errors=errors or {},
                           typed=typed, failed_step=step_id, kept=kept), status


@public_bp.after_request
def _private(response):
    """The room is one person's page: never cached by a proxy, never sent on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@public_bp.get("/<token>")
@limiter.limit(_view_limit)
def show(token):
    """Show the room to the invited buyer: the seller's team, the plan, and their open steps to confirm."""
    row = invite_by_token(token)
    if row is None:
        return _not_found()
    return _page(row, token)


@public_bp.post("/<token>/steps/<int:step_id>/confirm")
@limiter.limit(_post_limit)
def confirm(token, step_id):
    """Confirm one of the buyer's steps with the name they typed; say what happened on the page."""
    if (request.content_length or 0) > MAX_BODY:
        return render_template("rooms/public_gone.html", too_large=True), 413
    row = invite_by_token(token)
    if row is None:
        return _not_found()
    if not _readable():
        return _page(row, token, 400, "Nothing was confirmed: what was sent is not text we can keep (a broken "
                                      "character). Type your name again and send.", "error")
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):  # as CSRFProtect does for every other form
            validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return _page(row, token, 400, "This page had expired, so nothing was confirmed. Please try again.", "error")
    name = request.form.get("name")
    try:
        done = buyer_confirm(token, step_id, name, ip=request.remote_addr or "",
                             user_agent=request.headers.get("User-Agent", ""))
    except LookupError:
        return _not_found()
    except Invalid as exc:
        message = "Nothing was confirmed: " + "; ".join(f"your {k} {v}" if k == "name" else f"this step {v}"
                                                       for k, v in exc.fields.items()) + "."
        typed = name if isinstance(name, str) and len(name) <= 200 and "name" not in exc.fields else ""
        return _page(row, token, 422, message, "error", exc.fields, typed, step_id)
    except Conflict as exc:
        return _page(row, token, 409, exc.message, "error")
    return _page(row, token, 200, f"Thank you, {done.step.confirmed_name}: “{done.step.title}” is confirmed.")
