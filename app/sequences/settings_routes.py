"""Sending settings: the postal address in every footer, the IMAP inboxes polled for replies, quarantined mail."""

from flask import flash, redirect, render_template, request, url_for

from app.deals.service import Forbidden, Invalid
from app.models import Mailbox, QuarantinedEmail, User
from app.sequences import bp, imap, quarantine, service
from app.tenancy import current_actor, get_or_404, role_required, scoped

OUTCOMES = {"reply": "a reply: its sequence stopped", "auto_reply": "an auto-reply",
            "bounce": "a bounce: the address will not be emailed again", "unsubscribe": "an unsubscribe request",
            "unmatched": "it matched no sequence"}


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings():
    """Edit the postal address and the inboxes polled for replies."""
    actor = current_actor()
    errors = {}
    if request.method == "POST":
        try:
            if request.form.get("form") == "mailbox":
                imap.save_mailbox(actor, request.form)
                flash("Inbox saved: it is checked for replies every 2 minutes.", "success")
            else:
                service.save_postal_address(actor, request.form.get("postal_address", ""))
                flash("Postal address saved: it goes in the footer of every sequence email.", "success")
            return redirect(url_for("sequences.settings"))
        except (Invalid, Forbidden) as exc:
            errors = getattr(exc, "fields", {}) or {"form": exc.message}
    return render_template("sequences/settings.html", outreach=service.outreach_settings(actor.org_id),
                           mailboxes=scoped(Mailbox).order_by(Mailbox.id).all(), errors=errors,
                           users=scoped(User).filter_by(active=True).order_by(User.name).all(),
                           quarantined=quarantine.held_count(actor.org_id), form=request.form), (422 if errors else 200)


@bp.post("/mailboxes/<int:mailbox_id>/delete")
@role_required("admin")
def delete_mailbox(mailbox_id):
    """Stop polling an inbox and forget its password."""
    mailbox = get_or_404(Mailbox, mailbox_id)
    username = mailbox.username
    imap.delete_mailbox(mailbox)
    flash(f"Removed the inbox {username}; it is no longer checked.", "success")
    return redirect(url_for("sequences.settings"))


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
