"""The room's conversation, buyer's side: post to the thread, propose another date for a step, ask for a
colleague to join. Each post passes `checked_post` (size, live link, text, CSRF) and the per-address
limit; the page says what happened and keeps what was typed when it is refused."""

from flask import request

from app.errors import Invalid
from app.extensions import limiter
from app.rooms import public_bp
from app.rooms.guard_routes import checked_post
from app.rooms.public_routes import _not_found, _page, _post_limit
from app.rooms.thread import ask_colleague, buyer_comment, propose_date, recent_thread


@public_bp.app_template_global()
def room_thread(room) -> list:
    """The thread's latest messages, oldest first."""
    return recent_thread(room)


def _kept(value, limit: int) -> str:
    """What the buyer typed, to put back in the refused form (only text of sane size)."""
    return value if isinstance(value, str) and len(value) <= limit and "\x00" not in value else ""


def _refused(exc: Invalid) -> str:
    return f"{exc.message} " + " ".join(f"The {k.replace('_on', ' date')} {v}." for k, v in exc.fields.items())


@public_bp.post("/<token>/comments")
@limiter.limit(_post_limit)
def comment(token):
    """Post the buyer's message to the room's thread."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    body = request.form.get("comment")
    try:
        buyer_comment(row, body)
    except Invalid as exc:
        return _page(row, token, 422, _refused(exc), "error", exc.fields, typed_comment=_kept(body, 2000))
    return _page(row, token, 200, "Your message is posted; the seller is told.")


@public_bp.post("/<token>/steps/<int:step_id>/propose")
@limiter.limit(_post_limit)
def propose(token, step_id):
    """Propose another date for one of the buyer's open steps; the seller accepts or declines it."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    try:
        step = propose_date(row, step_id, request.form.get("due_on"), request.form.get("note") or "")
    except LookupError:
        return _not_found()
    except Invalid as exc:
        return _page(row, token, 422, _refused(exc), "error", exc.fields, step_id=step_id,
                     proposed_on=_kept(request.form.get("due_on"), 10), note=_kept(request.form.get("note"), 300))
    return _page(row, token, 200, f"You proposed {step.proposed_on:%-d %b %Y} for “{step.title}”. "
                                  "The seller is told and will accept it or get back to you.")


@public_bp.post("/<token>/colleagues")
@limiter.limit(_post_limit)
def colleague(token):
    """Ask for a colleague to join the room: they get their own link once the seller approves."""
    row, refused = checked_post(token)
    if refused is not None:
        return refused
    email, name = request.form.get("email"), request.form.get("name") or ""
    try:
        ask = ask_colleague(row, email, name)
    except Invalid as exc:
        return _page(row, token, 422, _refused(exc), "error", exc.fields, colleague_email=_kept(email, 254),
                     colleague_name=_kept(name, 200))
    return _page(row, token, 200, f"Asked for {ask.email} to join. Once the seller approves, they get their "
                                  "own link by email.")
