from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import login_required

from app.contacts import bp
from app.contacts import service as contacts
from app.contacts.forms import ActivityForm, ContactForm
from app.csv_files import csv_lines
from app.deals.board import pipeline_choices
from app.errors import Forbidden, Invalid
from app.htmx import is_htmx
from app.models import Company, Contact
from app.tenancy import current_actor, get_or_404, role_required, scoped
from app.text import page_number


def show_errors(form, fields: dict) -> None:
    """Put a service's {field: message} errors beside the form's fields."""
    for name, message in fields.items():
        target = getattr(form, name, None)
        if target is None or not hasattr(target, "errors"):
            flash(f"{name.replace('_', ' ').capitalize()} {message}", "error")
            continue
        if isinstance(target.errors, tuple):
            target.errors = list(target.errors)
        target.errors.append(f"{target.label.text} {message}.")


def page_arg() -> int:
    return page_number(request.args.get("page"))


@bp.route("/")
@login_required
def index():
    """List and search contacts (name, email or company), 50 a page."""
    q = request.args.get("q", "")[:200]
    page = page_arg()
    items, has_more = contacts.search_contacts(current_actor().org_id, q, page)
    context = dict(contacts=items, has_more=has_more, q=q, page=page)
    if is_htmx():
        return render_template("contacts/_list.html", **context)
    return render_template("contacts/index.html", **context)


def _company_names():
    return [c.name for c in scoped(Company).order_by(Company.name).limit(500)]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Add a contact."""
    form = ContactForm()
    if form.validate_on_submit():
        try:
            contact = contacts.save_contact(current_actor(), form.data)
        except Invalid as exc:
            show_errors(form, exc.fields)
        else:
            flash(f"Added {contact.name or contact.email}.", "success")
            return redirect(url_for("contacts.show", contact_id=contact.id))
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=None, companies=_company_names()), status


@bp.route("/<int:contact_id>")
@login_required
def show(contact_id):
    """Show a contact: details, their deals with their role on each, and the timeline."""
    contact = get_or_404(Contact, contact_id)
    return render_template("contacts/show.html", contact=contact, deals=contacts.contact_deals(contact),
                           timeline=contacts.timeline(contact=contact), activity_form=ActivityForm(),
                           can_edit=contacts.can_edit_contact(contact, current_actor()),
                           pipelines=pipeline_choices(contact.org_id))  # "Create deal" asks which one


def _contact_data(contact) -> dict:
    data = {name: getattr(contact, name) for name in ("name", "email", "phone", "title", "persona", "lead_status")}
    return {**data, "company": contact.company.name if contact.company else ""}


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contact_id):
    """Edit a contact (its owner, or a manager)."""
    contact = get_or_404(Contact, contact_id)
    if not contacts.can_edit_contact(contact, current_actor()):
        flash("Only the contact's owner or a manager can edit it.", "error")
        return redirect(url_for("contacts.show", contact_id=contact.id)), 303
    form = ContactForm(data=_contact_data(contact) if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            contacts.save_contact(current_actor(), form.data, contact)
        except Invalid as exc:
            show_errors(form, exc.fields)
        except Forbidden as exc:
            flash(exc.message, "error")
        else:
            flash("Saved.", "success")
            return redirect(url_for("contacts.show", contact_id=contact.id))
    status = 422 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=contact, companies=_company_names()), status


def submit_activity(**target):
    """Validate the posted activity form and log it on `target` (deal= or contact=).

    Return (form, status, how many speed-to-lead tasks the touch closed)."""
    form = ActivityForm()
    if not form.validate_on_submit():
        return form, 422, 0
    try:
        _activity, closed = contacts.log_activity(current_actor(), form.kind.data, form.body.data, **target)
    except Invalid as exc:
        show_errors(form, exc.fields)
        return form, 422, 0
    return ActivityForm(formdata=None), 200, closed


def _closed_note(count: int) -> str:
    return f" It answers the lead: {count} speed-to-lead task{'s' if count != 1 else ''} marked done." if count else ""


@bp.route("/<int:contact_id>/activities", methods=["POST"])
@login_required
def log_contact_activity(contact_id):
    """Log a note, call or meeting on a contact; return the refreshed timeline."""
    contact = get_or_404(Contact, contact_id)
    form, status, closed = submit_activity(contact=contact)
    if not is_htmx():
        if status != 200:
            flash(" ".join(e for errs in form.errors.values() for e in errs) or "Could not log that.", "error")
        else:
            flash("Logged." + _closed_note(closed), "success")
        return redirect(url_for("contacts.show", contact_id=contact.id), 303)
    timeline = contacts.timeline(contact=contact)
    # The form (first on the page) swaps itself; the entries further down follow out of band.
    page = render_template("contacts/_timeline.html", timeline=timeline, entries_apart=True,
                           activity_form=form, logged=status == 200, logged_note=_closed_note(closed),
                           post_url=url_for("contacts.log_contact_activity", contact_id=contact.id))
    page += render_template("contacts/_timeline_entries.html", timeline=timeline, entries_apart=True,
                            entries_oob=True)
    if closed:  # the lead's score panel (first touch), its task panel and the header count follow at once
        page += render_template("leads/_score.html", contact=contact, oob=True)
        page += render_template("tasks/_quick_add.html", task_contact=contact, oob=True)
        page += render_template("tasks/_bell.html", bell_oob=True)
    return page, status


@bp.route("/export.csv")
@role_required("manager")
def export():
    """Download every contact as CSV."""
    rows = contacts.contact_export_rows(current_actor().org_id)
    return Response(stream_with_context(csv_lines(contacts.CONTACT_EXPORT_HEADER, rows)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=contacts.csv"})

