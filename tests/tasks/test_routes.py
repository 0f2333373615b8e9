"""Tasks over HTTP: grouping, one-step create, complete, snooze, reassign, role and tenant rules."""

from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import Notification, Task, utcnow
from app.tasks.service import create_task
from tests import factories

HX = {"HX-Request": "true"}


def make_task(owner, title="Call Pat", due=None, **kwargs):
    """Create a task through the service; a past due date is set afterwards (the form refuses it)."""
    past = due is not None and due < date.today()
    task = create_task(owner, title=title, due=None if past else due, **kwargs)
    if past:
        task.due_at = utcnow().replace(hour=9, minute=0) - (date.today() - due)
        db.session.commit()
    return task


def tasks(**filters):
    db.session.expire_all()
    return Task.query.filter_by(**filters).order_by(Task.id).all()


def html(response):
    return response.get_data(as_text=True)


def test_my_tasks_groups_overdue_today_upcoming_and_done(client, org, login_as):
    rep = login_as("rep")
    today = date.today()
    make_task(rep, "Overdue call", due=today - timedelta(days=3))
    make_task(rep, "Today email", due=today)
    make_task(rep, "Next week demo", due=today + timedelta(days=7))
    done = make_task(rep, "Finished intro", due=today)
    done.done_at = utcnow()
    make_task(factories.user(org, "manager"), "Someone else's task", due=today)
    db.session.commit()
    page = html(client.get("/tasks/"))
    order = ["Overdue", "Overdue call", "Today", "Today email", "Upcoming", "Next week demo",
             "Done recently", "Finished intro"]
    positions = [page.index(text) for text in order]
    assert positions == sorted(positions)
    assert "Someone else&#39;s task" not in page and "Someone else's task" not in page
    row = page.split('class="task-title">Overdue call')[1][:600]
    assert "Due 3 days ago" in row and 'title="' in row  # relative, with the exact date on hover


def test_empty_task_list_tells_the_rep_what_to_do_next(client, login_as):
    login_as("rep")
    assert "Nothing to do" in html(client.get("/tasks/"))


def test_follow_up_from_a_deal_is_one_htmx_post_returning_the_deal_task_panel(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep)
    response = client.post("/tasks/", data={"title": "Send the proposal", "kind": "email",
                                            "due": (date.today() + timedelta(days=2)).isoformat(),
                                            "deal_id": str(deal.id)}, headers=HX)
    assert response.status_code == 200
    body = html(response)
    assert "<html" not in body and f'id="task-panel-deal-{deal.id}"' in body
    assert "Send the proposal" in body and 'value="Follow up"' in body  # a fresh form for the next one
    [task] = tasks(deal_id=deal.id)
    assert (task.owner_id, task.kind, task.due_at.date()) == (rep.id, "email", date.today() + timedelta(days=2))


def test_follow_up_from_a_contact_returns_the_contact_panel(client, org, login_as):
    from app.models import Contact

    rep = login_as("rep")
    contact = Contact(org_id=org.id, email="pat@buyer.example.com", name="Pat Buyer")
    db.session.add(contact)
    db.session.commit()
    body = html(client.post("/tasks/", data={"title": "Connect on LinkedIn", "kind": "linkedin",
                                             "contact_id": str(contact.id)}, headers=HX))
    assert f'id="task-panel-contact-{contact.id}"' in body and "Connect on LinkedIn" in body
    assert tasks(contact_id=contact.id)[0].owner_id == rep.id


def test_quick_add_include_renders_a_deal_panel_for_the_deal_page(app, org):
    from flask import render_template_string
    from flask_login import login_user

    rep = factories.user(org, "rep")
    deal = factories.make_deal(org, owner=rep)
    make_task(rep, "Existing follow-up", deal_id=deal.id)
    with app.test_request_context("/deals/1"):
        login_user(rep)
        out = render_template_string(
            '{% with task_deal=deal %}{% include "tasks/_quick_add.html" %}{% endwith %}', deal=deal)
    assert "Existing follow-up" in out and f'name="deal_id" type="hidden" value="{deal.id}"' in out


def test_adding_from_my_tasks_returns_the_groups(client, login_as):
    login_as("rep")
    body = html(client.post("/tasks/", data={"title": "Plan the week", "kind": "follow_up",
                                             "due": date.today().isoformat()}, headers=HX))
    assert 'id="task-groups"' in body and "Plan the week" in body and "<html" not in body


@pytest.mark.parametrize("data, message", [
    ({"title": "Call", "kind": "call", "due": "next tuesday-ish"}, "Due must be a date like"),
    ({"title": "Call", "kind": "call", "due": "2020-01-01"}, "Due must be today or later"),
    ({"title": "Call", "kind": "call", "due": "2026-02-31"}, "Due must be a date like"),
    ({"title": "", "kind": "call"}, "Say what to do."),
    ({"title": "  ", "kind": "call"}, "What to do is required."),
    ({"title": "Call", "kind": "stale_reminder"}, "Not a valid choice"),
    ({"title": "x" * 201, "kind": "call"}, "What to do"),
])
def test_bad_task_input_shows_a_message_and_writes_nothing(client, login_as, data, message):
    login_as("rep")
    response = client.post("/tasks/", data=data, headers=HX)
    assert response.status_code == 200
    assert message in html(response)
    assert tasks() == []


def test_task_on_another_orgs_deal_is_404_and_writes_nothing(client, org, login_as):
    login_as("rep")
    other_deal = factories.make_deal(factories.make_org())
    response = client.post("/tasks/", data={"title": "Snoop", "kind": "call", "deal_id": str(other_deal.id)},
                           headers=HX)
    assert response.status_code == 404
    assert tasks() == []


def test_without_htmx_create_redirects_back_with_a_flash(client, login_as):
    login_as("rep")
    response = client.post("/tasks/", data={"title": "Call", "kind": "call", "due": "garbage"},
                           headers={"Referer": "/tasks/"}, follow_redirects=True)
    assert "Due must be a date like" in html(response) and tasks() == []


def test_completing_a_task_swaps_its_row_and_undo_reopens_it(client, login_as):
    rep = login_as("rep")
    task = make_task(rep, "Call Pat", due=date.today())
    body = html(client.post(f"/tasks/{task.id}/done", headers=HX))
    assert body.lstrip().startswith(f'<li id="task-{task.id}"') and "task-done" in body
    assert tasks(id=task.id)[0].done_at is not None
    body = html(client.post(f"/tasks/{task.id}/reopen", headers=HX))
    assert "task-done" not in body and tasks(id=task.id)[0].done_at is None


def test_snooze_by_a_day_a_week_or_to_a_date(client, login_as):
    rep = login_as("rep")
    task = make_task(rep, "Call Pat", due=date.today() - timedelta(days=2))
    client.post(f"/tasks/{task.id}/snooze", data={"until": "1d"}, headers=HX)
    first = tasks(id=task.id)[0].due_at
    assert timedelta(hours=23) < first - utcnow() <= timedelta(days=1)
    client.post(f"/tasks/{task.id}/snooze", data={"until": "1w"}, headers=HX)
    assert tasks(id=task.id)[0].due_at - first == timedelta(days=7)
    target = date.today() + timedelta(days=20)
    body = html(client.post(f"/tasks/{task.id}/snooze", data={"until": "date", "on_date": target.isoformat()},
                            headers=HX))
    assert tasks(id=task.id)[0].due_at.date() == target and "in 20 days" in body


@pytest.mark.parametrize("data, message", [
    ({"until": "date", "on_date": "31/31/2026"}, "must be a date like"),
    ({"until": "date", "on_date": ""}, "pick the date"),
    ({"until": "date", "on_date": (date.today() - timedelta(days=3)).isoformat()}, "must be today or later"),
    ({"until": "forever"}, "choose 1 day, 1 week or a date"),
])
def test_bad_snooze_shows_a_message_in_the_row_and_keeps_the_due_date(client, login_as, data, message):
    rep = login_as("rep")
    task = make_task(rep, "Call Pat", due=date.today())
    before = task.due_at
    body = html(client.post(f"/tasks/{task.id}/snooze", data=data, headers=HX))
    assert message in body and 'role="alert"' in body
    assert tasks(id=task.id)[0].due_at == before


def test_manager_reassigns_a_reps_task_and_the_new_owner_is_notified(client, org, login_as):
    rep, admin = factories.user(org, "rep"), factories.user(org, "admin")
    task = make_task(rep, "Call Pat")
    login_as("manager")
    response = client.post(f"/tasks/{task.id}/reassign", data={"owner_id": str(admin.id)}, headers=HX)
    assert response.status_code == 200 and admin.name in html(response)
    assert tasks(id=task.id)[0].owner_id == admin.id
    [note] = Notification.query.filter_by(user_id=admin.id, kind="assigned").all()
    assert "Call Pat" in note.text


def test_rep_reassigns_own_task_but_not_someone_elses(client, org, login_as):
    manager = factories.user(org, "manager")
    rep = login_as("rep")
    mine = make_task(rep, "Mine")
    theirs = make_task(manager, "Theirs")
    assert client.post(f"/tasks/{mine.id}/reassign", data={"owner_id": str(manager.id)}, headers=HX).status_code == 200
    assert tasks(id=mine.id)[0].owner_id == manager.id
    assert client.post(f"/tasks/{theirs.id}/reassign", data={"owner_id": str(rep.id)}, headers=HX).status_code == 403
    assert client.post(f"/tasks/{theirs.id}/done", headers=HX).status_code == 403
    after = tasks(id=theirs.id)[0]
    assert after.owner_id == manager.id and after.done_at is None


@pytest.mark.parametrize("owner_id", ["99999", "not-a-number", ""])
def test_reassign_to_unknown_person_shows_a_message_and_changes_nothing(client, login_as, owner_id):
    rep = login_as("rep")
    task = make_task(rep, "Call Pat")
    body = html(client.post(f"/tasks/{task.id}/reassign", data={"owner_id": owner_id}, headers=HX))
    assert "is not an active person in your organisation" in body
    assert tasks(id=task.id)[0].owner_id == rep.id and Notification.query.count() == 0


def test_reassign_to_a_person_of_another_org_is_refused(client, login_as):
    rep = login_as("rep")
    stranger = factories.user(factories.make_org(), "rep")
    task = make_task(rep, "Call Pat")
    body = html(client.post(f"/tasks/{task.id}/reassign", data={"owner_id": str(stranger.id)}, headers=HX))
    assert "is not an active person" in body and tasks(id=task.id)[0].owner_id == rep.id


@pytest.mark.parametrize("action, data", [("done", {}), ("reopen", {}), ("snooze", {"until": "1d"}),
                                          ("reassign", {"owner_id": "1"})])
def test_another_orgs_task_is_404_for_every_action(client, login_as, action, data):
    login_as("admin")
    other = factories.make_org()
    task = make_task(factories.user(other, "rep"), "Foreign")
    before = (task.owner_id, task.due_at, task.done_at)
    assert client.post(f"/tasks/{task.id}/{action}", data=data, headers=HX).status_code == 404
    after = tasks(id=task.id)[0]
    assert (after.owner_id, after.due_at, after.done_at) == before


def test_manager_views_a_reps_list_but_a_rep_cannot_view_the_managers(client, org, login_as):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    make_task(rep, "Rep call")
    make_task(manager, "Manager plan")
    login_as("manager")
    page = html(client.get(f"/tasks/?owner={rep.id}"))
    assert f"{rep.name}&#39;s tasks" in page and "Rep call" in page and "Manager plan" not in page
    login_as("rep")
    assert client.get(f"/tasks/?owner={manager.id}").status_code == 403


@pytest.mark.parametrize("owner", ["424242", "abc"])
def test_unknown_owner_in_the_task_list_says_so_and_shows_my_tasks(client, login_as, owner):
    manager = login_as("manager")
    make_task(manager, "Manager plan")
    page = html(client.get(f"/tasks/?owner={owner}"))
    assert "is not a person in your organisation" in page and "Manager plan" in page


def test_owner_of_another_org_is_unknown(client, login_as):
    login_as("manager")
    stranger = factories.user(factories.make_org(), "rep")
    assert "is not a person in your organisation" in html(client.get(f"/tasks/?owner={stranger.id}"))


def test_manager_adds_a_task_to_the_reps_list_they_are_viewing(client, org, login_as):
    rep = factories.user(org, "rep")
    login_as("manager")
    body = html(client.post("/tasks/", data={"title": "Prep QBR", "kind": "follow_up", "owner_id": str(rep.id)},
                            headers=HX))
    assert "Prep QBR" in body
    assert tasks(title="Prep QBR")[0].owner_id == rep.id


def test_rep_cannot_add_a_task_for_someone_else(client, org, login_as):
    manager = factories.user(org, "manager")
    login_as("rep")
    body = html(client.post("/tasks/", data={"title": "Do it", "kind": "call", "owner_id": str(manager.id)},
                            headers=HX))
    assert "only a manager can create tasks for someone else" in body.lower() and tasks() == []


def test_hand_off_from_closed_won_arrives_in_tasks_and_notifications(client, org, login_as):
    rep = factories.user(org, "rep")
    pipeline = factories.pipeline(org)
    deal = factories.make_deal(org, pipeline.stage_by_kind("won").name, owner=rep)
    login_as("rep")
    assert f"Onboarding hand-off: {deal.title}" in html(client.get("/tasks/"))
    assert "was won: hand-off to onboarding" in html(client.get("/tasks/notifications"))


def test_pages_need_sign_in(client):
    for url in ["/tasks/", "/tasks/notifications", "/tasks/stale"]:
        assert client.get(url).status_code == 302


def test_deal_page_shows_the_task_panel_and_its_form_adds_in_place(client, org, login_as):
    rep = login_as("rep")
    deal = factories.make_deal(org, owner=rep, title="Panel deal")
    make_task(rep, "Existing follow-up", deal_id=deal.id)
    page = html(client.get(f"/deals/{deal.id}"))
    assert f'id="task-panel-deal-{deal.id}"' in page and "Existing follow-up" in page
    assert f'name="deal_id" type="hidden" value="{deal.id}"' in page
