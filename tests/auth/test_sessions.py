"""A session ends for real: sign-out, password change or reset and deactivation end every
session of that user, including a session cookie copied beforehand; sign-in rotates the CSRF token."""

import re

import pytest
from flask.testing import FlaskClient

from app.models import Task
from tests import factories

NEW_PASSWORD = "a-brand-new-password"


class Browser(FlaskClient):
    """A test client whose every request gets its own app context, so `g` (and Flask-Login's
    cached user) never leaks from one browser's request to another's, as in a real server."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def browser(app) -> Browser:
    return Browser(app, app.response_class, use_cookies=True)


@pytest.fixture
def client(app):
    return browser(app)


def sign_in(client, user, password=factories.PASSWORD):
    response = client.post("/auth/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def copy_session(app, source):
    """A second browser holding the same session cookie (as a thief or a shared computer would)."""
    other = browser(app)
    other.set_cookie("session", source.get_cookie("session").value)
    return other


def signed_in(client) -> bool:
    return client.get("/tasks/").status_code == 200


def add_task(client, title):
    client.post("/tasks/", data={"title": title, "kind": "call"}, headers={"HX-Request": "true"})
    return Task.query.filter_by(title=title).count()


@pytest.fixture
def rep(org):
    return factories.user(org, "rep")


def test_a_session_cookie_copied_before_sign_out_is_signed_out_too(app, client, rep):
    sign_in(client, rep)
    thief = copy_session(app, client)
    assert signed_in(thief) and add_task(thief, "Before sign-out") == 1

    response = client.post("/auth/logout", follow_redirects=True)
    assert "You are signed out on every device." in response.get_data(as_text=True)
    assert not signed_in(client)
    assert thief.get("/tasks/").headers["Location"].startswith("/auth/login")
    assert add_task(thief, "After sign-out") == 0


def test_sign_out_ends_the_users_sessions_on_other_devices(app, client, rep):
    sign_in(client, rep)
    laptop = browser(app)
    sign_in(laptop, rep)
    client.post("/auth/logout")
    assert not signed_in(laptop)
    sign_in(laptop, rep)  # signing in again works as before
    assert signed_in(laptop)


def test_an_admin_resetting_a_reps_password_ends_the_reps_sessions(app, client, org, rep):
    rep_browser = browser(app)
    sign_in(rep_browser, rep)
    copied = copy_session(app, rep_browser)
    sign_in(client, factories.user(org, "admin"))
    response = client.post(f"/admin/users/{rep.id}/password", data={"password": NEW_PASSWORD},
                           follow_redirects=True)
    assert "their sessions ended" in response.get_data(as_text=True)
    assert not signed_in(rep_browser) and not signed_in(copied)
    assert add_task(copied, "With the old session") == 0
    assert signed_in(client)  # the admin's own session is untouched
    sign_in(rep_browser, rep, NEW_PASSWORD)
    assert signed_in(rep_browser)


def test_an_admin_resetting_their_own_password_stays_signed_in_there_only(app, client, org):
    admin = factories.user(org, "admin")
    sign_in(client, admin)
    copied = copy_session(app, client)
    client.post(f"/admin/users/{admin.id}/password", data={"password": NEW_PASSWORD})
    assert signed_in(client) and not signed_in(copied)


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(app, client, org, rep):
    rep_browser = browser(app)
    sign_in(rep_browser, rep)
    sign_in(client, factories.user(org, "admin"))
    client.post(f"/admin/users/{rep.id}/active", data={"active": "0"})
    assert not signed_in(rep_browser)
    client.post(f"/admin/users/{rep.id}/active", data={"active": "1"})
    assert not signed_in(rep_browser)  # the old cookie stays dead; the rep signs in again
    sign_in(rep_browser, rep)
    assert signed_in(rep_browser)


def test_changing_your_password_signs_out_other_sessions_and_keeps_this_one(app, client, rep):
    sign_in(client, rep)
    other = browser(app)
    sign_in(other, rep)
    copied = copy_session(app, client)
    page = client.get("/auth/password").get_data(as_text=True)
    assert "Current password" in page and 'href="/auth/password"' in page
    response = client.post("/auth/password", data={
        "current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
    }, follow_redirects=True)
    assert "Password changed. You were signed out on your other devices." in response.get_data(as_text=True)
    assert signed_in(client)
    assert not signed_in(other) and not signed_in(copied)
    client.post("/auth/logout")
    sign_in(client, rep, NEW_PASSWORD)


@pytest.mark.parametrize(("data", "message"), [
    ({"current_password": "not-my-password", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
     "Not your current password."),  # errors read as sentences
    ({"current_password": factories.PASSWORD, "new_password": "short", "confirm": "short"},
     "at least 8 characters"),
    ({"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD, "confirm": "something-else"},
     "Type the same new password twice."),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, client, rep, data, message):
    sign_in(client, rep)
    other = browser(app)
    sign_in(other, rep)
    response = client.post("/auth/password", data=data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert signed_in(other) and signed_in(client)
    client.post("/auth/logout")
    sign_in(client, rep)  # the old password still works


def csrf_token_of(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def test_sign_in_rotates_the_csrf_token(app, client, rep, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    before = csrf_token_of(client.get("/auth/login").get_data(as_text=True))
    response = client.post("/auth/login", data={"email": rep.email, "password": factories.PASSWORD,
                                                "csrf_token": before})
    assert response.status_code == 302
    stale = client.post("/tasks/", data={"title": "With the pre-sign-in token", "kind": "call",
                                         "csrf_token": before})
    assert stale.status_code in (302, 400) and Task.query.count() == 0
    fresh = csrf_token_of(client.get("/tasks/").get_data(as_text=True))
    assert fresh != before
    client.post("/tasks/", data={"title": "With the fresh token", "kind": "call", "csrf_token": fresh})
    assert Task.query.filter_by(title="With the fresh token").count() == 1
