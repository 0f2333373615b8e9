from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.auth import bp
from app.auth.forms import ChangePasswordForm, LoginForm, SignupForm
from app.auth.service import AccountError, authenticate, change_password, create_organization
from app.auth.sessions import sign_in, sign_out_everywhere
from app.extensions import limiter
from app.models import User
from app.redirects import safe_next


def _next_page() -> str:
    """Where a sign-in goes: the `next` page when it is one of this site's, else the home page."""
    return safe_next(request.args.get("next")) or url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(_next_page())
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user:
            sign_in(user)
            return redirect(_next_page())
        form.password.errors.append("Email or password is not right.")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def signup():
    """Create an organisation and its first admin."""
    form = SignupForm()
    if form.validate_on_submit():
        try:
            org = create_organization(form.org_name.data, form.email.data, form.password.data,
                                      admin_name=form.name.data)
        except AccountError as exc:
            for name, message in exc.fields.items():
                getattr(form, {"name": "org_name"}.get(name, name), form.email).errors.append(message)
        else:
            sign_in(User.query.filter_by(org_id=org.id).first())
            flash(f"Welcome to Stagegate, {org.name}. Start with a pipeline template.", "success")
            return redirect(url_for("admin.pipelines"))
    status = 200 if request.method == "GET" else 422
    return render_template("auth/signup.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out: this session and every other one of this user (other devices, copied cookies)."""
    sign_out_everywhere(current_user)
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def password():
    """Change your own password; your other sessions end, this one stays signed in."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = current_user._get_current_object()
            change_password(user, form.current_password.data, form.new_password.data)
        except AccountError as exc:
            for name, message in exc.fields.items():
                getattr(form, name).errors.append(message)
        else:
            sign_in(user)
            flash("Password changed. You were signed out on your other devices.", "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form), 200 if request.method == "GET" else 422
