"""Settings → Webhooks (admins): subscribe a URL (the secret is shown once), the delivery log, redeliver."""

from flask import flash, redirect, render_template, request, url_for

from app.errors import Forbidden, Invalid
from app.models import Webhook, WebhookDelivery
from app.models.webhooks import EVENT_TYPES
from app.tenancy import current_actor, get_or_404, role_required
from app.webhooks import bp, service


def _page(errors=None, status=200, secret=None, new_hook=None):
    actor = current_actor()
    form = request.form if errors else {}
    return render_template("webhooks/index.html", hooks=service.webhooks(actor.org_id), event_types=EVENT_TYPES,
                           errors=errors or {}, form=form, chosen=form.getlist("events") if form else [],
                           secret=secret, new_hook=new_hook), status, {"Cache-Control": "no-store"}


@bp.get("")
@role_required("admin")
def index():
    """List the organisation's webhooks and the form to add one."""
    return _page()


@bp.post("")
@role_required("admin")
def create():
    """Add a webhook; its signing secret is shown on this response only."""
    try:
        hook, secret = service.create_webhook(current_actor(), request.form.get("url", ""),
                                              request.form.getlist("events"))
    except Invalid as exc:
        return _page(exc.fields, 422)
    return _page(status=201, secret=secret, new_hook=hook)


@bp.get("/<int:webhook_id>")
@role_required("admin")
def show(webhook_id):
    """The webhook's delivery log, newest first."""
    hook = get_or_404(Webhook, webhook_id)
    return render_template("webhooks/show.html", hook=hook, deliveries=service.deliveries(hook))


@bp.post("/<int:webhook_id>/delete")
@role_required("admin")
def delete(webhook_id):
    """Delete a webhook and its log."""
    hook = get_or_404(Webhook, webhook_id)
    url = hook.url
    service.delete_webhook(hook, current_actor())
    flash(f"Webhook to {url} deleted.", "success")
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/<int:webhook_id>/enable")
@role_required("admin")
def enable(webhook_id):
    """Turn a disabled webhook back on; what it had not delivered goes out in order."""
    service.enable_webhook(get_or_404(Webhook, webhook_id), current_actor())
    flash("Webhook enabled again.", "success")
    return redirect(url_for("webhooks.show", webhook_id=webhook_id), 303)


@bp.post("/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@role_required("admin")
def redeliver(webhook_id, delivery_id):
    """Send one delivery's event again (same event id)."""
    hook = get_or_404(Webhook, webhook_id)
    delivery = get_or_404(WebhookDelivery, delivery_id)
    try:
        service.redeliver(hook, delivery, current_actor())
    except (Invalid, Forbidden):
        return redirect(url_for("webhooks.show", webhook_id=webhook_id), 303)
    flash("Queued again; it goes out after what this webhook has waiting.", "success")
    return redirect(url_for("webhooks.show", webhook_id=webhook_id), 303)
