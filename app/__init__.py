"""Stagegate application factory."""

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from app.errors import StagegateError
from app.extensions import csrf, db, limiter, login_manager, migrate
from app.headers import security_headers
from app.htmx import is_htmx
from app.ids import BoundedIntConverter, parse_id
from app.redirects import same_site_referrer
from app.statements import prebuilt
from config import Config


def create_app(config_class=Config) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_class)
    if not app.config.get("RATELIMIT_STORAGE_URI"):  # limits shared by every process using this Redis
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    app.url_map.converters["int"] = BoundedIntConverter  # ids past 2**31 - 1: 404
    if app.config["TRUSTED_PROXIES"]:
        _trust_proxies(app, app.config["TRUSTED_PROXIES"])

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    _setup_login(app)
    _register_blueprints(app)

    from app import formatting, readonly
    from app.cli import register_cli

    formatting.init_app(app)
    readonly.init_app(app)
    register_cli(app)
    _register_errors(app)
    app.after_request(security_headers)
    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Read the client's address and scheme from the `hops` reverse proxies in front (ProxyFix).

    X-Forwarded-For gives rate limits and view counts each visitor's own address, and
    X-Forwarded-Proto the https the visitor used (links, and the public form's own origin).
    X-Forwarded-Host is not trusted: proxies pass Host on as it came, and one that does not
    set X-Forwarded-Host would let a client pick the host of the links we build.
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _register_blueprints(flask_app: Flask) -> None:
    """Import every area's route modules (each adds its views to its area's blueprint), then register them.

    Only the factory imports routes: an area's `__init__` holds its blueprint alone, so importing
    a service never imports routes (nor, through them, other areas).
    """
    import app.admin.criteria_routes
    import app.admin.fields_routes
    import app.admin.reasons_routes
    import app.admin.routes
    import app.admin.stages_routes
    import app.admin.users_routes
    import app.api.auth
    import app.api.criteria
    import app.api.deals
    import app.api.errors
    import app.api.leads
    import app.api.metrics
    import app.api.openapi
    import app.api.rooms
    import app.api.routes
    import app.api.sequences
    import app.api.tasks
    import app.api.webhooks
    import app.auth.routes
    import app.booking.routes
    import app.contacts.company_routes
    import app.contacts.deal_routes
    import app.contacts.routes
    import app.deals.deal_routes
    import app.deals.list_routes
    import app.deals.move_routes
    import app.deals.routes
    import app.documents.routes
    import app.imports.routes
    import app.leads.form_routes
    import app.leads.held_routes
    import app.leads.public_routes
    import app.leads.routes
    import app.main.routes
    import app.playbooks.admin_routes
    import app.playbooks.routes
    import app.reports.drill_routes
    import app.reports.routes
    import app.rooms.booking_routes
    import app.rooms.document_routes
    import app.rooms.public_routes
    import app.rooms.routes
    import app.rooms.thread_routes
    import app.sequences.public_routes
    import app.sequences.quarantine_routes
    import app.sequences.routes
    import app.sequences.settings_routes
    import app.sequences.sms_routes
    import app.tasks.notification_routes
    import app.tasks.routes
    import app.webhooks.routes

    for blueprint, url_prefix in (
        (app.main.bp, None),
        (app.auth.bp, "/auth"),
        (app.admin.bp, "/admin"),
        (app.deals.bp, "/deals"),
        (app.documents.bp, "/deals"),
        (app.api.bp, "/api/v1"),
        (app.contacts.bp, "/contacts"),
        (app.imports.bp, "/imports"),
        (app.tasks.bp, "/tasks"),
        (app.reports.bp, "/reports"),
        (app.sequences.bp, "/sequences"),
        (app.sequences.public_bp, None),
        (app.sequences.sms_bp, "/sms"),
        (app.leads.bp, "/leads"),
        (app.leads.public_routes.bp, "/f"),
        (app.rooms.bp, "/deals"),
        (app.rooms.public_bp, "/r"),
        (app.booking.bp, "/booking"),
        (app.playbooks.bp, "/playbooks"),
        (app.webhooks.bp, "/settings/webhooks"),
    ):
        flask_app.register_blueprint(blueprint, url_prefix=url_prefix)


# Every signed-in request runs this: prebuilt (a fresh get() with loader options costs twice
# the time), the organisation joined in (every page shows its name or currency).
@prebuilt
def _user_by_id():
    from app.models import User

    return select(User).options(joinedload(User.org)).where(User.id == bindparam("user_id"))


def _setup_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id):
        from app.auth.sessions import session_is_current

        user_id = parse_id(user_id)
        user = db.session.execute(_user_by_id(), {"user_id": user_id}).scalar_one_or_none() if user_id else None
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

    @app.errorhandler(StagegateError)
    def domain_error(error):
        # Each kind's one answer (app/errors.py): its JSON body under /api/, else the error page
        # (a page's route turns the errors it expects into a form or a flash before this).
        if _wants_json():
            response = jsonify(error.as_api())
            response.status_code = error.status
            return response
        return render_template("error.html", code=error.status, message=error.message), error.status

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if _wants_json():
            return jsonify(error="bad_request", message="Missing or invalid CSRF token."), 400
        flash("Your form expired. Please try again.", "error")
        if is_htmx():
            return render_template("error.html", code=400, message="Your form expired; reload the page."), 400
        return redirect(same_site_referrer() or url_for("main.home"))

