from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from app.errors import Forbidden, Invalid
from app.htmx import is_htmx
from app.ids import parse_id
from app.models import Contact, Deal, Task, org_zone
from app.redirects import same_site_referrer
from app.tasks import bp
from app.tasks.forms import ReassignForm, SnoozeForm, TaskForm
from app.tasks.service import (
    KINDS,
    SPEED_KINDS,
    assignable_users,
    complete_task,
    create_task,
    find_owner,
    header_counts,
    open_tasks_for,
    reassign_task,
    reopen_task,
    snooze_task,
    stale_by_owner,
    task_groups,
    today_bounds,
)
from app.tenancy import get_or_404, role_required

bp.record_once(lambda state: state.app.jinja_env.globals.update(task_kinds=KINDS))


@bp.app_template_global()
def header_numbers() -> tuple[int, int]:
    """(unread notifications, hot leads waiting) for the header: one statement per render."""
    return header_counts(current_user) if current_user.is_authenticated else (0, 0)


@bp.app_template_global()
def task_people() -> list:
    """The organisation's active people, for the reassign menus (once per request)."""
    if "task_people" not in g:
        g.task_people = assignable_users(current_user.org_id)
    return g.task_people


@bp.app_template_global()
def task_state(task) -> str:
    """Say where a task sits for the viewer: done, overdue, today or upcoming."""
    if task.done_at is not None:
        return "done"
    if "task_today" not in g:
        g.task_today = today_bounds(org_zone(current_user.org_id))
    start, tomorrow = g.task_today
    if task.due_at is None or task.due_at >= tomorrow:
        return "upcoming"
    return "overdue" if task.due_at < start else "today"


@bp.app_template_global()
def deal_url(deal_id) -> str:
    try:
        return url_for("deals.show", deal_id=deal_id)
    except BuildError:  # the deal page is another area's; keep links working while it lands
        return f"/deals/{deal_id}"


@bp.app_template_global()
def task_panel(deal=None, contact=None) -> dict:
    """Open tasks and a blank quick-add form for a deal or contact page's task panel."""
    return {
        "tasks": open_tasks_for(current_user.org_id, deal_id=deal.id if deal else None,
                                contact_id=contact.id if contact else None),
        "form": _blank_form(deal, contact),
    }


def _blank_form(deal=None, contact=None) -> TaskForm:
    return TaskForm(formdata=None, deal_id=deal.id if deal else "", contact_id=contact.id if contact else "")


def _int_or_404(value):
    if value in (None, ""):
        return None
    if parse_id(value) is None:
        abort(404)
    return parse_id(value)


def _apply_errors(form, fields: dict) -> None:
    for name, message in fields.items():
        field = getattr(form, name, None)
        text = f"{field.label.text if field is not None else name} {message}."
        if field is not None and name not in ("deal_id", "contact_id", "owner_id"):
            field.errors = [*field.errors, text]
        else:
            form.form_errors.append(text.replace("_id ", " ").capitalize())


@bp.route("/")
@login_required
def mine():
    """Show my tasks (or, for a manager, a rep's) grouped overdue, today, upcoming and done."""
    owner, error = current_user, None
    if request.args.get("owner"):
        try:
            owner = find_owner(current_user, request.args["owner"])
        except Invalid as exc:
            error = f"That person {exc.fields['owner']}; showing your own tasks."
        except Forbidden:
            abort(403)
    groups = task_groups(owner)
    form = _blank_form()
    form.owner_id.data = owner.id if owner.id != current_user.id else ""
    context = {"groups": groups, "owner": owner, "error": error, "form": form}
    if is_htmx():
        return render_template("tasks/_groups.html", **context)
    return render_template("tasks/mine.html", **context)


@bp.route("/", methods=["POST"])
@login_required
def create():
    """Create a task in one step; answer with the task list it belongs to."""
    form = TaskForm()
    deal_id, contact_id = _int_or_404(form.deal_id.data), _int_or_404(form.contact_id.data)
    deal = get_or_404(Deal, deal_id) if deal_id else None
    contact = get_or_404(Contact, contact_id) if contact_id else None
    created = None
    if form.validate_on_submit():
        try:
            created = create_task(current_user, title=form.title.data, kind=form.kind.data,
                                  due=form.due.data, deal_id=deal_id, contact_id=contact_id,
                                  owner_id=form.owner_id.data or None)
        except Invalid as exc:
            _apply_errors(form, exc.fields)
    owner = created.owner if created is not None else current_user
    if created is not None:
        form = _blank_form(deal, contact)
        form.owner_id.data = owner.id if owner.id != current_user.id else ""
    if not is_htmx():
        if created is None:
            flash(" ".join(form.form_errors + [e for f in form for e in f.errors]) or "The task was not saved.", "error")
        else:
            flash(f"Task added: {created.title}", "success")
        return redirect(same_site_referrer() or url_for("tasks.mine"))
    if deal is not None or contact is not None:
        panel = {"tasks": open_tasks_for(current_user.org_id, deal_id=deal_id, contact_id=contact_id),
                 "form": form}
        return render_template("tasks/_quick_add.html", task_deal=deal, task_contact=contact, panel=panel)
    return render_template("tasks/_groups.html", groups=task_groups(owner), owner=owner,
                           error=None, form=form)


def _load(task_id) -> Task:
    return get_or_404(Task, task_id)


def _row(task, error=None):
    """Answer a row action: the row itself for htmx, else back to where the user was."""
    if is_htmx():
        row = render_template("tasks/_row.html", task=task, row_error=error)
        if task.kind in SPEED_KINDS:  # the header's count of hot leads waiting follows the change
            row += render_template("tasks/_bell.html", bell_oob=True)
        return row
    flash(error or "Task updated.", "error" if error else "success")
    return redirect(same_site_referrer() or url_for("tasks.mine"))


def _act(action, task, *args):
    try:
        return _row(action(task, current_user, *args))
    except Forbidden:
        abort(403)
    except Invalid as exc:
        return _row(task, " ".join(f"{k.replace('_', ' ').capitalize()} {v}." for k, v in exc.fields.items()))


@bp.route("/<int:task_id>/done", methods=["POST"])
@login_required
def done(task_id):
    """Mark a task done."""
    return _act(complete_task, _load(task_id))


@bp.route("/<int:task_id>/reopen", methods=["POST"])
@login_required
def reopen(task_id):
    """Undo marking a task done."""
    return _act(reopen_task, _load(task_id))


@bp.route("/<int:task_id>/snooze", methods=["POST"])
@login_required
def snooze(task_id):
    """Push a task on by a day, a week or to a date."""
    form = SnoozeForm()
    return _act(snooze_task, _load(task_id), form.until.data or "", form.on_date.data)


@bp.route("/<int:task_id>/reassign", methods=["POST"])
@login_required
def reassign(task_id):
    """Give a task to someone else in the organisation."""
    return _act(reassign_task, _load(task_id), ReassignForm().owner_id.data)


@bp.route("/stale")
@role_required("manager")
def stale():
    """List deals past their stage's maximum days, per rep, with how many days over."""
    return render_template("tasks/stale.html", owners=stale_by_owner(current_user.org_id))

