"""Admin: people (add, role, deactivate, reset password) and API keys."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.admin import bp
from app.admin.forms import ApiKeyForm, PasswordForm, RoleForm, UserForm, add_errors
from app.admin.service import (
    add_user,
    change_role,
    create_key,
    org_api_keys,
    org_users,
    rename,
    reset_password,
    revoke_key,
    set_active,
)
from app.auth.sessions import sign_in
from app.errors import Invalid
from app.models import ApiKey, User
from app.tenancy import get_or_404, role_required


def _users_page(form, status=200):
    return render_template("admin/users.html", users=org_users(current_user.org_id), form=form), status


def _key_form(formdata=None) -> ApiKeyForm:
    form = ApiKeyForm(formdata=formdata)
    form.user_id.choices = [(str(u.id), f"{u.name} ({u.role})") for u in org_users(current_user.org_id)
                            if u.active]
    if formdata is None:
        form.user_id.data = str(current_user.id)
    return form


def _keys_page(form, status=200, raw_key=None, new_key=None):
    return render_template("admin/api_keys.html", keys=org_api_keys(current_user.org_id), form=form,
                           raw_key=raw_key, new_key=new_key), status


@bp.route("/users")
@role_required("admin")
def users():
    """List the organisation's people with the add-user form."""
    return _users_page(UserForm(formdata=None))


@bp.route("/users", methods=["POST"])
@role_required("admin")
def add_user_view():
    """Add a person with a role and an initial password."""
    form = UserForm()
    if form.validate():
        try:
            user = add_user(current_user.org, form.email.data, form.name.data, form.role.data, form.password.data)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            flash(f"{user.name} added as {user.role}. Share their password privately.", "success")
            return redirect(url_for("admin.users"))
    return _users_page(form, 422)


def _user_action(user_id, action, done):
    user = get_or_404(User, user_id)
    try:
        action(user)
    except Invalid as exc:
        flash(" ".join([exc.message, *(f"{k.capitalize()} {v}." for k, v in exc.fields.items())]), "error")
    else:
        flash(done(user), "success")
    return redirect(url_for("admin.users") + f"#user-{user.id}")


@bp.route("/users/<int:user_id>/role", methods=["POST"])
@role_required("admin")
def change_role_view(user_id):
    """Change a person's role (never your own admin role, never the last admin's)."""
    role = RoleForm().role.data or ""
    return _user_action(user_id, lambda u: change_role(current_user, u, role),
                        lambda u: f"{u.name} is now {u.role}.")


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@role_required("admin")
def set_active_view(user_id):
    """Deactivate or reactivate a person."""
    active = request.form.get("active") == "1"
    return _user_action(user_id, lambda u: set_active(current_user, u, active),
                        lambda u: f"{u.name} {'can sign in again' if u.active else 'is deactivated and cannot sign in'}.")


@bp.route("/users/<int:user_id>/name", methods=["POST"])
@role_required("admin")
def rename_view(user_id):
    """Rename a person."""
    name = (request.form.get("name") or "")[:10_000]
    return _user_action(user_id, lambda u: rename(u, name), lambda u: f"Renamed to {u.name}.")


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required("admin")
def reset_password_view(user_id):
    """Set a new password for a person."""
    password = PasswordForm().password.data or ""

    def reset(user):
        reset_password(user, password)  # ends every session of that user
        if user.id == current_user.id:
            sign_in(user)  # an admin resetting their own password stays signed in here

    return _user_action(user_id, reset, lambda u: f"New password set for {u.name}; their sessions ended. "
                                                  "Share it privately.")


@bp.route("/api-keys")
@role_required("admin")
def api_keys():
    """List API keys with the create form."""
    return _keys_page(_key_form())


@bp.route("/api-keys", methods=["POST"])
@role_required("admin")
def create_api_key_view():
    """Create an API key; its raw value is shown on this response only."""
    form = _key_form(request.form)
    if form.validate():
        try:
            raw, key = create_key(current_user.org, form.user_id.data, form.name.data)
        except Invalid as exc:
            add_errors(form, exc.fields)
        else:
            response = _keys_page(_key_form(), 201, raw_key=raw, new_key=key)
            return response[0], 201, {"Cache-Control": "no-store"}
    return _keys_page(form, 422)


@bp.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke_api_key(key_id):
    """Revoke an API key."""
    key = revoke_key(get_or_404(ApiKey, key_id))
    flash(f"Key {key.name} ({key.prefix}\u2026) revoked. Requests with it are refused now.", "success")
    return redirect(url_for("admin.api_keys"))
