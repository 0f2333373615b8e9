"""GET /api/v1/tasks: filters by owner, status and deal; another org's tasks never show."""

from datetime import timedelta

from app.extensions import db
from app.models import Task, utcnow
from tests import factories


def add_task(org, owner, title, deal=None, done=False, kind="follow_up"):
    task = Task(org_id=org.id, owner_id=owner.id, deal_id=deal.id if deal else None, kind=kind, title=title,
                due_at=utcnow() + timedelta(days=1), done_at=utcnow() if done else None)
    db.session.add(task)
    db.session.commit()
    return task


def test_tasks_list_with_filters(client, org, admin_h):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    deal = factories.make_deal(org, owner=rep)
    call = add_task(org, rep, "Call Dana", deal=deal, kind="call")
    add_task(org, rep, "Send deck", done=True)
    add_task(org, manager, "Review pipeline")
    other = factories.make_org()
    add_task(other, factories.user(other, "rep"), "Not yours")
    everything = client.get("/api/v1/tasks", headers=admin_h).json
    assert [t["title"] for t in everything["items"]] == ["Call Dana", "Send deck", "Review pipeline"]
    assert everything["next_page"] is None
    first = everything["items"][0]
    assert first == {"id": call.id, "kind": "call", "title": "Call Dana", "deal_id": deal.id, "contact_id": None,
                     "owner_email": rep.email, "due_at": first["due_at"], "done_at": None}
    assert first["due_at"].endswith("+00:00")

    def titles(query):
        response = client.get(f"/api/v1/tasks?{query}", headers=admin_h)
        assert response.status_code == 200, response.json
        return [t["title"] for t in response.json["items"]]

    assert titles(f"owner_email={rep.email}") == ["Call Dana", "Send deck"]
    assert titles("status=open") == ["Call Dana", "Review pipeline"]
    assert titles("status=done") == ["Send deck"]
    assert titles(f"deal_id={deal.id}") == ["Call Dana"]
    assert titles(f"owner_email={rep.email}&status=open") == ["Call Dana"]
    assert titles(f"owner_email={factories.user(other, 'rep').email}") == []


def test_tasks_page_by_fifty(client, org, admin_h):
    rep = factories.user(org, "rep")
    db.session.add_all([Task(org_id=org.id, owner_id=rep.id, title=f"T{i}") for i in range(51)])
    db.session.commit()
    first = client.get("/api/v1/tasks", headers=admin_h).json
    assert len(first["items"]) == 50 and first["next_page"] == 2
    second = client.get("/api/v1/tasks?page=2", headers=admin_h).json
    assert [t["title"] for t in second["items"]] == ["T50"] and second["next_page"] is None


def test_tasks_with_bad_filters_is_422(client, org, admin_h):
    response = client.get("/api/v1/tasks?status=later&deal_id=x&page=-2", headers=admin_h)
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"status", "deal_id", "page"}
