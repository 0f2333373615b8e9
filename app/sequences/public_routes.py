"""One-click unsubscribe (RFC 8058): no login, a POST ends every enrollment of the address."""

from flask import current_app, render_template, request

from app.extensions import csrf, limiter
from app.sequences import public_bp
from app.sequences.sending import read_unsubscribe_token
from app.sequences.service import unsubscribe


def _limit() -> str:
    return current_app.config.get("UNSUBSCRIBE_RATE_LIMIT", "30 per minute")


@public_bp.get("/u/<token>")
@limiter.limit(_limit)
def confirm(token):
    """Show the one-button unsubscribe page (a GET never unsubscribes: link scanners follow GETs)."""
    parsed = read_unsubscribe_token(token[:500])
    if parsed is None:
        return render_template("sequences/unsubscribe.html", state="invalid"), 404
    return render_template("sequences/unsubscribe.html", state="confirm", email=parsed[1], token=token)


@public_bp.post("/u/<token>")
@csrf.exempt
@limiter.limit(_limit)
def one_click(token):
    """Unsubscribe the address: suppress it and end its enrollments (mail clients POST here)."""
    parsed = read_unsubscribe_token(token[:500])
    if parsed is None:
        return render_template("sequences/unsubscribe.html", state="invalid"), 404
    org_id, email = parsed
    unsubscribe(org_id, email)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 200
    return render_template("sequences/unsubscribe.html", state="done", email=email)
