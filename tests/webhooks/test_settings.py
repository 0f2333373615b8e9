"""Settings → Webhooks over HTTP: admins only, the secret shown once, the delivery log with Redeliver."""

from app.extensions import db
from app.models import Webhook
from app.webhooks.events import emit


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(client, login_as, receiver):
    login_as("admin")
    page = client.post("/settings/webhooks", data={"url": receiver.url, "events": ["deal.created", "task.done"]})
    assert page.status_code == 201
    html = page.get_data(as_text=True)
    assert "Copy the signing secret now" in html and "whsec_" in html
    assert page.headers["Cache-Control"] == "no-store"
    again = client.get("/settings/webhooks").get_data(as_text=True)
    assert receiver.url in again and "whsec_" not in again
    hook = Webhook.query.one()
    assert hook.event_list == ["deal.created", "task.done"]


def test_a_bad_url_is_shown_next_to_the_field_keeping_the_choices(client, login_as):
    login_as("admin")
    page = client.post("/settings/webhooks", data={"url": "https://no-such-host.invalid/x", "events": ["deal.won"]})
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert 'id="webhook-url-error"' in html and "could not be found" in html
    assert 'value="deal.won" checked' in html
    assert Webhook.query.count() == 0


def test_non_admins_get_403(client, login_as):
    for role in ("manager", "rep"):
        login_as(role)
        assert client.get("/settings/webhooks").status_code == 403
        assert client.post("/settings/webhooks", data={"url": "https://x.example", "events": ["deal.won"]}
                           ).status_code == 403


def test_the_log_lists_deliveries_and_redeliver_queues_one_again(client, login_as, org, subscribe, receiver, deliver):
    login_as("admin")
    hook = subscribe()
    receiver.script = [400]
    emit(org.id, "deal.created", {"n": 1})
    db.session.commit()
    deliver()
    page = client.get(f"/settings/webhooks/{hook.id}").get_data(as_text=True)
    assert "failed" in page and "400" in page and "Redeliver" in page
    from app.models import WebhookDelivery

    first = WebhookDelivery.query.one()
    response = client.post(f"/settings/webhooks/{hook.id}/deliveries/{first.id}/redeliver")
    assert response.status_code == 303
    assert WebhookDelivery.query.count() == 2
    deliver()
    assert len(receiver.received) == 2 and receiver.received[1]["event"]["id"] == first.event_id


def test_a_disabled_webhook_can_be_enabled_again(client, login_as, subscribe):
    login_as("admin")
    hook = subscribe()
    hook.active, hook.disabled_reason = False, "Disabled: it has failed for a day"
    db.session.commit()
    assert "Enable again" in client.get(f"/settings/webhooks/{hook.id}").get_data(as_text=True)
    assert client.post(f"/settings/webhooks/{hook.id}/enable").status_code == 303
    db.session.expire_all()
    assert db.session.get(Webhook, hook.id).active
