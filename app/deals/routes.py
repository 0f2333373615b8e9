"""Board routes: the kanban board, a column's next page, and the new-deal form."""

from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.contacts.service import LIMITS, company_named
from app.deals import bp
from app.deals.board import (
    board_stages,
    board_users,
    load_board,
    load_board_structure,
    load_cards,
    parse_cursor,
    parse_filters,
    pipeline_choices,
)
from app.deals.forms import (
    NewDealForm,
    company_choices,
    contact_choices,
    contact_text,
    missing_facts_form,
    read_loss_reason,
)
from app.deals.lead_facts import prefill_from_lead
from app.deals.losses import listed_reasons
from app.deals.service import create_deal, requirements_from_start
from app.errors import GateRefused, Invalid
from app.htmx import is_htmx
from app.ids import parse_id
from app.models import Contact, Pipeline, User
from app.readonly import read_only
from app.tenancy import get_or_404
from app.text import clean_text


def _org_today():
    """The organisation's today (its zone; the user's org is loaded with the user, so no statement)."""
    return datetime.now(current_user.org.zone).date()


@bp.route("/board/<int:pipeline_id>")
@read_only
@login_required
def board(pipeline_id):
    """Show a pipeline's board: one column per stage, filtered by owner and text."""
    # Plain structure and users, read once (one statement each): the page only reads them.
    pipeline = load_board_structure(pipeline_id, current_user.org_id)
    filters = parse_filters(request.args, current_user)
    users = board_users(current_user.org_id)
    columns = load_board(pipeline, filters, users, current_app.config["BOARD_PAGE_SIZE"], today=_org_today())
    context = dict(pipeline=pipeline, columns=columns, filters=filters, users=users,
                   stages=[c.stage for c in columns], currency=current_user.org.currency)
    if is_htmx():  # the filter form swaps the board only
        return render_template("deals/_board.html", **context)
    return render_template("deals/board.html", pipelines=pipeline_choices(current_user.org_id), **context)


@bp.route("/board/<int:pipeline_id>/column/<int:stage_id>")
@read_only
@login_required
def column(pipeline_id, stage_id):
    """Return a column's next page of cards after the `after` cursor (keyset pagination)."""
    # The board's own reads: the structure in one statement, users as the board shows them.
    pipeline = load_board_structure(pipeline_id, current_user.org_id)
    stage = next((s for s in pipeline.active_stages if s.id == stage_id), None)
    if stage is None:
        abort(404)
    try:
        after = parse_cursor(request.args.get("after"))
    except ValueError:
        abort(400)
    filters = parse_filters(request.args, current_user)
    users = board_users(current_user.org_id)
    cards, cursor = load_cards(pipeline, [stage], filters, users,
                               current_app.config["BOARD_PAGE_SIZE"], after, _org_today())[stage.id]
    return render_template("deals/_cards.html", pipeline=pipeline, stage=stage, cards=cards,
                           next_cursor=cursor, filters=filters, stages=board_stages(pipeline),
                           currency=current_user.org.currency)


def _lead_data(lead, people) -> dict:
    """What a lead's "Create deal" fills in: the person, their company (also the title) and their owner."""
    company = lead.company.name if lead.company_id else ""
    owner_id = lead.owner_id if lead.owner_id in {u.id for u in people} else current_user.id
    return {"person": contact_text(lead.name, lead.email, lead.title), "contact_id": str(lead.id),
            "company": company, "title": company or lead.name or lead.email or "", "owner_id": str(owner_id)}


def _owners():
    """Whom the actor may create a deal for: a manager or admin anyone active, a rep themselves (the gate's rule)."""
    if not current_user.has_role("manager"):
        return [current_user]
    return User.query.filter_by(org_id=current_user.org_id, active=True).order_by(User.name).all()


def _new_form(pipeline, source, lead=None):
    people = _owners()
    form = NewDealForm(formdata=source, data=_lead_data(lead, people) if lead is not None else None)
    stages = board_stages(pipeline)
    form.stage_id.choices = [(str(s.id), s.name) for s in stages]
    if not form.stage_id.data and pipeline.open_stages:
        form.stage_id.data = str(pipeline.open_stages[0].id)
    stage = next((s for s in stages if str(s.id) == form.stage_id.data), None)
    form.owner_id.choices = [(str(u.id), u.name + (" (you)" if u.id == current_user.id else "")) for u in people]
    if not form.owner_id.data:
        form.owner_id.data = str(current_user.id)
    # What a deal walking here from the pipeline's start would have shown, asked as the move dialog asks.
    reqs = requirements_from_start(pipeline, stage) if stage else []
    offered = None
    if lead is not None and request.method != "POST" and pipeline.open_stages:
        # Only shown, never sent for the rep: what they submit is what the gate checks.
        first = pipeline.open_stages[0]
        offered = prefill_from_lead(lead, first.required_fields("entry") + first.required_fields("exit"))
    facts_form, _ = missing_facts_form(reqs, values=offered, formdata=source if source else None)
    return form, facts_form, stage, bool(offered)


def _lead(raw):
    """The contact the form was opened from (?contact_id= or the form's hidden field); 404 outside the org."""
    return get_or_404(Contact, parse_id(raw)) if raw else None


def _new_deal_owner(raw):
    """The owner picked, as a user of the organisation (the gate says who may pick whom); None: the actor."""
    if not raw:
        return None
    owner = User.query.filter_by(org_id=current_user.org_id, id=parse_id(raw)).first() if parse_id(raw) else None
    if owner is None:
        raise Invalid({"owner_email": "is not an active user of this organisation"})
    return owner


def _create_from(form, facts_form, pipeline, stage, lead):
    """Create the deal the posted form describes, through the gate (create_deal), like every creation."""
    owner = _new_deal_owner(form.owner_id.data)
    person = (form.person.data or "").strip()
    # The lead it was opened from, unless the rep typed someone else.
    picked = lead if lead is not None and person == contact_text(lead.name, lead.email, lead.title) else None
    errors = {}
    name = clean_text(form.company.data, "company", errors, MAX_COMPANY)
    if errors:
        raise Invalid(errors)
    company = company_named(current_user.org_id, name)  # a new name adds it (rolled back if the gate refuses)
    loss_reason_id, reason = read_loss_reason(request.form) if stage and stage.kind == "lost" else (None, "")
    return create_deal(pipeline, current_user, title=form.title.data or "", stage=stage, owner=owner,
                       amount=form.amount.data or None, facts=dict(facts_form.facts()), company=company,
                       contact=picked, person=None if picked else person,
                       expected_close_date=form.expected_close_date.data or None,
                       loss_reason_id=loss_reason_id, reason=reason)


MAX_COMPANY = LIMITS["name"]
FORM_FIELD = {"owner_email": "owner_id", "contact_id": "person", "company_id": "company"}


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Create a deal in a stage once what every stage up to it asks for is recorded (the gate)."""
    pipeline_id = request.values.get("pipeline_id", "")
    pipeline = get_or_404(Pipeline, parse_id(pipeline_id))
    posted = request.method == "POST"
    source = request.form if posted else (request.args if "stage_id" in request.args else None)
    lead = _lead(request.values.get("contact_id", ""))
    form, facts_form, stage, from_lead = _new_form(pipeline, source, lead)
    message, errors = None, {}
    if posted:
        facts_form.validate()  # errors beside the inputs; the gate checks the same again
        try:
            deal = _create_from(form, facts_form, pipeline, stage, lead)
            flash(f"Deal created in {deal.stage.name}: {deal.title}.", "success")
            return redirect(url_for("deals.show", deal_id=deal.id))
        except Invalid as exc:
            message = exc.message
            for key, text in exc.fields.items():
                target = FORM_FIELD.get(key, key)
                if target in form._fields:
                    form[target].errors = [*form[target].errors, text]
            facts_form.add_errors(exc.fields)
        except GateRefused as exc:
            errors = exc.fields
            message = exc.message if not exc.missing else \
                f"To start in {stage.name}, record what the buyer has shown at each stage up to it."
            facts_form.add_errors({r.field.key: f"is needed to start in {stage.name}" for r in exc.missing})
    lost = stage is not None and stage.kind == "lost"
    reasons = listed_reasons(pipeline.org_id) if lost else []
    owner_note = None
    if lead is not None and lead.owner_id and lead.owner_id != current_user.id and not current_user.has_role("manager"):
        owner_note = f"{lead.owner.name} owns this lead; only a manager can create a deal for someone else."
    context = dict(pipeline=pipeline, form=form, facts_form=facts_form, stage=stage, message=message,
                   lost=lost, loss_reasons=reasons, errors=errors, values=source or {}, lead=lead,
                   owner_note=owner_note, from_lead=from_lead, contact_options=contact_choices(current_user.org_id),
                   company_options=company_choices(current_user.org_id))
    if is_htmx() and not posted:
        return render_template("deals/_new_form.html", **context)
    return render_template("deals/new.html", **context), (422 if message else 200)
