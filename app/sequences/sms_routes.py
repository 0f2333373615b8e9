"""Text messages: Settings → SMS (admins) and the provider's webhooks (inbound texts, delivery status)."""

from flask import current_app, flash, redirect, render_template, request, url_for

from app.errors import Forbidden, Invalid
from app.extensions import csrf, limiter
from app.sequences import bp, sms, sms_bp, sms_inbound
from app.tenancy import current_actor, role_required

WEBHOOK_MAX_BYTES = 64 * 1024  # a provider's callback is a few hundred bytes


def _settings_page(errors=None, status=200):
    actor = current_actor()
    row = sms.org_settings(actor.org_id)
    values = request.form if errors else {
        "provider": row.provider if row else "", "account_sid": row.account_sid if row else "",
        "from_number": row.from_number if row else ""}
    secret = sms.webhook_secret(actor.org_id)
    base = sms.public_base()
    return render_template(
        "sequences/sms_settings.html", values=values, errors=errors or {}, config=sms.sms_config(actor.org_id),
        token_saved=bool(row and row.auth_token_encrypted),
        inbound_url=f"{base}/sms/inbound/{secret}" if secret else "",
        status_url=f"{base}/sms/status/{secret}" if secret else ""), status


@bp.route("/settings/sms", methods=["GET", "POST"])
@role_required("admin")
def sms_settings():
    """Set the SMS provider account (the token is stored encrypted and never shown back) and show the webhook URLs."""
    if request.method == "GET":
        return _settings_page()
    try:
        sms.save_settings(current_actor(), request.form)
    except (Invalid, Forbidden) as exc:
        return _settings_page(getattr(exc, "fields", {}) or {"form": exc.message}, 422)
    flash("Saved. Paste the two webhook addresses below into your Twilio number's settings.", "success")
    return redirect(url_for("sequences.sms_settings"), 303)


def _limit() -> str:
    return current_app.config["SMS_WEBHOOK_RATE_LIMIT"]


def _call(handler, secret: str, **extra):
    """Read the provider's form (small bodies only) and hand it, with the URL it signed, to `handler`."""
    request.max_content_length = WEBHOOK_MAX_BYTES
    request.max_form_memory_size = WEBHOOK_MAX_BYTES
    orgs = sms.orgs_for_secret(secret)
    if orgs is None:
        return "", 404
    url = sms.public_base() + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    form = list(request.form.items(multi=True))
    try:
        answer = handler(orgs, url, form, request.headers.get("X-Twilio-Signature", ""), **extra)
    except sms_inbound.BadSignature:
        return "", 403
    return answer.twiml, 200, {"Content-Type": "text/xml; charset=utf-8"}


@sms_bp.post("/inbound/<secret>")
@csrf.exempt
@limiter.limit(_limit)
def inbound(secret):
    """An inbound text: a reply ends the sender's enrollments; STOP opts out, START opts in, HELP answers."""
    return _call(sms_inbound.handle_inbound, secret)


@sms_bp.post("/status/<secret>")
@csrf.exempt
@limiter.limit(_limit)
def status(secret):
    """A delivery report for a text a sequence sent."""
    return _call(sms_inbound.handle_status, secret, send_id=request.args.get("send", "")[:20])
