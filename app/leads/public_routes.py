"""The public lead form: hosted page (on its own or framed by an allowed site), submission, and the view pixel.

No login and no CSRF token: its own defences are the proofs every path to a lead carries
(a signed page token holding the form's first view, its one-use nonce, an empty honeypot),
a per-address rate limit, small bodies, and the per-form allow-list of sites that may frame
it. A post without the proofs is stored held for review (the sender sees the usual thanks).
"""

import base64
import hashlib
import hmac
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, g, redirect, render_template, request
from sqlalchemy import bindparam, select
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import Invalid
from app.extensions import csrf, db, limiter
from app.headers import CSP
from app.leads import lead_forms
from app.models import utcnow
from app.models.leads import LeadForm
from app.readonly import use_autocommit
from app.text import is_text

bp = Blueprint("forms", __name__)
csrf.exempt(bp)
HONEYPOT = "website"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BODY = 256 * 1024  # a form's answers are a few KB; the rest of the app keeps MAX_CONTENT_LENGTH
QUICK = "That was quick! Check your details and send again."
NOT_TEXT = ("Some of what was sent is not text we can keep (a NUL or a broken character). Nothing was saved: "
            "check your details and send again.")
TOKEN_PROBLEMS = {"missing": "It came without the form's page token",
                  "expired": "Its page had been open for more than a day",
                  "invalid": "Its page token is not one this form gave out"}


# Built once: the public form is the busiest URL (every submission and view reads it), and a
# Query built per request cost more than the lookup itself.
_ACTIVE_FORM = select(LeadForm).where(LeadForm.key == bindparam("key"), LeadForm.active.is_(True)).limit(1)


def _active_form(form_key: str) -> LeadForm | None:
    if not form_key.isascii() or len(form_key) > 32:
        return None
    return db.session.execute(_ACTIVE_FORM, {"key": form_key}).scalar()


def _form_or_404(form_key: str) -> LeadForm:
    form = _active_form(form_key)
    if form is None:
        abort(404)
    g.lead_form = form  # its answers carry the form's CSP (who may frame it, where it redirects)
    return form


def _visitor() -> str:
    """A keyed hash of the address and the day: counts visitors without storing who they are.

    The browser is not part of it: a client that changes its User-Agent is still one visitor.
    """
    raw = f"{request.remote_addr}|{utcnow().date()}"
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


def _embedded() -> bool:
    """The page is inside an allowed site's frame (the embed snippet's ?embed=1)."""
    return request.args.get("embed") == "1"


def _text(value) -> str:
    return value if isinstance(value, str) and is_text(value) else ""


def _readable() -> bool:
    """The post is text: no NUL or broken character outside the answers (those get errors beside them),
    and a body that is not form-encoded UTF-8 (Werkzeug drops every field of it) does not pass as empty."""
    if request.content_length and not request.form:
        return False
    return all(is_text(k) and is_text(v) for k, v in request.form.items(multi=True) if not k.startswith("f_"))


def _kept_values() -> dict:
    """What the person typed and ticked, for the page sent back after an error."""
    return {k: v for k, v in request.form.items() if k.startswith("f_") or k == "consent"}


def _render(form, status=200, token=None, errors=None, values=None, notice=""):
    """The hosted page; after an error it keeps the first view's time and nonce (`token`) and every answer."""
    secret = current_app.config["SECRET_KEY"]
    page_token = (lead_forms.issue_token(secret, form, token.nonce, token.first_view_ms) if token
                  else lead_forms.issue_token(secret, form))
    args = request.args if request.method == "GET" else request.form
    referrer = (_text(args.get("ref")) or _text(request.headers.get("Referer", "")) if request.method == "GET"
                else _text(args.get("ref")))
    html = render_template(
        "leads/public_form.html", form=form, inputs=lead_forms.form_inputs(form), token=page_token,
        utm=lead_forms.clean_utm_params(args), referrer=referrer[:500], errors=errors or {}, values=values or {},
        notice=notice, embedded=_embedded(),
    )
    return html, status


def _csp(form) -> str:
    """The app's CSP, opened for this form: its allowed sites may frame it, and its redirect is a form action."""

    policy = CSP
    if form.redirect_url:  # Chrome applies form-action to the redirect after the post too
        parsed = urlparse(form.redirect_url)
        policy = policy.replace("form-action 'self'", f"form-action 'self' {parsed.scheme}://{parsed.netloc}")
    origins = " ".join(o for o in (form.allowed_origins or "").splitlines() if o)
    if origins:
        policy = policy.replace("frame-ancestors 'none'", f"frame-ancestors {origins}")
    return policy


def _limit() -> str:
    return current_app.config["LEAD_FORM_RATE_LIMIT"]


def _view_limit() -> str:
    return current_app.config["LEAD_FORM_VIEW_LIMIT"]


@bp.before_request
def _small_bodies():
    """Refuse a big body before reading it; a body without a length is cut off at the limit while read."""
    request.max_content_length = MAX_BODY
    if (request.content_length or 0) > MAX_BODY:
        raise RequestEntityTooLarge()


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error):
    form = g.lead_form = _active_form((request.view_args or {}).get("form_key", ""))
    return render_template("leads/public_too_large.html", form=form, limit_kb=MAX_BODY // 1024,
                           embedded=_embedded()), 413


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
    """Count a view of a form embedded by an older snippet (a 1x1 image beside a copy of the form)."""
    form = _form_or_404(form_key)
    lead_forms.count_view(form, _visitor(), utcnow().date())
    return PIXEL, 200, {"Content-Type": "image/gif", "Cache-Control": "no-store"}


@bp.after_request
def _public_headers(response):
    """The form's CSP; and no X-RateLimit-* headers: reading the window costs two Redis round trips per
    submission, and no browser reads them. A 429 keeps them and its Retry-After."""
    if response.status_code != 429:
        limiter.context.view_rate_limit = None
    form = g.get("lead_form")
    if form is not None:
        response.headers["Content-Security-Policy"] = _csp(form)
    return response


def _thanks(form):
    if form.redirect_url and not _embedded():
        return redirect(form.redirect_url, 303)
    return render_template("leads/public_thanks.html", form=form, embedded=_embedded())


def _held_reason(token_problem: str, origin: str) -> str:
    """Why a post lacks its proofs ("" when it has them), in words for the person reviewing it."""
    if request.form.get(HONEYPOT):
        return "The hidden anti-spam field was filled in (bots do that, and so does some autofill)."
    if not token_problem:
        return ""
    if origin and token_problem == "missing":
        return f"It was posted from {origin} without the form's page token, as embed snippets before frames did."
    return TOKEN_PROBLEMS[token_problem] + (f" (posted from {origin})." if origin else ".")


@bp.post("/<form_key>")
@limiter.limit(_limit)
def submit(form_key):
    """Take a submission from the hosted page (on its own or in an allowed site's frame)."""
    # One self-contained INSERT, durable when it returns: a BEGIN and a COMMIT buy nothing.
    use_autocommit()
    form = _form_or_404(form_key)
    origin = _origin()
    if origin == _own_origin():
        origin = ""  # the hosted page, on its own or in a frame
    elif origin and not lead_forms.origin_allowed(form, origin):
        return render_template("leads/public_refused.html", form=form, origin=origin), 403
    if not _readable():
        return _render(form, 400, values=_kept_values(), notice=NOT_TEXT)
    token, problem = lead_forms.read_token(current_app.config["SECRET_KEY"], form, request.form.get("_t", ""))
    if token is not None and token.age < current_app.config["LEAD_FORM_MIN_SECONDS"]:
        return _render(form, 400, token=token, values=_kept_values(), notice=QUICK)
    try:
        lead_forms.submit(form, request.form.to_dict(), nonce=token.nonce if token else "",
                          utm=lead_forms.clean_utm_params(request.form),
                          referrer=request.form.get("ref", "")[:500] or origin,
                          held=_held_reason(problem, origin))
    except Invalid as exc:
        return _render(form, 422, token=token, errors=exc.fields, values=_kept_values(), notice=exc.message)
    return _thanks(form)
