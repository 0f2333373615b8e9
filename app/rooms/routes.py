"""The deal room, seller's side: the panel on the deal page (open, plan steps, invite, revoke)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.deals.service import can_edit
from app.errors import Forbidden, Invalid
from app.htmx import is_htmx
from app.models import Deal
from app.rooms import bp
from app.rooms.service import (
    add_step,
    complete_seller_step,
    edit_step,
    get_room,
    invite,
    invite_email_state,
    open_room,
    remove_step,
    revoke,
)
from app.rooms.thread import decide_colleague, decide_date, pending_for, seller_comment
from app.sequences.sending import base_url
from app.tenancy import get_or_404


def _panel(deal, message="", kind="success", link=None, errors=None, status=200):
    """The room panel after an action: the partial for htmx, else back to the deal page with a flash."""
    if is_htmx():
        return render_template("rooms/_panel.html", deal=deal, room=get_room(deal), room_message=message,
                               room_message_kind=kind, room_link=link, room_errors=errors or {},
                               can_edit=can_edit(deal, current_user)), status
    if message:
        flash(message + (f" Their link: {link}" if link else ""), kind if kind != "warning" else "error")
    return redirect(url_for("deals.show", deal_id=deal.id) + "#room")


def _act(deal, action):
    """Run one room action; a refusal is said in the panel and nothing is written."""
    try:
        return action()
    except Invalid as exc:
        details = " ".join(f"{k.replace('_', ' ').capitalize()} {v}." for k, v in exc.fields.items())
        return _panel(deal, f"{exc.message} {details}".strip(), "error", errors=exc.fields, status=422)
    except Forbidden as exc:
        return _panel(deal, exc.message, "error", status=403)


@bp.post("/<int:deal_id>/room")
@login_required
def open_(deal_id):
    """Open the deal's room with a step for each fact only the buyer can confirm."""
    deal = get_or_404(Deal, deal_id)

    def action():
        room, created = open_room(deal, current_user)
        return _panel(deal, "Deal room opened." if created else "The deal room was already open.")
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/steps")
@login_required
def add_step_(deal_id):
    """Add a step to the room's plan."""
    deal = get_or_404(Deal, deal_id)
    room = get_room(deal) or open_room(deal, current_user)[0]

    def action():
        step = add_step(room, current_user, title=request.form.get("title"), side=request.form.get("side", "buyer"),
                        due_on=request.form.get("due_on"), requirement=request.form.get("requirement") or None)
        return _panel(deal, f"Step “{step.title}” added.")
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/steps/<int:step_id>/done")
@login_required
def step_done(deal_id, step_id):
    """Mark one of our own plan steps done."""
    deal = get_or_404(Deal, deal_id)
    room = get_room(deal)

    def action():
        try:
            step = complete_seller_step(room, current_user, step_id) if room is not None else None
        except LookupError:
            step = None
        if step is None:
            abort(404)
        return _panel(deal, f"“{step.title}” is done; the buyer sees it in the room.")
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/steps/<int:step_id>")
@login_required
def edit_step_(deal_id, step_id):
    """Reword a plan step or change its date; with remove=1, take it off the plan."""
    deal = get_or_404(Deal, deal_id)
    room = get_room(deal)
    if room is None:
        abort(404)

    def action():
        try:
            if request.form.get("remove") == "1":
                return _panel(deal, f"“{remove_step(room, current_user, step_id)}” is off the plan.")
            step = edit_step(room, current_user, step_id, title=request.form.get("title"),
                             due_on=request.form.get("due_on"))
        except LookupError:
            abort(404)
        return _panel(deal, f"Step “{step.title}” saved; the buyer sees it now.")
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/invites")
@login_required
def invite_(deal_id):
    """Give a buyer a link to the room; with "send", email it too."""
    deal = get_or_404(Deal, deal_id)
    room = get_room(deal) or open_room(deal, current_user)[0]

    def action():
        send = request.form.get("send") == "1"
        made = invite(room, current_user, request.form.get("contact_email"), send=send,
                      base_url=base_url(deal.org_id))
        said = f"Invited {made.contact_email}." + (" The link is being emailed." if send else
                                                   " Copy the link and send it to them.")
        return _panel(deal, said, link=made.url)
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/invites/revoke")
@login_required
def revoke_(deal_id):
    """Revoke a buyer's link: it answers "not found" from now on."""
    deal = get_or_404(Deal, deal_id)
    room = get_room(deal)
    if room is None:
        return _panel(deal, "This deal has no room yet.", "error", status=422)

    def action():
        row = revoke(room, current_user, request.form.get("contact_email"))
        return _panel(deal, f"{row.contact.email}'s link is revoked.")
    return _act(deal, action)


@bp.app_template_global()
def room_pending(room) -> dict:
    """What waits on the seller in the room: proposed dates and colleague requests."""
    return pending_for(room)


@bp.app_template_global()
def room_invite_state(invite_row) -> str:
    """How the email with an invitee's link fared, in a few words."""
    return invite_email_state(invite_row)


@bp.post("/<int:deal_id>/room/comments")
@login_required
def comment_(deal_id):
    """Answer in the room's thread: every invitee reads it there."""
    deal = get_or_404(Deal, deal_id)

    def action():
        seller_comment(deal, current_user, request.form.get("comment"))
        return _panel(deal, "Posted to the room's thread.")
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/steps/<int:step_id>/date")
@login_required
def decide_date_(deal_id, step_id):
    """Accept or decline the date a buyer proposed for their step."""
    deal = get_or_404(Deal, deal_id)
    accept = request.form.get("decision") == "accept"

    def action():
        try:
            step = decide_date(deal, current_user, step_id, accept)
        except LookupError:
            abort(404)
        said = (f"“{step.title}” is now due {step.due_on:%-d %b}." if accept
                else f"The proposed date for “{step.title}” is declined; its date stays as it was.")
        return _panel(deal, said)
    return _act(deal, action)


@bp.post("/<int:deal_id>/room/colleagues/<int:request_id>")
@login_required
def decide_colleague_(deal_id, request_id):
    """Approve (they get their own link by email) or decline a buyer's request to add a colleague."""
    deal = get_or_404(Deal, deal_id)
    approve = request.form.get("decision") == "approve"

    def action():
        try:
            ask, made = decide_colleague(deal, current_user, request_id, approve, base_url(deal.org_id))
        except LookupError:
            abort(404)
        if made is not None:
            return _panel(deal, f"Approved: {ask.email} is invited and their link is being emailed.", link=made.url)
        return _panel(deal, f"Declined: {ask.email} was not invited.")
    return _act(deal, action)
