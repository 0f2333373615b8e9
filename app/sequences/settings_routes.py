"""Sending settings: the postal address in every footer, and the IMAP inboxes polled for replies."""

from flask import flash, redirect, render_template, request, url_for

from app.deals.service import Forbidden, Invalid
from app.extensions import db
from app.models import Mailbox, User
from app.sequences import bp, imap, service
from app.tenancy import current_actor, get_or_404, role_required, scoped


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
                           form=request.form), (422 if errors else 200)


@bp.post("/mailboxes/<int:mailbox_id>/delete")
@role_required("admin")
def delete_mailbox(mailbox_id):
    """Stop polling an inbox and forget its password."""
    mailbox = get_or_404(Mailbox, mailbox_id)
    db.session.delete(mailbox)
    db.session.commit()
    flash(f"Removed the inbox {mailbox.username}; it is no longer checked.", "success")
    return redirect(url_for("sequences.settings"))
