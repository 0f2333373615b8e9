"""Form submissions held for review: the list, Accept, Discard."""

from flask import flash, redirect, render_template, request, url_for

from app.ids import parse_id
from app.leads import bp, held
from app.models.leads import LeadForm, LeadSubmission
from app.tenancy import current_actor, get_or_404, role_required, scoped


def _form_filter() -> LeadForm | None:
    form_id = parse_id(request.values.get("form_id", ""))
    return None if form_id is None else scoped(LeadForm).filter_by(id=form_id).first()


def _back(form: LeadForm | None):
    return redirect(url_for("leads.held_list", form_id=form.id if form else None), 303)


def _who(submission: LeadSubmission) -> str:
    return ((submission.payload or {}).get("lead") or {}).get("email") or "someone"


@bp.route("/held")
@role_required("manager")
def held_list():
    """List the form submissions held for review, newest first, with why each was held."""
    org_id = current_actor().org_id
    form = _form_filter()
    rows = held.held_list(org_id, form.id if form else None)
    forms = {f.id: f for f in scoped(LeadForm)}
    return render_template("leads/held.html", rows=rows, form=form, forms=forms, answers=held.answers,
                           total=held.held_total(org_id, form.id if form else None))


def _review(submission_id: int, act, done: str, too_late: str):
    """Accept or discard one held submission of the organisation; say what happened."""
    submission = get_or_404(LeadSubmission, submission_id)
    who = _who(submission)
    if act(current_actor(), submission.id):
        flash(done.format(who=who), "success")
    else:
        flash(too_late.format(who=who), "info")
    return _back(_form_filter())


@bp.route("/held/<int:submission_id>/accept", methods=["POST"])
@role_required("manager")
def accept_held(submission_id):
    """Let a held submission through: it is made into a lead like any other."""
    return _review(submission_id, held.accept, "Accepted the submission from {who}: it becomes a lead in a moment.",
                   "The submission from {who} was already accepted.")


@bp.route("/held/<int:submission_id>/discard", methods=["POST"])
@role_required("manager")
def discard_held(submission_id):
    """Delete a held submission."""
    return _review(submission_id, held.discard, "Discarded the submission from {who}.",
                   "The submission from {who} was accepted before it could be discarded.")


@bp.route("/held/discard", methods=["POST"])
@role_required("manager")
def discard_all_held():
    """Delete every held submission the page listed (ones that arrived since stay)."""
    form = _form_filter()
    raw = request.form.get("up_to", "")
    up_to = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 11 else 0
    done = held.discard_all(current_actor(), up_to, form.id if form else None)
    flash(f"Discarded {done} held submission{'' if done == 1 else 's'}.", "success")
    return _back(form)
