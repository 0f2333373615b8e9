"""The bell, the notifications page, marking read; the manager's stale page; flask run-due."""

import re

from sqlalchemy import event

from app.extensions import db
from app.models import Notification
from app.tasks.service import sweep_stale
from tests import factories
from tests.tasks.helpers import reminders, stale_deal

HX = {"HX-Request": "true"}


def notify(user, text="Something happened", **kwargs):
    note = Notification(org_id=user.org_id, user_id=user.id, kind="test", text=text, url="/tasks/", **kwargs)
    db.session.add(note)
    db.session.commit()
    return note


def bell_count(page: str):
    match = re.search(r'aria-label="Notifications, (\d+) unread"', page)
    return int(match.group(1)) if match else None


def test_bell_shows_unread_count_with_one_count_query(app, client, login_as):
    rep = login_as("rep")
    for i in range(3):
        notify(rep, f"Note {i}")
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = client.get("/tasks/").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert bell_count(page) == 3 and 'class="bell-count" data-count="3">3<' in page
    assert len([s for s in statements if "notification" in s.lower()]) == 1


def test_bell_without_unread_shows_no_badge_and_signed_out_pages_have_no_bell(client, login_as):
    login_as("rep")
    page = client.get("/tasks/").get_data(as_text=True)
    assert bell_count(page) == 0 and "bell-count" not in page
    client.post("/auth/logout")
    assert 'id="bell"' not in client.get("/auth/login").get_data(as_text=True)


def test_stale_reminder_arrives_in_notifications_and_marking_read_updates_the_bell(client, org, login_as):
    rep = factories.user(org, "rep")
    stale_deal(org, 9, owner=rep, title="Silent Globex deal")
    sweep_stale()
    login_as("rep")
    page = client.get("/tasks/notifications").get_data(as_text=True)
    assert "Silent Globex deal has been in" in page and bell_count(page) == 1
    [note] = Notification.query.filter_by(user_id=rep.id).all()
    body = client.post(f"/tasks/notifications/{note.id}/read", headers=HX).get_data(as_text=True)
    assert f'id="notification-{note.id}"' in body and "is-unread" not in body.split('id="bell"')[0]
    assert 'hx-swap-oob="true"' in body and bell_count(body) == 0
    db.session.expire_all()
    assert db.session.get(Notification, note.id).read_at is not None
    assert "Silent Globex deal" in client.get("/tasks/").get_data(as_text=True)  # and the task is in my list


def test_mark_all_read_clears_only_my_unread(client, org, login_as):
    rep = login_as("rep")
    manager = factories.user(org, "manager")
    for i in range(4):
        notify(rep, f"Mine {i}")
    theirs = notify(manager, "Theirs")
    body = client.post("/tasks/notifications/read", headers=HX).get_data(as_text=True)
    assert 'id="notification-list"' in body and bell_count(body) == 0 and "Mark all read" not in body
    db.session.expire_all()
    assert Notification.query.filter_by(user_id=rep.id, read_at=None).count() == 0
    assert db.session.get(Notification, theirs.id).read_at is None


def test_someone_elses_or_another_orgs_notification_is_404(client, org, login_as):
    login_as("rep")
    colleague = notify(factories.user(org, "manager"), "Colleague's")
    foreign = notify(factories.user(factories.make_org(), "rep"), "Foreign")
    for note in (colleague, foreign):
        assert client.post(f"/tasks/notifications/{note.id}/read", headers=HX).status_code == 404
    db.session.expire_all()
    assert Notification.query.filter(Notification.read_at.is_not(None)).count() == 0


def test_empty_notifications_page_says_what_will_arrive(client, login_as):
    login_as("rep")
    assert "Hand-offs from won deals and stale-deal reminders arrive here" in \
        client.get("/tasks/notifications").get_data(as_text=True)


def test_manager_sees_stale_deals_per_rep_and_a_rep_may_not(client, org, login_as):
    rep = factories.user(org, "rep")
    stale_deal(org, 11, max_days=7, owner=rep, title="Dusty Initech deal")
    login_as("manager")
    page = client.get("/tasks/stale").get_data(as_text=True)
    assert rep.name in page and "Dusty Initech deal" in page and "4 days over" in page
    assert f"/tasks/?owner={rep.id}" in page
    login_as("rep")
    assert client.get("/tasks/stale").status_code == 403


def test_stale_page_with_nothing_stale_says_so(client, login_as):
    login_as("manager")
    assert "No stale deals" in client.get("/tasks/stale").get_data(as_text=True)


def test_run_due_command_runs_each_sweep_and_prints_what_it_did(app, org):
    stale_deal(org, 9)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["run-due"])
    assert first.exit_code == 0, first.output
    assert "stale_reminders: 1 created, 0 resolved" in first.output.splitlines()
    second = runner.invoke(args=["run-due"])
    assert "stale_reminders: 0 created, 0 resolved" in second.output.splitlines()
    assert len(reminders()) == 1
