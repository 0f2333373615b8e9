"""Board routes: the kanban board, a column's next page, and the new-deal form."""

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required

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
from app.deals.forms import NewDealForm, missing_facts_form, read_loss_reason
from app.deals.losses import listed_reasons
from app.deals.service import create_deal, requirements_from_start
from app.errors import GateRefused, Invalid
from app.htmx import is_htmx
from app.ids import parse_id
from app.models import Pipeline, User
from app.readonly import read_only
from app.tenancy import get_or_404


@bp.route("/board/<int:pipeline_id>")
@read_only
@login_required
def board(pipeline_id):
    """Show a pipeline's board: one column per stage, filtered by owner and text."""
    # Plain structure and users, read once (one statement each): the page only reads them.
    pipeline = load_board_structure(pipeline_id, current_user.org_id)
    filters = parse_filters(request.args, current_user)
    users = board_users(current_user.org_id)
    columns = load_board(pipeline, filters, users, current_app.config["BOARD_PAGE_SIZE"])
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
                               current_app.config["BOARD_PAGE_SIZE"], after)[stage.id]
    return render_template("deals/_cards.html", pipeline=pipeline, stage=stage, cards=cards,
                           next_cursor=cursor, filters=filters, stages=board_stages(pipeline),
                           currency=current_user.org.currency)


def _new_form(pipeline, source):
    form = NewDealForm(formdata=source)
    stages = board_stages(pipeline)
    form.stage_id.choices = [(str(s.id), s.name) for s in stages]
    if not form.stage_id.data and pipeline.open_stages:
        form.stage_id.data = str(pipeline.open_stages[0].id)
    stage = next((s for s in stages if str(s.id) == form.stage_id.data), None)
    if current_user.has_role("manager"):
        people = (User.query.filter_by(org_id=current_user.org_id, active=True)
                  .order_by(User.name).all())
        form.owner_id.choices = [(str(u.id), u.name) for u in people]
        if not form.owner_id.data:
            form.owner_id.data = str(current_user.id)
    # What a deal walking here from the pipeline's start would have shown, asked as the move dialog asks.
    reqs = requirements_from_start(pipeline, stage) if stage else []
    facts_form, _ = missing_facts_form(reqs, formdata=source if source else None)
    return form, facts_form, stage


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Create a deal in a stage once what every stage up to it asks for is recorded (the gate)."""
    pipeline_id = request.values.get("pipeline_id", "")
    pipeline = get_or_404(Pipeline, parse_id(pipeline_id))
    posted = request.method == "POST"
    source = request.form if posted else (request.args if "stage_id" in request.args else None)
    form, facts_form, stage = _new_form(pipeline, source)
    message, errors = None, {}
    if posted:
        facts_form.validate()  # errors beside the inputs; the gate checks the same again
        owner = None
        if form.owner_id.data and current_user.has_role("manager"):
            owner_id = parse_id(form.owner_id.data)
            owner = User.query.filter_by(org_id=current_user.org_id, id=owner_id).first() if owner_id else None
        loss_reason_id, reason = read_loss_reason(request.form) if stage and stage.kind == "lost" else (None, "")
        try:
            deal = create_deal(pipeline, current_user, title=form.title.data or "",
                               stage=stage, owner=owner, amount=form.amount.data or None,
                               facts={k: v for k, v in facts_form.facts().items()},
                               loss_reason_id=loss_reason_id, reason=reason)
            return redirect(url_for("deals.show", deal_id=deal.id))
        except Invalid as exc:
            message = exc.message
            for key, text in exc.fields.items():
                target = {"owner_email": "owner_id"}.get(key, key)
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
    context = dict(pipeline=pipeline, form=form, facts_form=facts_form, stage=stage, message=message,
                   lost=lost, loss_reasons=reasons, errors=errors, values=source or {})
    if is_htmx() and not posted:
        return render_template("deals/_new_form.html", **context)
    return render_template("deals/new.html", **context), (422 if message else 200)

