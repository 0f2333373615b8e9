"""Email sending: the relay, public address and footer (admins), the test message, reply inboxes, the outbox."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import login_required

from app.errors import Forbidden, Invalid
from app.extensions import limiter
from app.htmx import is_htmx
from app.models import Mailbox, User
from app.sequences import bp, imap, mail_settings, outbox, quarantine, relay_check
from app.tenancy import current_actor, get_or_404, role_required, scoped
from app.text import page_number


def _settings_page(errors=None, section="", answer=None, status=200):
    actor = current_actor()
    errors = errors or {}
    return render_template(
        "sequences/settings.html", sending=mail_settings.sending_config(actor.org_id), errors=errors, section=section,
        values=request.form if section == "sending" else mail_settings.form_values(actor.org_id),
        mailbox_form=request.form if section == "mailbox" else {}, answer=answer,
        test_to=request.form.get("test_to", "") if section == "test" else actor.email,
        mailboxes=scoped(Mailbox).order_by(Mailbox.id).all(),
        users=scoped(User).filter_by(active=True).order_by(User.name).all(),
        quarantined=quarantine.held_count(actor.org_id)), status


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings():
    """Set the relay, the public address, the footer's postal address and the inboxes polled for replies."""
    if request.method == "GET":
        return _settings_page()
    section = "mailbox" if request.form.get("form") == "mailbox" else "sending"
    try:
        if section == "mailbox":
            imap.save_mailbox(current_actor(), request.form)
            flash("Inbox saved: it is checked for replies every 2 minutes.", "success")
        else:
            config = mail_settings.sending_config(
                mail_settings.save_sending_settings(current_actor(), request.form).org_id)
            flash("Saved. " + (config.where if config.ready else "Real sending stays off until the items listed "
                               "at the top are set."), "success" if config.ready else "warning")
    except (Invalid, Forbidden) as exc:
        return _settings_page(getattr(exc, "fields", {}) or {"form": exc.message}, section, status=422)
    return redirect(url_for("sequences.settings"), 303)


def _test_limit() -> str:
    return current_app.config["MAIL_TEST_RATE_LIMIT"]


@bp.post("/settings/test-message")
@role_required("admin")
def test_message():
    """Send a test message through the relay now and show the relay's own answer."""
    actor = current_actor()
    try:
        recipient = relay_check.recipient_for_test(actor, request.form.get("test_to"))
        with limiter.limit(_test_limit, key_func=lambda: f"org:{actor.org_id}", scope="mail-test"):
            answer = relay_check.send_test_message(actor, recipient)
        status = 200
    except Invalid as exc:
        answer, status = relay_check.RelayAnswer(False, exc.fields["test_to"]), 422
    except RateLimitExceeded:
        answer = relay_check.RelayAnswer(False, f"No test message was sent: an organisation may send "
                                                  f"{_test_limit()}. Try again later.")
        status = 429
    if is_htmx():
        return render_template("sequences/_test_result.html", answer=answer, test_to=request.form.get("test_to", "")), \
            (200 if status == 429 else status)
    return _settings_page(section="test", answer=answer, status=status)


@bp.post("/mailboxes/<int:mailbox_id>/delete")
@role_required("admin")
def delete_mailbox(mailbox_id):
    """Stop polling an inbox and forget its password."""
    mailbox = get_or_404(Mailbox, mailbox_id)
    username = mailbox.username
    imap.delete_mailbox(mailbox)
    flash(f"Removed the inbox {username}; it is no longer checked.", "success")
    return redirect(url_for("sequences.settings"))


@bp.get("/outbox")
@login_required
def outbox_list():
    """The latest sequence emails with their state and the relay's answer (a rep sees their own)."""
    actor = current_actor()
    state = request.args.get("state", "")
    state = state if state in outbox.states() else ""
    page = page_number(request.args.get("page"))
    rows, has_more = outbox.outbox_page(actor, state, page)
    return render_template("sequences/outbox.html", rows=rows, has_more=has_more, page=max(1, min(page, outbox.MAX_PAGES)),
                           state=state, states=outbox.states(), sending=mail_settings.sending_config(actor.org_id))
