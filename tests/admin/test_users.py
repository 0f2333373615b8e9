"""Admin: people (add, role, deactivate/reactivate, reset password)."""

import pytest

from app.models import User
from tests import factories


def test_add_user_with_role_who_can_then_sign_in(client, org, login_as):
    login_as("admin")
    response = client.post("/admin/users", data={"email": "New.Rep@Example.com", "name": "Nia Rep", "role": "rep",
                                                  "password": "first-password"})
    assert response.status_code == 302
    user = User.query.filter_by(email="new.rep@example.com").one()
    assert (user.org_id, user.role, user.active) == (org.id, "rep", True)
    assert "Nia Rep" in client.get("/admin/users").get_data(as_text=True)
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"email": "new.rep@example.com", "password": "first-password"}).status_code == 302


@pytest.mark.parametrize("data,message", [
    ({"email": "not-an-email"}, "Email must be a valid email address"),
    ({"password": "short"}, "must be at least 8 characters"),
    ({"role": "owner"}, "Role must be admin, manager or rep"),
    ({"name": ""}, "Name is required"),
    ({"name": "n" * 3000}, "at most 120 characters"),
])
def test_bad_user_input_explains_and_writes_nothing(client, org, login_as, data, message):
    login_as("admin")
    before = User.query.count()
    form = {"email": "someone@example.com", "name": "Some One", "role": "rep", "password": "long-enough-pw", **data}
    response = client.post("/admin/users", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert User.query.count() == before


def test_email_is_unique_across_organisations(client, org, login_as):
    login_as("admin")
    taken = factories.user(factories.make_org(), "rep").email
    response = client.post("/admin/users", data={"email": taken.upper(), "name": "Dup", "role": "rep",
                                                  "password": "long-enough-pw"})
    assert response.status_code == 422 and "already registered" in response.get_data(as_text=True)


def test_change_role(client, org, login_as):
    login_as("admin")
    rep = factories.user(org, "rep")
    response = client.post(f"/admin/users/{rep.id}/role", data={"role": "manager"}, follow_redirects=True)
    assert f"{rep.name} is now manager." in response.get_data(as_text=True)
    assert User.query.get(rep.id).role == "manager"


def test_cannot_demote_yourself(client, org, login_as):
    admin = login_as("admin")
    response = client.post(f"/admin/users/{admin.id}/role", data={"role": "rep"}, follow_redirects=True)
    assert "You cannot remove your own admin role" in response.get_data(as_text=True)
    assert User.query.get(admin.id).role == "admin"


def test_cannot_demote_or_deactivate_the_last_admin(client, org, login_as):
    admin = factories.user(org, "admin")
    helper = factories.user(org, "manager")
    helper.role = "admin"
    from app.extensions import db

    db.session.commit()
    login_as(who=helper)
    client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})  # fine: helper is still an admin
    assert User.query.get(admin.id).active is False
    client.post(f"/admin/users/{admin.id}/active", data={"active": "1"})
    client.post(f"/admin/users/{helper.id}/role", data={"role": "rep"})  # self: refused
    assert User.query.get(helper.id).role == "admin"
    client.post(f"/admin/users/{admin.id}/role", data={"role": "rep"})
    assert User.query.get(admin.id).role == "rep"
    login_as(who=helper)
    response = client.post(f"/admin/users/{helper.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "You cannot deactivate yourself" in response.get_data(as_text=True)


def test_last_admin_guard_blocks_demotion_by_another_admin(client, org, login_as):
    from app.admin.service import change_role
    from app.errors import Invalid as AdminError

    admin = factories.user(org, "admin")
    with pytest.raises(AdminError, match="last admin"):
        change_role(factories.user(org, "manager"), admin, "rep")


def test_deactivate_blocks_sign_in_and_reactivate_restores_it(client, org, login_as):
    login_as("admin")
    rep = factories.user(org, "rep")
    response = client.post(f"/admin/users/{rep.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "is deactivated" in response.get_data(as_text=True)
    assert User.query.get(rep.id).active is False
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"email": rep.email, "password": factories.PASSWORD}).status_code == 422
    login_as("admin")
    client.post(f"/admin/users/{rep.id}/active", data={"active": "1"})
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"email": rep.email, "password": factories.PASSWORD}).status_code == 302


def test_reset_password(client, org, login_as):
    login_as("admin")
    rep = factories.user(org, "rep")
    response = client.post(f"/admin/users/{rep.id}/password", data={"password": "brand-new-pass"}, follow_redirects=True)
    assert f"New password set for {rep.name}" in response.get_data(as_text=True)
    client.post("/auth/logout")
    assert client.post("/auth/login", data={"email": rep.email, "password": "brand-new-pass"}).status_code == 302


def test_reset_password_too_short_is_refused(client, org, login_as):
    login_as("admin")
    rep = factories.user(org, "rep")
    response = client.post(f"/admin/users/{rep.id}/password", data={"password": "short"}, follow_redirects=True)
    assert "at least 8 characters" in response.get_data(as_text=True)
    assert User.query.get(rep.id).check_password(factories.PASSWORD)


def test_another_orgs_user_is_404(client, org, login_as):
    login_as("admin")
    stranger = factories.user(factories.make_org(), "rep")
    for action, data in [("role", {"role": "admin"}), ("active", {"active": "0"}), ("password", {"password": "hijacked-pw"})]:
        assert client.post(f"/admin/users/{stranger.id}/{action}", data=data).status_code == 404
    stranger = User.query.get(stranger.id)
    assert (stranger.role, stranger.active) == ("rep", True) and stranger.check_password(factories.PASSWORD)


def test_a_person_added_from_the_command_line_can_be_renamed_in_people(client, org, login_as):
    from app.auth.service import create_user
    from app.extensions import db

    login_as("admin")
    cli_user = create_user(org, "ops@example.com", "", "rep", "correct-horse-battery")
    page = client.get("/admin/users").get_data(as_text=True)
    assert f'action="/admin/users/{cli_user.id}/name"' in page
    response = client.post(f"/admin/users/{cli_user.id}/name", data={"name": "  Olive Ops  "})
    assert response.status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Renamed to Olive Ops." in page and 'value="Olive Ops"' in page
    response = client.post(f"/admin/users/{cli_user.id}/name", data={"name": " "}, follow_redirects=True)
    assert "Type the person&#39;s name." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(cli_user), cli_user.id).name == "Olive Ops"
