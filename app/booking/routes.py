"""Booking, the rep's side: their booking hours, and the meetings of a deal (book, move, cancel)."""

from datetime import datetime

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.booking import bp, hours, service
from app.booking.clock import rep_zone, when_text
from app.deals.service import can_edit
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.htmx import add_vary, is_htmx
from app.ids import parse_id
from app.models import Deal, Meeting
from app.models.booking import WEEKDAYS
from app.tenancy import get_or_404
from app.text import clean_text


@bp.route("/hours", methods=["GET", "POST"])
@login_required
def hours_page():
    """Set the signed-in user's booking hours: zone, meeting lengths, notice, horizon and weekly windows."""
    errors, status = {}, 200
    if request.method == "POST":
        values = {**request.form.to_dict(), "lengths": request.form.getlist("lengths")}
        try:
            hours.save_hours(current_user, values)
        except Invalid as exc:
            db.session.rollback()
            errors, status = exc.fields or {"form": exc.message}, 422
        else:
            flash(f"Booking hours saved: buyers can book you {_summary()}.", "success")
            return redirect(url_for("booking.hours_page"), 303)
    else:
        values = hours.form_values(current_user)
    return render_template("booking/hours.html", values=values, errors=errors, weekdays=WEEKDAYS,
                           rows=range(hours.WINDOWS_PER_DAY), field=hours.window_field,
                           zones=hours.zone_names(), lengths=hours.LENGTH_CHOICES,
                           org_zone=current_user.org.zone.key), status


def _summary() -> str:
    profile = service.profile_for(current_user)
    windows = service.windows_for(current_user.id)
    if not windows:
        return "at no time yet (add a weekly window to open your calendar)"
    days = sorted({w.weekday for w in windows})
    return (f"on {', '.join(WEEKDAYS[d] for d in days)}, {profile.notice_hours} h ahead at the soonest and up to "
            f"{profile.horizon_days} days out, in {rep_zone(current_user).key}")


@bp.app_template_global()
def deal_meetings(deal):
    """What the deal page's Meetings panel shows: the upcoming meetings, and whether this user may change them."""
    meetings = service.upcoming_meetings(deal)
    return {"meetings": [(m, when_text(m)) for m in meetings], "can_edit": can_edit(deal, current_user),
            "has_hours": service.profile_for(deal.owner) is not None}


def _editable_deal(deal_id) -> Deal:
    deal = get_or_404(Deal, deal_id)
    if not can_edit(deal, current_user):
        raise Forbidden("Only the deal's owner, a manager or an admin books its meetings.")
    return deal


def _length(deal, raw) -> int:
    profile = service.profile_for(deal.owner)
    offered = profile.length_list if profile else []
    number = parse_id(raw)
    return number if number in offered else (offered[0] if offered else 30)


def _start(raw) -> datetime | None:
    errors: dict = {}
    text = clean_text(raw, "starts_at", errors, 32)
    try:
        return datetime.fromisoformat(text) if text and not errors else None
    except ValueError:
        return None


def _book_page(deal, errors=None, status=200):
    length = _length(deal, request.values.get("length"))
    profile = service.profile_for(deal.owner)
    return render_template("booking/book.html", deal=deal, errors=errors or {}, length=length,
                           lengths=profile.length_list if profile else [],
                           contacts=service.meeting_contacts(deal), days=service.slots_by_day(deal.owner, length),
                           zone=rep_zone(deal.owner).key, chosen=request.values.get("starts_at", ""),
                           contact_id=request.values.get("contact_id", str(deal.contact_id or ""))), status


@bp.route("/deals/<int:deal_id>/book", methods=["GET", "POST"])
@login_required
def book(deal_id):
    """Book a meeting on the deal with one of its people, in an open slot of the deal owner's calendar."""
    try:
        deal = _editable_deal(deal_id)
    except Forbidden as exc:
        return render_template("error.html", code=403, message=exc.message), 403
    if request.method == "GET":
        return _book_page(deal)
    contacts = {c.id: c for c in service.meeting_contacts(deal)}
    raw_contact = request.form.get("contact_id", "")
    contact = contacts.get(parse_id(raw_contact)) if raw_contact else None
    try:
        if raw_contact and contact is None:
            raise Invalid({"contact_id": "Pick one of the deal's people, or nobody."})
        meeting = service.book(deal, deal.owner, contact, _start(request.form.get("starts_at")),
                               _length(deal, request.form.get("length")), current_user)
    except Invalid as exc:
        db.session.rollback()
        return _book_page(deal, exc.fields or {"form": exc.message}, 422)
    flash(f"Meeting booked for {when_text(meeting)}; the invitation is on its way"
          f"{' to ' + contact.email if contact and contact.email else ''}.", "success")
    return redirect(url_for("deals.show", deal_id=deal.id), 303)


def _meeting(meeting_id) -> Meeting:
    meeting = get_or_404(Meeting, meeting_id)
    if not can_edit(meeting.deal, current_user):
        raise Forbidden("Only the deal's owner, a manager or an admin changes its meetings.")
    return meeting


@bp.route("/meetings/<int:meeting_id>/reschedule", methods=["GET", "POST"])
@login_required
def reschedule(meeting_id):
    """Move a meeting to another open slot of its rep (the same invitation, updated)."""
    try:
        meeting = _meeting(meeting_id)
    except Forbidden as exc:
        return render_template("error.html", code=403, message=exc.message), 403
    errors, status = {}, 200
    if request.method == "POST":
        try:
            service.reschedule(meeting, _start(request.form.get("starts_at")), current_user)
        except Invalid as exc:
            db.session.rollback()
            meeting = get_or_404(Meeting, meeting_id)
            errors, status = exc.fields or {"form": exc.message}, 422
        else:
            flash(f"Meeting moved to {when_text(meeting)}; the updated invitation is on its way.", "success")
            return redirect(url_for("deals.show", deal_id=meeting.deal_id), 303)
    return render_template("booking/reschedule.html", meeting=meeting, when=when_text(meeting), errors=errors,
                           days=service.slots_by_day(meeting.user, meeting.minutes, ignore_meeting_id=meeting.id),
                           zone=rep_zone(meeting.user).key, chosen=request.form.get("starts_at", "")), status


@bp.post("/meetings/<int:meeting_id>/cancel")
@login_required
def cancel(meeting_id):
    """Cancel a meeting and send both sides the cancellation."""
    try:
        meeting = _meeting(meeting_id)
        service.cancel(meeting, current_user)
        message, kind, status = f"Meeting on {when_text(meeting)} cancelled; both sides are told.", "success", 200
    except Forbidden as exc:
        return render_template("error.html", code=403, message=exc.message), 403
    except Invalid as exc:
        db.session.rollback()
        meeting = get_or_404(Meeting, meeting_id)
        message, kind, status = exc.message, "error", 422
    if is_htmx():
        return add_vary(make_response(render_template("booking/_meetings.html", deal=meeting.deal, message=message,
                                                      message_kind=kind), status))
    flash(message, kind)
    return add_vary(redirect(url_for("deals.show", deal_id=meeting.deal_id), 303))
