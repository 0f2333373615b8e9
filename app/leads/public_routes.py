"""The public lead form: hosted page, submission (hosted or embedded), and the embed's view pixel.

No login and no CSRF token: its own defences are a signed page token (minimum time to
submit, one use), a honeypot, the per-form allow-list of embedding sites, and a
per-address rate limit.
"""

import base64
import hashlib
import hmac
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, redirect, render_template, request
from sqlalchemy import bindparam, select

from app.deals.service import Invalid
from app.extensions import csrf, db, limiter
from app.leads import lead_forms
from app.models import utcnow
from app.models.leads import LeadForm
from app.readonly import use_autocommit

bp = Blueprint("forms", __name__)
csrf.exempt(bp)
HONEYPOT = "website"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


# Built once: the public form is the busiest URL (every submission and view reads it), and a
# Query built per request cost more than the lookup itself.
_ACTIVE_FORM = select(LeadForm).where(LeadForm.key == bindparam("key"), LeadForm.active.is_(True)).limit(1)


def _form_or_404(form_key: str) -> LeadForm:
    if not form_key.isascii() or len(form_key) > 32:
        abort(404)
    form = db.session.execute(_ACTIVE_FORM, {"key": form_key}).scalar()
    if form is None:
        abort(404)
    return form


def _visitor() -> str:
    """A keyed hash of address, browser and day: counts visitors without storing who they are."""
    raw = f"{request.remote_addr}|{request.user_agent.string[:300]}|{utcnow().date()}"
    return hmac.new(current_app.config["SECRET_KEY"].encode(), raw.encode("utf-8", "replace"),
                    hashlib.sha256).hexdigest()[:32]


def _origin() -> str:
    origin = request.headers.get("Origin", "")
    if not origin or origin == "null":
        parsed = urlparse(request.headers.get("Referer", ""))
        origin = f"{parsed.scheme}://{parsed.netloc}" if parsed.scheme and parsed.netloc else ""
    return origin.rstrip("/")


def _own_origin() -> str:
    return request.host_url.rstrip("/")


def _render(form, status=200, errors=None, values=None, notice=""):
    token = lead_forms.issue_token(current_app.config["SECRET_KEY"], form)
    args = request.args if request.method == "GET" else request.form
    utm = lead_forms.clean_utm_params(args)
    referrer = (args.get("ref") or request.headers.get("Referer", "") if request.method == "GET"
                else args.get("ref", ""))
    html = render_template(
        "leads/public_form.html", form=form, inputs=lead_forms.form_inputs(form), token=token, utm=utm,
        referrer=str(referrer)[:500], errors=errors or {}, values=values or {}, notice=notice,
    )
    return html, status, _csp_headers(form)


def _csp_headers(form) -> dict:
    """Let the browser follow the form's redirect (Chrome applies form-action to the redirect too)."""
    if not form.redirect_url:
        return {}
    parsed = urlparse(form.redirect_url)
    from app.headers import CSP

    target = f"{parsed.scheme}://{parsed.netloc}"
    return {"Content-Security-Policy": CSP.replace("form-action 'self'", f"form-action 'self' {target}")}


def _limit() -> str:
    return current_app.config["LEAD_FORM_RATE_LIMIT"]


def _view_limit() -> str:
    return current_app.config["LEAD_FORM_VIEW_LIMIT"]


@bp.get("/<form_key>")
@limiter.limit(_view_limit)
def show(form_key):
    """Serve a lead form's hosted page and count the view."""
    form = _form_or_404(form_key)
    lead_forms.count_view(form, _visitor(), utcnow().date())
    return _render(form)


@bp.get("/<form_key>/v.gif")
@limiter.limit(_view_limit)
def view_pixel(form_key):
    """Count a view of an embedded form (the snippet's 1x1 image)."""
    form = _form_or_404(form_key)
    lead_forms.count_view(form, _visitor(), utcnow().date())
    return PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store"}


@bp.after_request
def _no_rate_limit_headers(response):
    """No X-RateLimit-* headers on the public form's answers: reading the window costs two Redis
    round trips per submission, and no browser reads them. A 429 keeps them and its Retry-After."""
    if response.status_code != 429:
        limiter.context.view_rate_limit = None
    return response


def _thanks(form):
    if form.redirect_url:
        return redirect(form.redirect_url, 303)
    return render_template("leads/public_thanks.html", form=form)


@bp.post("/<form_key>")
@limiter.limit(_limit)
def submit(form_key):
    """Take a submission from the hosted page or an allowed site's embed."""
    # One self-contained INSERT, durable when it returns: a BEGIN and a COMMIT buy nothing.
    use_autocommit()
    form = _form_or_404(form_key)
    origin = _origin()
    embedded = bool(origin) and origin != _own_origin()
    if embedded and not lead_forms.origin_allowed(form, origin):
        return render_template("leads/public_refused.html", form=form, origin=origin), 403
    values = {k: v for k, v in request.form.items() if k.startswith("f_")}
    if request.form.get(HONEYPOT):
        return _thanks(form)  # a bot: it sees success and learns nothing; nothing is stored
    token = lead_forms.read_token(current_app.config["SECRET_KEY"], form, request.form.get("_t", ""))
    if token is None and not embedded:
        return _render(form, 400, values=values, notice="This page had expired. Check your details and send again.")
    if token is not None and token[1] < current_app.config["LEAD_FORM_MIN_SECONDS"]:
        return _render(form, 400, values=values, notice="That was quick! Check your details and send again.")
    nonce = token[0] if token else lead_forms.secrets.token_urlsafe(12)
    try:
        lead_forms.submit(form, request.form.to_dict(), nonce=nonce,
                          utm=lead_forms.clean_utm_params(request.form),
                          referrer=request.form.get("ref", "")[:500] or (origin if embedded else ""))
    except Invalid as exc:
        return _render(form, 422, errors=exc.fields, values=values, notice=exc.message)
    return _thanks(form)
