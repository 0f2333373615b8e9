"""A deal's playbook pages: the discovery call sheet, the objection picker, demo prep and the hand-off."""

from flask import abort, make_response, render_template, request
from flask_login import current_user, login_required

from app.deals.service import can_edit
from app.errors import Conflict, Forbidden, Invalid
from app.extensions import db
from app.htmx import add_vary, is_htmx
from app.ids import parse_id
from app.models import CONTACT_ROLES, PROMPT_KINDS, Deal
from app.playbooks import bp
from app.playbooks.service import (
    buyer_only_keys,
    deal_objections,
    demo_prep,
    guide,
    guide_for_missing,
    handoff,
    playbook_of,
    record_objections,
    save_answers,
    sheet_stage,
)
from app.tenancy import get_or_404

MAX_BODY = 512 * 1024  # a call sheet or a guide's picks; anything bigger is not a person typing


def refuse_huge_body() -> None:
    """Answer 413 before parsing a body no form of these pages could send."""
    if (request.content_length or 0) > MAX_BODY:
        abort(413)


@bp.app_context_processor
def gate_guide():
    """Let the move dialog show the objection guide beside the gate when a move asks for objections."""
    return {"objection_guide_for": guide_for_missing}


def _sheet(deal, stage, grouped, values=None, errors=None, message=None, kind=None, status=200):
    fields = {f.key: f for f in deal.pipeline.active_fields}
    context = dict(deal=deal, stage=stage, prompts=grouped.get(stage.id, []), grouped=grouped,
                   fields=fields, buyer_keys=buyer_only_keys(deal.pipeline), kinds=PROMPT_KINDS,
                   values=values or {}, errors=errors or {}, message=message, message_kind=kind,
                   can_edit=can_edit(deal, current_user))
    template = "playbooks/_sheet.html" if is_htmx() else "playbooks/discovery.html"
    return add_vary(make_response(render_template(template, **context), status))


@bp.route("/deals/<int:deal_id>/discovery")
@login_required
def discovery(deal_id):
    """Show the discovery call sheet of a stage (the deal's own by default), to type answers on a call."""
    deal = get_or_404(Deal, deal_id)
    stage, grouped = sheet_stage(deal, parse_id(request.args.get("stage")))
    return _sheet(deal, stage, grouped)


@bp.route("/deals/<int:deal_id>/discovery", methods=["POST"])
@login_required
def save_discovery(deal_id):
    """Save a call's answers: mapped ones as facts, the rest as a note on the timeline."""
    refuse_huge_body()
    deal = get_or_404(Deal, deal_id)
    stage, grouped = sheet_stage(deal, parse_id(request.form.get("stage")))
    if str(stage.id) != request.form.get("stage"):
        abort(404)
    answers, values = {}, {}
    for name, value in request.form.items():
        if name.startswith("answer-"):
            prompt_id = parse_id(name[len("answer-"):])
            if prompt_id is None:
                continue
            answers[prompt_id] = value
            values[prompt_id] = value
    try:
        result = save_answers(deal, stage, current_user, answers, request.form.get("version") or None)
    except Forbidden as exc:
        return render_template("error.html", code=403, message=exc.message), 403
    except Invalid as exc:
        db.session.rollback()
        message = exc.message
        if "version" in exc.fields:
            message = "This sheet is out of date; reload it (your answers are below) and save again."
        return _sheet(deal, stage, grouped, values, exc.fields, message, "error", 422)
    except Conflict:
        db.session.rollback()
        db.session.expire_all()
        deal = get_or_404(Deal, deal_id)
        return _sheet(deal, stage, grouped, values, {}, "Someone else changed this deal meanwhile: your answers "
                      "are below; save again to add them.", "warning", 409)
    return _sheet(deal, stage, grouped, message=result.message(), kind="success")


def _objections_page(deal, message=None, kind=None, errors=None, status=200):
    book = playbook_of(deal.pipeline)
    target = next((f for f in deal.pipeline.active_fields if f.key == book.objections_key), None)
    html = render_template("playbooks/objections.html", deal=deal, guide=guide(deal.pipeline),
                           picked=deal_objections(deal), target=target, message=message, message_kind=kind,
                           errors=errors or {}, can_edit=can_edit(deal, current_user))
    return html, status


@bp.route("/deals/<int:deal_id>/objections")
@login_required
def objections(deal_id):
    """Show the pipeline's objection guide with what came up on this deal."""
    return _objections_page(get_or_404(Deal, deal_id))


@bp.route("/deals/<int:deal_id>/objections", methods=["POST"])
@login_required
def save_objections(deal_id):
    """Record which objections came up and which response was used."""
    refuse_huge_body()
    deal = get_or_404(Deal, deal_id)
    picks = {}
    for raw in request.form.getlist("objection"):
        objection_id = parse_id(raw)
        if objection_id is None:
            return _objections_page(deal, "Choose objections from the guide.", "error", status=422)
        picks[objection_id] = request.form.get(f"response-{objection_id}") or None
    try:
        words = record_objections(deal, current_user, picks, request.form.get("version") or None)
    except Forbidden as exc:
        return render_template("error.html", code=403, message=exc.message), 403
    except Invalid as exc:
        db.session.rollback()
        return _objections_page(deal, exc.message, "error", exc.fields, 422)
    except Conflict:
        db.session.rollback()
        db.session.expire_all()
        return _objections_page(get_or_404(Deal, deal_id), "Someone else changed this deal meanwhile; pick "
                                "again and save.", "warning", status=409)
    return _objections_page(deal, words, "success")


@bp.route("/deals/<int:deal_id>/demo-prep")
@login_required
def demo(deal_id):
    """One printable page of the deal's discovery facts, so the demo is tailored."""
    deal = get_or_404(Deal, deal_id)
    return render_template("playbooks/demo_prep.html", deal=deal, prep=demo_prep(deal),
                           contact_roles=CONTACT_ROLES)


@bp.route("/deals/<int:deal_id>/handoff")
@login_required
def handoff_page(deal_id):
    """The onboarding hand-off document of a won deal (printable to PDF)."""
    deal = get_or_404(Deal, deal_id)
    if deal.status != "won":
        return render_template("playbooks/handoff.html", deal=deal, doc=None,
                               contact_roles=CONTACT_ROLES), 404
    return render_template("playbooks/handoff.html", deal=deal, doc=handoff(deal),
                           contact_roles=CONTACT_ROLES)
