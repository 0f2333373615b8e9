"""API: tasks, filtered by owner, status and deal."""


from app.api import bp
from app.api.parse import paginate, query_choice, query_id, query_page, query_text, raise_if
from app.extensions import db
from app.models import Task, User
from app.tenancy import current_actor, scoped
from app.webhooks.shapes import task_json


@bp.get("/tasks")
def tasks():
    """List tasks, oldest first, 50 a page."""
    errors = {}
    status = query_choice("status", ("open", "done"), errors)
    deal_id = query_id("deal_id", errors)
    contact_id = query_id("contact_id", errors)
    kind = query_text("kind", errors, 20)
    page = query_page(errors)
    owner_email = query_text("owner_email", errors).lower()
    raise_if(errors)
    query = scoped(Task).options(db.joinedload(Task.owner))
    if status == "open":
        query = query.filter(Task.done_at.is_(None))
    elif status == "done":
        query = query.filter(Task.done_at.is_not(None))
    if deal_id is not None:
        query = query.filter(Task.deal_id == deal_id)
    if contact_id is not None:
        query = query.filter(Task.contact_id == contact_id)
    if kind:
        query = query.filter(Task.kind == kind)
    if owner_email:
        query = query.join(User, Task.owner_id == User.id).filter(
            User.email == owner_email, User.org_id == current_actor().org_id)
    return paginate(query.order_by(Task.id), page, task_json)
