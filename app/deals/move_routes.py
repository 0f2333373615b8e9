"""The gated move: board drag, "Move to…" menus and the dialog that asks for missing facts."""

import json

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.deals import bp
from app.deals.board import (
    board_stages,
    board_users,
    card_for,
    column_totals,
    load_structure,
    parse_filters,
)
from app.deals.forms import build_facts_form, contact_choices, fact_labels, read_loss_reason
from app.deals.losses import listed_reasons
from app.deals.service import facts_asked, missing_for_move, move_deal, once_per_fact
from app.errors import Conflict, Forbidden, GateRefused, Invalid
from app.extensions import db
from app.htmx import is_htmx
from app.ids import parse_id
from app.models import Deal, Stage
from app.models.leads import icp_summary, is_icp_fact
from app.readonly import read_only
from app.tenancy import get_or_404

FIELD_NAMES = {"stage_id": "Stage", "version": "Version", "reason": "Reason",
               "loss_reason": "Loss reason"}


def _int_or_none(raw):
    return parse_id(raw)


def _message(exc: Invalid) -> str:
    parts = [f"{FIELD_NAMES.get(k, k.replace('_', ' ').capitalize())} {v}." for k, v in exc.fields.items()]
    return " ".join(parts) or exc.message


def _plain(message, status):
    """An error for a move that has no dialog to show it in (the board puts it in a flash)."""
    if is_htmx():
        return render_template("deals/_move_error.html", message=message), status
    return render_template("error.html", code=status, message=message), status


def _icp(deal, missing) -> dict:
    """Beside a "matches our ICP" checkbox, the profile it means (leads' settings), so reps tick it
    against something written: {"icp_keys": fact keys, "icp_summary": [(label, text)]}."""
    keys = {r.field.key for r in missing if is_icp_fact(r.field)}
    return {"icp_keys": keys, "icp_summary": icp_summary(deal.org_id) if keys else []}


def _dialog(deal, to_stage, missing, form, *, message, errors=None, source, status=422):
    lost = to_stage.kind == "lost"
    reasons = listed_reasons(deal.org_id) if lost else []
    asks_contact = any(r.field.type == "contact" for r in missing)
    context = dict(deal=deal, to_stage=to_stage, missing=missing, form=form, message=message,
                   contact_options=contact_choices(deal.org_id) if asks_contact else [],
                   errors=errors or {}, source=source, lost=lost, loss_reasons=reasons,
                   can_override=current_user.has_role("manager") and not lost,
                   values=request.form, **_icp(deal, missing))
    if is_htmx():
        response = render_template("deals/_move_dialog.html", **context)
        return response, 200, {"HX-Retarget": "#move-dialog-slot", "HX-Reswap": "innerHTML"}
    return render_template("deals/move.html", **context), status


def moved_message(deal, from_stage) -> str:
    """Say what a landed move did, in words ("Moved Baker St Dental back to Qualified.")."""
    to_stage = deal.stage
    back = to_stage.kind == "open" and from_stage.kind == "open" and to_stage.position < from_stage.position
    if to_stage.kind == "won":
        return f"Closed {deal.title} as won."
    if to_stage.kind == "lost":
        return f"Closed {deal.title} as lost."
    if from_stage.kind != "open":
        return f"Reopened {deal.title} in {to_stage.name}."
    return f"Moved {deal.title} {'back ' if back else ''}to {to_stage.name}."


def _moved(deal, from_stage, source):
    if source == "page" or not is_htmx():
        target = url_for("deals.show", deal_id=deal.id) if source == "page" \
            else url_for("deals.board", pipeline_id=deal.pipeline_id)
        if is_htmx():
            return "", 200, {"HX-Location": target}
        flash(moved_message(deal, from_stage), "success")
        return redirect(target)
    pipeline = deal.pipeline
    filters = parse_filters(request.form, current_user)
    board = board_stages(pipeline)
    stages = [s for s in board if s.id in (from_stage.id, deal.stage_id)]
    totals = column_totals(pipeline, filters, stages)
    html = render_template("deals/_move_done.html", deal=deal, card=card_for(deal),
                           heads=[(s, *totals.get(s.id, (0, 0))) for s in stages],
                           stages=board, currency=deal.currency,
                           filters=filters, from_stage=from_stage,
                           message=moved_message(deal, from_stage))
    trigger = json.dumps({"dealMoved": {"id": deal.id, "stage": deal.stage_id}})
    return html, 200, {"HX-Retarget": f"#cards-{deal.stage_id}", "HX-Reswap": "afterbegin",
                       "HX-Trigger": "dealLanded", "HX-Trigger-After-Settle": trigger}


def _conflict(deal_id, exc, source):
    db.session.expire_all()
    deal = get_or_404(Deal, deal_id)
    if is_htmx():
        html = render_template("deals/_move_conflict.html", deal=deal, message=exc.message,
                               card=card_for(deal, board_users(deal.org_id)), source=source,
                               stages=board_stages(deal.pipeline),
                               currency=current_user.org.currency,
                               filters=parse_filters(request.form, current_user))
        return html, 200, {"HX-Retarget": "#move-dialog-slot", "HX-Reswap": "innerHTML"}
    return render_template("error.html", code=409, message=exc.message), 409


@bp.route("/<int:deal_id>/move-asks")
@read_only
@login_required
def move_asks(deal_id):
    """Say which stages of the board's move menu would ask this deal for facts, as the menu opens.

    Asked for when the menu opens, not with every card: the board's cards are plain rows with
    their stage's exit facts only, and the gate's reckoning wants the deal and every stage's
    requirements, a few reads a card that only the opened menu needs.
    """
    deal = get_or_404(Deal, deal_id)
    pipeline = load_structure(deal.pipeline_id)  # the gate's lookups then come from the session
    return render_template("deals/_move_asks.html", deal=deal,
                           asks=facts_asked(deal, pipeline.active_stages))


@bp.route("/<int:deal_id>/move", methods=["POST"])
@login_required
def move(deal_id):
    """Move a deal through the gate; ask for exactly the missing facts when it refuses."""
    deal = get_or_404(Deal, deal_id)
    stage_id = _int_or_none(request.form.get("stage_id"))
    if stage_id is None:
        return _plain("Choose a stage to move the deal to.", 400)
    pipeline = load_structure(deal.pipeline_id)  # read once: the gate and the reply use it from here on
    to_stage = next((s for s in pipeline.stages if s.id == stage_id), None) or get_or_404(Stage, stage_id)
    source = "page" if request.form.get("source") == "page" else "board"
    from_stage = deal.stage
    from_dialog = request.form.get("dialog") == "1"
    version = request.form.get("version")
    reason = (request.form.get("reason") or "")[:100_000]
    facts = form = None
    missing = []
    try:
        if from_dialog:
            missing = missing_for_move(deal, to_stage)
            form = build_facts_form([r.field for r in missing], formdata=request.form,
                                    labels=fact_labels(missing))
            if not form.validate():
                return _dialog(deal, to_stage, missing, form, source=source,
                               message="Some facts are not valid; see the notes beside them.")
            facts = {k: v for k, v in form.facts().items()}
        loss_reason_id = None
        if to_stage.kind == "lost":  # a listed reason, or "Other…" with its words
            loss_reason_id, reason = read_loss_reason(request.form)
        move_deal(deal, to_stage, current_user, facts=facts, version=version,
                  reason=reason, loss_reason_id=loss_reason_id,
                  override_reason=(request.form.get("override_reason") or "")[:100_000],
                  undo=request.form.get("undo") == "1")
    except GateRefused as exc:
        still = once_per_fact(exc.missing)
        asked = missing if from_dialog else still  # a re-shown dialog keeps every input it had
        form = build_facts_form([r.field for r in asked], values=deal.facts,
                                formdata=request.form if from_dialog else None,
                                labels=fact_labels(asked))
        if from_dialog:
            form.validate()
            form.add_errors({r.field.key: f"Needed to move to {to_stage.name}." for r in still})
        missing = asked
        # The first ask (a drop, a menu pick) opens clean: nothing is wrong until the user answers.
        return _dialog(deal, to_stage, missing, form, message=exc.message,
                       errors=exc.fields if from_dialog else {}, source=source)
    except Invalid as exc:
        if not from_dialog or "stage_id" in exc.fields or "version" in exc.fields:
            return _plain(_message(exc), 400)
        form.add_errors(exc.fields)
        return _dialog(deal, to_stage, missing, form, message=exc.message, errors=exc.fields,
                       source=source)
    except Conflict as exc:
        return _conflict(deal_id, exc, source)
    except Forbidden as exc:
        return _plain(exc.message, 403)
    return _moved(deal, from_stage, source)

