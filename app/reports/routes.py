"""Reports: the metrics page per pipeline and period, its CSV tables, and the admin's one-click fixes."""

import io
import re
import unicodedata
import zipfile

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.deals.provenance import describe
from app.extensions import db
from app.ids import parse_id
from app.models import Pipeline, Stage, User
from app.reports import bp
from app.reports.forecast import accuracy, by_expected_close
from app.reports.objections import objection_figures, objection_table
from app.reports.review import deal_audit, review_week, weekly_review
from app.reports.rooms import room_figures
from app.reports.service import (
    BANDS,
    CATEGORIES,
    PRESETS,
    ReportInvalid,
    adopt_probability,
    allowed_owner,
    apply_max_days,
    metrics,
    parse_period,
    scope_owner,
    set_forecast_category,
    suggested_max_days,
)
from app.reports.tables import (
    accuracy_table,
    build_tables,
    category_table,
    close_table,
    room_tables,
    to_csv,
)
from app.tenancy import get_or_404, role_required, scoped


def _pipelines():
    """The organisation's pipelines as (id, name) rows: the picker needs no stages or fields."""
    return (scoped(Pipeline).filter_by(archived=False).with_entities(Pipeline.id, Pipeline.name)
            .order_by(Pipeline.position, Pipeline.id).all())


@bp.route("/")
@login_required
def index():
    """Open the report of the organisation's first pipeline."""
    args = {k: v for k, v in request.args.items() if k in ("preset", "from", "to", "owner") and v}
    chosen = request.args.get("pipeline", "")
    if chosen.isascii() and chosen.isdigit() and 0 < int(chosen) < 2**31:
        return redirect(url_for("reports.show", pipeline_id=int(chosen), **args))
    pipelines = _pipelines()
    if not pipelines:
        flash("Reports need a pipeline: set one up first.", "info")
        return redirect(url_for("main.home"))
    return redirect(url_for("reports.show", pipeline_id=pipelines[0].id, **args))


def _report(pipeline_id):
    pipeline = get_or_404(Pipeline, pipeline_id)
    org = current_user.org
    errors = {}
    try:
        period = parse_period(request.args, org)
    except ReportInvalid as exc:
        errors = exc.fields
        period = parse_period({}, org)
    owner = None
    if request.args.get("owner"):
        try:
            owner = allowed_owner(current_user, db.session.get(User, parse_id(request.args["owner"]) or 0), "owner")
        except ReportInvalid as exc:
            errors.update(exc.fields)
    numbers = metrics(pipeline, period, current_user, owner)
    numbers["owner"] = owner
    stages = {s.id: s for s in pipeline.stages}
    people = {u.email: (u.name, u.id) for u in numbers["people"]}
    tables = build_tables(numbers, stages, people, org.currency, owner_filtered=owner is not None)
    # Scoped like every other table: a rep's own frozen forecast against what their deals won.
    owner_id = owner.id if owner is not None else scope_owner(current_user)
    tables["accuracy"] = accuracy_table(accuracy(pipeline, org, owner_id=owner_id), org.currency)
    by_close = by_expected_close(pipeline, org, owner_id=owner_id)
    tables["forecast_by_close"] = close_table(by_close, org.currency)
    tables["forecast_categories"] = category_table(by_close, sorted(pipeline.stages, key=lambda s: s.position),
                                                   org.currency)
    figures = room_figures(pipeline, period, owner_id)
    tables["buyer_plans"], tables["room_win_rate"] = room_tables(figures, org.currency)
    numbers["rooms"] = figures["rooms"]
    tables["objections"] = objection_table(objection_figures(pipeline, period, owner_id))
    return pipeline, period, numbers, tables, errors


@bp.route("/<int:pipeline_id>")
@login_required
def show(pipeline_id):
    """Show a pipeline's conversion, time in stage, outcomes and forecast for a period."""
    pipeline, period, numbers, tables, errors = _report(pipeline_id)
    suggestions = {r["stage_id"]: suggested_max_days(r["p75_days"]) for r in numbers["time_in_stage"]}
    status = 422 if errors else 200
    return render_template(
        "reports/show.html", pipeline=pipeline, pipelines=_pipelines(), period=period, numbers=numbers,
        tables=tables, errors=errors, presets=PRESETS, bands=BANDS, categories=CATEGORIES,
        suggestions=suggestions, stages={s.id: s for s in pipeline.stages},
        owners=numbers["users"] if current_user.has_role("manager") else [],
    ), status


def _file_stem(pipeline, period) -> str:
    """A download's name: the pipeline and the period, in letters any file system keeps."""
    name = unicodedata.normalize("NFKD", pipeline.name).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "pipeline"
    return f"{name}-{period.start.isoformat()}-to-{period.last_day.isoformat()}"


@bp.route("/<int:pipeline_id>/export")
@login_required
def export(pipeline_id):
    """Download one of the report's tables as CSV: numbers as numbers, for a spreadsheet."""
    pipeline, period, _, tables, errors = _report(pipeline_id)
    table = tables.get(request.args.get("table", ""))
    if table is None or errors:
        abort(404)
    name = f"{_file_stem(pipeline, period)}-{table.key.replace('_', '-')}.csv"
    return Response(to_csv(table), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/<int:pipeline_id>/export.zip")
@login_required
def export_all(pipeline_id):
    """Download every table of the report as CSV files in one zip, for a workbook."""
    pipeline, period, _, tables, errors = _report(pipeline_id)
    if errors:
        abort(404)
    stem = _file_stem(pipeline, period)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for position, table in enumerate(tables.values(), start=1):
            bundle.writestr(f"{position:02d}-{table.key.replace('_', '-')}.csv", to_csv(table))
    return Response(buffer.getvalue(), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{stem}.zip"'})


def _stage_action(stage_id, action, field, done):
    stage = get_or_404(Stage, stage_id)
    try:
        value = action(stage, current_user, request.form.get(field))
        flash(done(stage, value), "success")
    except ReportInvalid as exc:
        flash(f"{stage.name}: {field.replace('_', ' ')} {exc.fields.get(field, 'is not valid')}.", "error")
    args = {k: v for k, v in request.form.items() if k in ("preset", "from", "to")}
    return redirect(url_for("reports.show", pipeline_id=stage.pipeline_id, **args) + "#calibration")


@bp.route("/stages/<int:stage_id>/probability", methods=["POST"])
@role_required("admin")
def adopt(stage_id):
    """Set a stage's probability to its measured stage-to-win rate."""
    return _stage_action(stage_id, adopt_probability, "probability",
                         lambda s, v: f"{s.name} now forecasts at {v} %.")


@bp.route("/stages/<int:stage_id>/max-days", methods=["POST"])
@role_required("admin")
def max_days(stage_id):
    """Set a stage's maximum days to the suggested 75th percentile of completed stays."""
    return _stage_action(stage_id, apply_max_days, "max_days",
                         lambda s, v: f"{s.name} now flags deals after {v} days; stale reminders follow it.")


@bp.route("/stages/<int:stage_id>/category", methods=["POST"])
@role_required("admin")
def category(stage_id):
    """Map a stage to a forecast category."""
    return _stage_action(stage_id, set_forecast_category, "category",
                         lambda s, v: f"{s.name} now counts as {CATEGORIES[v]} in the forecast.")


@bp.route("/<int:pipeline_id>/review")
@role_required("manager")
def review(pipeline_id):
    """Show the weekly pipeline review: per rep, what needs attention and what changed since last week."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    try:
        week = review_week(request.args.get("week"), current_user.org.zone)
    except ValueError:
        flash("Pick a day of a past week or of this week (YYYY-MM-DD): showing the last 7 days.", "error")
        week = None
    return render_template("reports/review.html", pipeline=pipeline, expand=parse_id(request.args.get("expand")),
                           **weekly_review(pipeline, current_user, week=week))


@bp.route("/<int:pipeline_id>/audit")
@role_required("manager")
def audit(pipeline_id):
    """Show the last 20 closed deals with their activities beside their stage progression."""
    pipeline = get_or_404(Pipeline, pipeline_id)
    return render_template("reports/audit.html", pipeline=pipeline, items=deal_audit(pipeline, current_user),
                           describe=describe)
