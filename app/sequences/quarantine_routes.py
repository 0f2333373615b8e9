"""Quarantined mail: inbound messages that could not be handled, kept with why; admins retry or drop each."""

from flask import flash, redirect, render_template, url_for

from app.models import Mailbox, QuarantinedEmail
from app.sequences import bp, quarantine
from app.tenancy import current_actor, get_or_404, role_required, scoped

OUTCOMES = {"reply": "a reply: its sequence stopped", "auto_reply": "an auto-reply",
            "bounce": "a bounce: the address will not be emailed again", "unsubscribe": "an unsubscribe request",
            "unmatched": "it matched no sequence"}


@bp.get("/quarantine")
@role_required("admin")
def quarantined():
    """Inbound messages that could not be handled, with why; retry or drop each."""
    actor = current_actor()
    return render_template("sequences/quarantine.html", rows=quarantine.held(actor.org_id),
                           mailboxes={m.id: m for m in scoped(Mailbox)})


@bp.post("/quarantine/<int:quarantine_id>/retry")
@role_required("admin")
def retry_quarantined(quarantine_id):
    """Handle a quarantined message again (after the cause was fixed)."""
    row = get_or_404(QuarantinedEmail, quarantine_id)
    sender = row.sender or "an unknown sender"
    handled, detail = quarantine.retry(row)
    if handled:
        flash(f"Handled the message from {sender}: {OUTCOMES.get(detail, detail)}.", "success")
    else:
        flash(f"The message from {sender} still could not be handled. {detail}", "error")
    return redirect(url_for("sequences.quarantined"))


@bp.post("/quarantine/<int:quarantine_id>/drop")
@role_required("admin")
def drop_quarantined(quarantine_id):
    """Let a quarantined message go without handling it."""
    row = get_or_404(QuarantinedEmail, quarantine_id)
    quarantine.drop(row)
    flash(f"Dropped the message from {row.sender or 'an unknown sender'}; it was not handled.", "success")
    return redirect(url_for("sequences.quarantined"))
