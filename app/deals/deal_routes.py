"""The deal page: details, facts, the stage's playbook, the move menu and the history."""

from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from app.contacts.service import company_named
from app.deals import bp
from app.deals.board import board_stages, load_structure
from app.deals.forms import DealDetailsForm, build_facts_form, company_choices
from app.deals.provenance import describe
from app.deals.service import KEEP, can_edit, facts_asked, stage_requirements, update_deal
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.htmx import is_htmx
from app.models import Deal, StageTransition
from app.rooms.service import get_room
from app.tenancy import get_or_404


def _details_form(deal, formdata=None):
    data = {"title": deal.title, "amount": "" if deal.amount is None else f"{deal.amount:f}",
            "company": deal.company.name if deal.company_id else "",
            "next_step": deal.next_step or "", "version": deal.version,
            "next_step_due": deal.next_step_due.isoformat() if deal.next_step_due else "",
            "expected_close_date": deal.expected_close_date.isoformat() if deal.expected_close_date else ""}
    return DealDetailsForm(formdata=formdata, data=data)


def _facts_context(deal, details=None, facts_form=None, message=None, kind=None):
    return dict(
        deal=deal,
        details=details or _details_form(deal),
        facts_form=facts_form or build_facts_form(deal.pipeline.active_fields, values=deal.facts),
        message=message, message_kind=kind, can_edit=can_edit(deal, current_user),
        # As the gate reads it: a fact only the buyer may confirm is missing until they have.
        exit_checklist=[(r.field, r.met(deal.facts, deal.facts_meta), r.buyer)
                        for r in stage_requirements(deal.stage, "exit")],
        company_options=company_choices(deal.org_id),
        provenance={key: (describe(record), (record or {}).get("source") != "rep")
                    for key, record in (deal.facts_meta or {}).items() if describe(record)},
        buyer_keys=set().union(*(s.buyer_keys(w) for s in deal.pipeline.active_stages for w in ("entry", "exit"))),
    )


@bp.route("/<int:deal_id>")
@login_required
def show(deal_id):
    """Show a deal: its facts (editable), its stage's playbook and its history."""
    deal = get_or_404(Deal, deal_id)
    transitions = (
        StageTransition.query.filter_by(deal_id=deal.id, org_id=deal.org_id)
        .options(joinedload(StageTransition.user), joinedload(StageTransition.from_stage),
                 joinedload(StageTransition.to_stage))
        .order_by(StageTransition.at.desc(), StageTransition.id.desc()).all()
    )
    labels = {f.key: f.label for f in deal.pipeline.fields}
    money_keys = {f.key for f in deal.pipeline.fields if f.type == "money"}  # history shows $40,000, not 40000.00
    stages = board_stages(load_structure(deal.pipeline_id))  # stages and criteria in 3 reads, for the menu
    return render_template("deals/show.html", transitions=transitions, labels=labels, money_keys=money_keys,
                           stages=stages, move_asks=facts_asked(deal, stages), deal_room=get_room(deal),
                           currency=current_user.org.currency, **_facts_context(deal))


def _facts_response(context, status):
    if is_htmx():
        return render_template("deals/_facts.html", oob=True, **context)
    return render_template("deals/show.html", transitions=[], labels={}, deal_room=get_room(context["deal"]),
                           stages=board_stages(context["deal"].pipeline),
                           currency=current_user.org.currency, **context), status


@bp.route("/<int:deal_id>/facts", methods=["POST"])
@login_required
def update(deal_id):
    """Save a deal's details, next step and facts (carrying the version it was read at)."""
    deal = get_or_404(Deal, deal_id)
    details = DealDetailsForm(formdata=request.form)
    facts_form = build_facts_form(deal.pipeline.active_fields, formdata=request.form)
    facts_form.validate()  # errors beside the inputs; the service checks the same values again
    try:
        # By name, matched case-insensitively; a new name adds the company (rolled back if the save fails).
        company = company_named(deal.org_id, details.company.data or "") if details.company.data is not None else KEEP
        update_deal(deal, current_user, version=details.version.data or None, company=company,
                    title=details.title.data or "", amount=details.amount.data or "",
                    facts=facts_form.facts(), next_step=details.next_step.data or "",
                    next_step_due=details.next_step_due.data or "",
                    # Blank clears it; a form from before the field existed leaves it alone.
                    expected_close_date=details.expected_close_date.data or ""
                    if "expected_close_date" in request.form else KEEP)
    except Invalid as exc:
        db.session.rollback()
        for key, text in exc.fields.items():
            if key in details._fields:
                details[key].errors = [*details[key].errors, text]
        facts_form.add_errors(exc.fields)
        message = exc.message
        if "version" in exc.fields:
            message = "This form is out of date; reload the deal and try again."
        return _facts_response(_facts_context(deal, details, facts_form, message, "error"), 422)
    except Conflict as exc:
        db.session.expire_all()
        deal = get_or_404(Deal, deal_id)
        return _facts_response(_facts_context(deal, message=exc.message, kind="warning"), 409)
    except Forbidden as exc:
        return render_template("error.html", code=403, message=exc.message), 403
    if not is_htmx():
        return redirect(url_for("deals.show", deal_id=deal.id))
    return render_template("deals/_facts.html", oob=True,
                           **_facts_context(deal, message="Saved.", kind="success"))
