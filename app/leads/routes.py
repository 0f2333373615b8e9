"""Leads list, the contact's score panel, and the admin's lead settings (scoring, ICP, routing)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.errors import Invalid
from app.htmx import is_htmx
from app.ids import parse_id
from app.leads import bp, held, scoring, service
from app.leads import settings as lead_settings
from app.models import User, utcnow
from app.models.leads import (
    EVENT_TYPES,
    FIT_FIELDS,
    FIT_OPERATORS,
    EngagementRule,
    FitRule,
    LeadForm,
)
from app.tenancy import current_actor, get_or_404, role_required, scoped


@bp.app_template_global()
def lead_breakdown(contact):
    """The contact's score with its reasons, for the contact page."""
    return service.breakdown(contact)


@bp.app_template_global()
def lead_response(contact):
    """The contact's latest response clock, its first touch, and the window (for the score panel)."""
    clock, touch = service.response_clock(contact.id)
    return {"clock": clock, "touch": touch, "window": scoring.ensure_defaults(contact.org_id).speed_minutes,
            "now": utcnow()}


@bp.app_template_global()
def minutes_between(start, end):
    return service.minutes_between(start, end)


def _id_arg(name):
    return parse_id(request.args.get(name, ""))


@bp.route("/")
@login_required
def index():
    """List leads, hot first, with score, owner, source, age and time to first touch."""
    org_id = current_actor().org_id
    filters = {"status": request.args.get("status") if request.args.get("status") in service.LEVEL_ORDER else None,
               "owner_id": _id_arg("owner_id"), "form_id": _id_arg("form_id"),
               "source": request.args.get("source", "")[:80] or None}
    rows = service.leads_list(org_id, **filters)
    context = dict(rows=rows, filters=filters, now=utcnow(), speed=scoring.ensure_defaults(org_id).speed_minutes)
    if is_htmx():
        return render_template("leads/_list.html", **context)
    return render_template(
        "leads/index.html", **context, sources=service.lead_sources(org_id),
        owners=scoped(User).filter_by(active=True).order_by(User.name).all(),
        forms=scoped(LeadForm).order_by(LeadForm.name).all(),
        held_total=held.held_total(org_id) if current_actor().has_role("manager") else 0,
    )


def _settings_page(status=200, errors=None, section=None):
    org_id = current_actor().org_id
    settings = scoring.ensure_defaults(org_id)
    engagement = {r.event_type: r for r in scoped(EngagementRule)}
    return render_template(
        "leads/settings.html", settings=settings, engagement=engagement, event_types=EVENT_TYPES,
        fit_rules=scoped(FitRule).order_by(FitRule.id).all(), fit_fields=FIT_FIELDS, fit_operators=FIT_OPERATORS,
        reps=scoped(User).filter_by(role="rep").order_by(User.name).all(), routing_rules=lead_settings.ROUTING_RULES,
        icp_stages=lead_settings.icp_stages(org_id), errors=errors or {}, section=section,
        values=request.form if request.method == "POST" else {},
    ), status


@bp.route("/settings")
@role_required("admin")
def settings_page():
    """Show the ICP, scoring rules, thresholds, speed-to-lead window and routing."""
    return _settings_page()


def _save(section, action, message):
    try:
        action(current_actor(), request.form)
    except Invalid as exc:
        return _settings_page(422, exc.fields, section)
    flash(message, "success")
    return redirect(url_for("leads.settings_page") + f"#{section}", 303)


@bp.route("/settings/icp", methods=["POST"])
@role_required("admin")
def save_icp():
    """Save the ideal customer profile (it writes the ICP fit rules) and rescore everyone."""
    return _save("icp", lead_settings.save_icp, "Saved the ideal customer profile. Rescoring every contact…")


@bp.route("/settings/general", methods=["POST"])
@role_required("admin")
def save_general():
    """Save thresholds, lapse, speed-to-lead window, business hours and routing."""
    return _save("general", lead_settings.save_settings, "Saved lead settings.")


@bp.route("/settings/engagement", methods=["POST"])
@role_required("admin")
def save_engagement():
    """Save the engagement points and daily caps, and rescore everyone."""
    return _save("engagement", lead_settings.save_engagement, "Saved engagement points. Rescoring every contact…")


@bp.route("/settings/fit-rules", methods=["POST"])
@role_required("admin")
def add_fit_rule():
    """Add a fit rule and rescore everyone."""
    return _save("fit", lead_settings.add_fit_rule, "Added the fit rule. Rescoring every contact…")


@bp.route("/settings/fit-rules/<int:rule_id>/delete", methods=["POST"])
@role_required("admin")
def delete_fit_rule(rule_id):
    """Delete a fit rule and rescore everyone."""
    lead_settings.delete_fit_rule(current_actor(), get_or_404(FitRule, rule_id))
    flash("Deleted the fit rule. Rescoring every contact…", "success")
    return redirect(url_for("leads.settings_page") + "#fit", 303)


@bp.route("/settings/rescore")
@role_required("admin")
def rescore_progress():
    """The rescoring progress bar (polled by the settings page while it runs)."""
    return render_template("leads/_rescore.html", settings=scoring.ensure_defaults(current_actor().org_id))
