"""Stagegate application factory."""

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from app.extensions import csrf, db, limiter, login_manager, migrate
from app.htmx import add_vary, is_htmx
from app.ids import BoundedIntConverter, parse_id
from app.redirects import same_site_referrer
from config import Config

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
)


def create_app(config_class=Config) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_class)
    if not app.config.get("RATELIMIT_STORAGE_URI"):  # limits shared by every process using this Redis
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    app.url_map.converters["int"] = BoundedIntConverter  # ids past 2**31 - 1: 404

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    _setup_login(app)

    from app import admin, api, auth, contacts, deals, main, tasks

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp, url_prefix="/auth")
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(deals.bp, url_prefix="/deals")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(contacts.bp, url_prefix="/contacts")
    from app import imports

    app.register_blueprint(imports.bp, url_prefix="/imports")
    app.register_blueprint(tasks.bp, url_prefix="/tasks")
    from app import reports

    app.register_blueprint(reports.bp, url_prefix="/reports")
    from app import sequences

    app.register_blueprint(sequences.bp, url_prefix="/sequences")
    app.register_blueprint(sequences.public_bp)
    from app import leads
    from app.leads import public_routes

    app.register_blueprint(leads.bp, url_prefix="/leads")
    app.register_blueprint(public_routes.bp, url_prefix="/f")

    from app import formatting, readonly
    from app.cli import register_cli

    formatting.init_app(app)
    readonly.init_app(app)
    register_cli(app)
    _register_errors(app)
    _security_headers(app)
    return app


def _setup_login(app: Flask) -> None:
    from sqlalchemy import bindparam, select
    from sqlalchemy.orm import joinedload

    from app.models import User

    # Every signed-in request runs this: built once (a fresh get() with loader options costs
    # twice the time), the organisation joined in (every page shows its name or currency).
    by_id = select(User).options(joinedload(User.org)).where(User.id == bindparam("user_id"))

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id):
        from app.auth.sessions import session_is_current

        user_id = parse_id(user_id)
        user = db.session.execute(by_id, {"user_id": user_id}).scalar_one_or_none() if user_id else None
        return user if user and user.active and session_is_current(user) else None


# PostgreSQL's codes for "this transaction was rolled back; running it again can succeed":
# serialization_failure, deadlock_detected, lock_not_available.
TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03"}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_errors(app: Flask) -> None:
    messages = {
        400: ("bad_request", "The request could not be understood."),
        403: ("forbidden", "You do not have permission to do that."),
        404: ("not_found", "There is nothing here."),
        405: ("method_not_allowed", "That action is not allowed here."),
        413: ("too_large", "That upload is too large."),
        429: ("rate_limited", "Too many attempts. Wait a minute and try again."),
        500: ("server_error", "Something went wrong on our side. Nothing was saved."),
    }

    def handle(error):
        code = getattr(error, "code", 500) or 500
        if code not in messages:
            code = 500
        key, message = messages[code]
        if code == 429 and getattr(getattr(error, "limit", None), "error_message", None):
            message = error.description  # a limit that says what it counts (flask-limiter's error_message)
        if code == 500:
            db.session.rollback()
            app.logger.exception("Unhandled error")
        if _wants_json():
            body = {"error": key, "message": message}
            response = jsonify(body)
            response.status_code = code
        else:
            response = app.make_response(
                (render_template("error.html", code=code, message=message), code)
            )
        if code == 429:
            retry = getattr(error, "retry_after", None) or 60
            response.headers["Retry-After"] = str(int(retry))
        if code == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(sorted(error.valid_methods))  # RFC 9110 requires it
        return response

    for code in messages:
        app.register_error_handler(code, handle)

    @app.errorhandler(OperationalError)
    def database_busy(error):
        # PostgreSQL chose this transaction as a deadlock's victim (two writers took the same
        # rows, e.g. the board's stage tallies, in opposite orders) or could not serialise it:
        # the whole transaction was rolled back, so nothing was saved and trying again works.
        if getattr(getattr(error, "orig", None), "sqlstate", None) not in TRANSIENT_SQLSTATES:
            return handle(error)
        db.session.rollback()
        app.logger.warning("Transaction rolled back by the database (%s); answered 503", error.orig.sqlstate)
        message = "The database was busy with another change and nothing was saved. Try again."
        if _wants_json():
            response = jsonify({"error": "busy", "message": message})
            response.status_code = 503
        else:
            response = app.make_response((render_template("error.html", code=503, message=message), 503))
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if _wants_json():
            return jsonify(error="bad_request", message="Missing or invalid CSRF token."), 400
        flash("Your form expired. Please try again.", "error")
        if is_htmx():
            return render_template("error.html", code=400, message="Your form expired; reload the page."), 400
        return redirect(same_site_referrer() or url_for("main.home"))


def _security_headers(app: Flask) -> None:
    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return add_vary(response)
