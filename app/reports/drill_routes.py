"""Reports: the page listing the deals behind one number, with the report's period, pipeline and owner."""

from flask import render_template, request, url_for
from flask_login import current_user, login_required

from app.extensions import db
from app.ids import parse_id
from app.models import Pipeline, User
from app.reports import bp
from app.reports.drill import PAGE_SIZE, deals_behind, read_question
from app.reports.service import ReportInvalid, allowed_owner, parse_period, scope_owner
from app.tenancy import get_or_404

# What each list is, in the words of the report page.
TITLES = {
    ("stage_conversion", "entered"): "Deals that entered {stage}",
    ("stage_conversion", "advanced"): "Deals that entered {stage} and moved further",
    ("time_in_stage", "stays"): "Deals whose stay in {stage} ended",
    ("win_rate", "won"): "Deals won",
    ("win_rate", "closed"): "Deals closed (won or lost)",
    ("meeting_to_close", "closed"): "Closed deals that had a meeting",
    ("meeting_to_close", "won"): "Won deals that had a meeting",
    ("cycle_days", "won"): "Won deals (deal cycle)",
    ("win_rate", "lost"): "Deals lost",
    ("forecast", "open"): "Open deals in the forecast",
    ("pipeline_added", "created"): "Deals added to the pipeline",
    ("moves", "forward"): "Deals moved forward",
    ("moves", "back"): "Deals moved back",
    ("slipped_close", "open"): "Deals expected to close in the period that had not closed by its end",
    ("buyer_plans", "on_time"): "Open deals whose plan the buyer confirmed, with no buyer step overdue",
    ("buyer_plans", "other"): "Open deals without a buyer-confirmed plan on time",
    ("room_win_rate", "with_room"): "Closed deals that had a deal room",
    ("room_win_rate", "with_room_won"): "Won deals that had a deal room",
    ("room_win_rate", "without_room"): "Closed deals without a deal room",
    ("room_win_rate", "without_room_won"): "Won deals without a deal room",
}
CLOSE_WORDS = {"this_month": "expected to close this month", "next_month": "expected to close next month",
               "this_quarter": "expected to close this quarter", "next_quarter": "expected to close next quarter",
               "later": "expected to close after next quarter", "earlier": "whose expected close date has passed",
               "no_date": "with no expected close date", "all": ""}
CATEGORY_WORDS = {"commit": "in commit", "best_case": "in best case or commit", "pipeline": "in any category"}


def _title(question, stage) -> str:
    """The list's heading, in the words of the number it explains."""
    title = TITLES[(question.metric, question.part)].format(stage=stage.name if stage else "")
    if question.metric == "forecast":
        words = [f"in {stage.name}" if stage else "", CATEGORY_WORDS.get(question.category or "", ""),
                 CLOSE_WORDS.get(question.close or "", "")]
        title = " ".join([title, *filter(None, words)])
    return title
PERIOD_ARGS = ("preset", "from", "to")


@bp.route("/<int:pipeline_id>/deals")
@login_required
def deals(pipeline_id):
    """List the deals behind one number of the report (same period, pipeline and owner)."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    errors: dict = {}
    try:
        period = parse_period(request.args, current_user.org)
    except ReportInvalid as exc:
        errors.update(exc.fields)
        period = parse_period({}, current_user.org)
    owner = None
    owner_id = parse_id(request.args.get("owner"))
    if request.args.get("owner"):
        try:
            owner = allowed_owner(current_user, db.session.get(User, owner_id) if owner_id else None, "owner")
        except ReportInvalid as exc:
            errors.update(exc.fields)
    stage_id = parse_id(request.args.get("stage_id"))
    if request.args.get("stage_id") and stage_id is None:
        errors["stage_id"] = "is not a stage of this pipeline"
    question = read_question(request.args, stage_id, pipeline, errors)
    page = parse_id(request.args.get("page")) or 1
    if errors:
        return render_template("reports/deals.html", pipeline=pipeline, errors=errors, period=period,
                               title="Deals behind a number", result=None, back=_back(pipeline, period, owner)), 422
    result = deals_behind(pipeline, period, question, owner.id if owner else scope_owner(current_user), page)
    stage = next((s for s in pipeline.stages if s.id == question.stage_id), None)
    title = _title(question, stage)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "reports/deals.html", pipeline=pipeline, period=period, title=title, result=result, errors={},
        stages={s.id: s for s in pipeline.stages}, owner=owner,
        people=dict(db.session.query(User.email, User.name).filter(User.org_id == pipeline.org_id).all()), own=owner is None and scope_owner(current_user),
        page=page, first=(page - 1) * PAGE_SIZE + 1, stays=question.metric == "time_in_stage",
        next_url=url_for("reports.deals", pipeline_id=pipeline.id, page=result["next_page"], **args)
        if result["next_page"] else None,
        prev_url=url_for("reports.deals", pipeline_id=pipeline.id, page=page - 1, **args) if page > 1 else None,
        back=_back(pipeline, period, owner))


def _back(pipeline, period, owner) -> str:
    here = {"preset": period.preset} if period.preset else {"from": period.start.isoformat(),
                                                             "to": period.end.isoformat()}
    return url_for("reports.show", pipeline_id=pipeline.id, **here, **({"owner": owner.id} if owner else {}))
