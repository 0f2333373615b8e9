"""The deals list: a table of deals beside the board, the CSV of the rows shown, and bulk actions."""

from datetime import datetime
from urllib.parse import parse_qsl

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from app.csv_files import csv_lines
from app.deals import bp
from app.deals.board import board_users
from app.deals.bulk import bulk_stage, change_owner, move_deals, selected_deals
from app.deals.deal_list import (
    CLOSE_PERIODS,
    CSV_HEADER,
    PAGE_SIZES,
    SORTS,
    STATUSES,
    csv_row,
    load_page,
    load_structure,
    parse_view,
)
from app.errors import Invalid, StagegateError
from app.htmx import is_htmx
from app.models import utcnow
from app.readonly import read_only
from app.tasks.bulk import add_task_to_deals
from app.tasks.service import CREATABLE_KINDS, KINDS

MAX_VIEW = 2000  # the list's query string carried through a bulk action's form
FLASH_STAYED = 8  # a flash lives in the session cookie: name this many deals that stayed, count the rest


def _today():
    """Today in the organisation's zone: "this month" and "past due" are the organisation's days."""
    return datetime.now(current_user.org.zone).date()


def _context(args, **extra) -> dict:
    org_id = current_user.org_id
    structure = load_structure(org_id)
    users = board_users(org_id)
    view, notes = parse_view(args, current_user, structure, users)
    page = load_page(view, structure, users, org_id, _today(), utcnow())
    # The board the list links to: the filtered pipeline's, else the first active one's.
    board_id = view.pipeline_id or next((p.id for p in structure.active_pipelines), None)
    return dict(page=page, board_id=board_id, view=page.view, notes=notes, structure=structure, users=users,
                manager=current_user.has_role("manager"), sorts=SORTS, statuses=STATUSES,
                close_periods=CLOSE_PERIODS, page_sizes=PAGE_SIZES,
                task_kinds=[(k, KINDS[k]) for k in CREATABLE_KINDS], **extra)


def _render(context, status=200, headers=None):
    if is_htmx():  # the filters, sort links and pager swap the list only (and keep the form's sort in step)
        html = render_template("deals/_list.html", oob=True, **context)
    else:
        html = render_template("deals/list.html", **context)
    return html, status, {"Vary": "HX-Request", **(headers or {})}


@bp.route("/list", endpoint="list")
@read_only
@login_required
def deal_list():
    """List deals as rows: filter, search, sort by any column, page; the URL holds the view."""
    context = _context(request.args)
    # The address bar gets the view's own short URL, not every empty field of the filter form.
    return _render(context, headers={"HX-Push-Url": url_for("deals.list", **context["view"].args())}
                   if is_htmx() else None)


@bp.route("/list.csv")
@read_only
@login_required
def list_csv():
    """Download the rows the list shows (same filters, sort and page) as a CSV."""
    page = _context(request.args)["page"]
    rows = [csv_row(row) for row in page.rows]
    return Response(csv_lines(CSV_HEADER, rows), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="deals.csv"'})


def _view_args(raw) -> MultiDict:
    """The list's query string, sent back by a bulk action's form (it is parsed again as a view)."""
    return MultiDict(parse_qsl(str(raw or "")[:MAX_VIEW]))


def _versions(form, deal_ids) -> dict:
    """{deal id: the version the list showed}, for the optimistic check each write makes."""
    versions = {}
    for deal_id in deal_ids:
        raw = form.get(f"v{deal_id}", "")
        if raw.isascii() and raw.isdigit() and len(raw) < 10:
            versions[deal_id] = int(raw)
    return versions


def _act(form):
    """Check the selection, then run the chosen action on it; return its Outcome."""
    raw_ids = form.getlist("ids")
    if form.get("all") == "1":  # "select all on this page" works without JavaScript too
        raw_ids = list(dict.fromkeys([*str(form.get("shown", ""))[:MAX_VIEW].split(","), *raw_ids]))
    action = form.get("action")
    if action not in ("move", "owner", "task"):
        raise Invalid({"action": "choose one"}, "Nothing was changed: choose what to do with the selected deals.")
    deals = selected_deals(current_user, raw_ids)
    versions = _versions(form, [d.id for d in deals])
    if action == "move":
        return move_deals(deals, bulk_stage(current_user, form.get("stage_id")), current_user, versions)
    if action == "owner":
        return change_owner(deals, form.get("owner_id"), current_user, versions)
    for_owners = current_user.has_role("manager") and form.get("task_for") != "me"
    return add_task_to_deals(current_user, deals, title=form.get("task_title", "")[:1000],
                             kind=form.get("task_kind") or "follow_up", due=form.get("task_due") or None,
                             for_owners=for_owners)


def _flash_text(outcome) -> str:
    stayed = [f"{title[:60]} ({why[:160]})" for title, why in outcome.stayed[:FLASH_STAYED]]
    more = len(outcome.stayed) - FLASH_STAYED
    return " ".join([outcome.summary, "; ".join(stayed) + (f"; and {more} more." if more > 0 else "")]).strip()


@bp.route("/list/bulk", methods=["POST"])
@login_required
def list_bulk():
    """Act on the deals picked in the list: move them through the gate, change their owner, or add a task."""
    args = _view_args(request.form.get("view"))
    try:
        outcome = _act(request.form)
    except StagegateError as exc:
        # Nothing was written: the list as it was, with the reason in its status line.
        return _render(_context(args, error=exc.message), 422 if is_htmx() else exc.status)
    context = _context(args, outcome=outcome)
    list_url = url_for("deals.list", **context["view"].args())
    if is_htmx():
        return _render(context, headers={"HX-Push-Url": list_url})
    flash(_flash_text(outcome), "warning" if outcome.stayed else "success")
    return redirect(list_url, 303)

