"""A deal's contacts (with roles) and its timeline: partials the deal page includes."""

from flask import render_template, url_for
from flask_login import login_required

from app.contacts import bp
from app.contacts import service as contacts
from app.contacts.forms import ActivityForm, LinkContactForm
from app.contacts.routes import show_errors, submit_activity
from app.errors import Forbidden, Invalid
from app.models import CONTACT_ROLES, Contact, Deal
from app.tenancy import current_actor, get_or_404


def _contacts_partial(deal, form=None, error=None, status=200):
    return render_template("contacts/_deal_contacts.html", deal=deal, link_form=form or LinkContactForm(formdata=None),
                           link_error=error), status


@bp.route("/deal/<int:deal_id>/link", methods=["POST"])
@login_required
def link(deal_id):
    """Put a contact on a deal with a role; return the deal's contacts partial."""
    deal = get_or_404(Deal, deal_id)
    form = LinkContactForm()
    if not form.validate_on_submit():
        return _contacts_partial(deal, form, status=422)
    try:
        contacts.link_contact(deal, current_actor(), form.contact.data, form.role.data)
    except Invalid as exc:
        show_errors(form, exc.fields)
        return _contacts_partial(deal, form, status=422)
    except Forbidden as exc:
        return _contacts_partial(deal, form, exc.message, 403)
    return _contacts_partial(deal)


@bp.route("/deal/<int:deal_id>/unlink/<int:contact_id>", methods=["POST"])
@login_required
def unlink(deal_id, contact_id):
    """Take a contact off a deal; return the deal's contacts partial."""
    deal = get_or_404(Deal, deal_id)
    contact = get_or_404(Contact, contact_id)
    try:
        contacts.unlink_contact(deal, current_actor(), contact)
    except Invalid as exc:
        return _contacts_partial(deal, error=f"{contact.email} {exc.fields['contact']}.", status=422)
    except Forbidden as exc:
        return _contacts_partial(deal, error=exc.message, status=403)
    return _contacts_partial(deal)


@bp.route("/deal/<int:deal_id>/activities", methods=["POST"])
@login_required
def log_deal_activity(deal_id):
    """Log a note, call or meeting on a deal; return the refreshed timeline."""
    deal = get_or_404(Deal, deal_id)
    form, status, _closed = submit_activity(deal=deal)
    return render_template("contacts/_timeline.html", timeline=contacts.timeline(deal=deal), activity_form=form,
                           post_url=url_for("contacts.log_deal_activity", deal_id=deal.id)), status


# What the deal page's one-line includes need, so its route passes nothing but `deal`.
@bp.app_template_global()
def contact_timeline(deal=None, contact=None):
    return contacts.timeline(deal=deal, contact=contact)


@bp.app_template_global()
def deal_contact_links(deal):
    return contacts.deal_contacts(deal)


@bp.app_template_global()
def new_activity_form():
    return ActivityForm(formdata=None)


@bp.app_template_global()
def new_link_form():
    return LinkContactForm(formdata=None)


bp.add_app_template_global(CONTACT_ROLES, "role_labels")
