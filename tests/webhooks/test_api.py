"""POST/GET/DELETE /api/v1/webhooks, the delivery log and redeliver: admins' keys, tenant-scoped, URLs checked."""

from datetime import timedelta

from app.extensions import db
from app.models import Webhook, WebhookDelivery
from app.webhooks.events import emit
from tests import factories


def _create(client, headers, url, events=("deal.created",)):
    return client.post("/api/v1/webhooks", headers=headers, json={"url": url, "events": list(events)})


def test_create_answers_201_with_the_secret_once_and_lists_without_it(client, key_for, receiver):
    admin = key_for("admin")
    made = _create(client, admin, receiver.url, ["deal.created", "deal.moved"])
    assert made.status_code == 201, made.json
    assert set(made.json) >= {"id", "url", "events", "secret"} and made.json["secret"].startswith("whsec_")
    assert made.json["events"] == ["deal.created", "deal.moved"]
    listed = client.get("/api/v1/webhooks", headers=admin).json["items"]
    assert [h["id"] for h in listed] == [made.json["id"]] and "secret" not in listed[0]
    stored = db.session.get(Webhook, made.json["id"])
    assert made.json["secret"] not in stored.secret  # stored encrypted


def test_reps_and_managers_keys_get_403(client, key_for, receiver):
    for role in ("rep", "manager"):
        headers = key_for(role)
        assert _create(client, headers, receiver.url).status_code == 403
        assert client.get("/api/v1/webhooks", headers=headers).status_code == 403


def test_bad_urls_and_events_are_422_naming_them(client, key_for):
    admin = key_for("admin")
    bad = client.post("/api/v1/webhooks", headers=admin, json={"url": "ftp://x.example", "events": ["deal.eaten"]})
    assert bad.status_code == 422 and set(bad.json["fields"]) == {"url", "events"}
    assert _create(client, admin, "https://no-such-host.invalid/hook").json["fields"]["url"]
    assert client.post("/api/v1/webhooks", headers=admin, json={"url": "https://a.example", "events": [],
                                                                 "x": 1}).status_code == 422


def test_private_and_loopback_urls_are_refused_without_allow_internal_hosts(app, client, key_for):
    admin = key_for("admin")
    app.config["ALLOW_INTERNAL_HOSTS"] = False
    try:
        for url in ("https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest",
                    "https://localhost:8443/x", "https://[::1]/hook", "http://93.184.215.14/plain-http"):
            response = _create(client, admin, url)
            assert response.status_code == 422 and list(response.json["fields"]) == ["url"], (url, response.json)
        assert Webhook.query.count() == 0
    finally:
        app.config["ALLOW_INTERNAL_HOSTS"] = True


def test_a_url_that_turned_private_is_refused_at_delivery(app, org, receiver, subscribe, deliver):
    hook = subscribe()
    emit(org.id, "deal.created", {"n": 1})
    db.session.commit()
    app.config["ALLOW_INTERNAL_HOSTS"] = False
    try:
        deliver()
    finally:
        app.config["ALLOW_INTERNAL_HOSTS"] = True
    row = WebhookDelivery.query.filter_by(webhook_id=hook.id).one()
    assert row.status == "failed" and not receiver.received


def test_deliveries_and_redeliver_keep_the_event_id(client, key_for, org, receiver, deliver):
    admin = key_for("admin")
    made = _create(client, admin, receiver.url).json
    receiver.secret = made["secret"]
    receiver.script = [410]
    emit(org.id, "deal.created", {"n": 1})
    db.session.commit()
    deliver()
    log = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=admin).json["items"]
    assert [(d["status"], d["response_code"]) for d in log] == [("failed", 410)]
    again = client.post(f"/api/v1/webhooks/{made['id']}/deliveries/{log[0]['id']}/redeliver", headers=admin)
    assert again.status_code == 201 and again.json["status"] == "pending"
    assert again.json["event_id"] == log[0]["event_id"] and again.json["redelivery_of"] == log[0]["id"]
    deliver(timedelta(seconds=1))
    assert [r["event"]["id"] for r in receiver.received] == [log[0]["event_id"]] * 2
    assert all(r["verified"] for r in receiver.received)


def test_another_organisations_webhook_is_a_404(client, key_for, receiver):
    other = factories.make_org(name="Elsewhere", templates=["article"])
    theirs = _create(client, key_for("admin", in_org=other), receiver.url).json
    delivery = WebhookDelivery(org_id=other.id, webhook_id=theirs["id"], event_id="evt_x", event_type="deal.created",
                               body="{}", status="delivered")
    db.session.add(delivery)
    db.session.commit()
    mine = key_for("admin")
    hook_id = theirs["id"]
    assert client.delete(f"/api/v1/webhooks/{hook_id}", headers=mine).status_code == 404
    assert client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=mine).status_code == 404
    assert client.post(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery.id}/redeliver",
                       headers=mine).status_code == 404
    assert client.get("/api/v1/webhooks", headers=mine).json["items"] == []
    own = _create(client, mine, receiver.url).json  # my webhook, their delivery: 404 too
    assert client.post(f"/api/v1/webhooks/{own['id']}/deliveries/{delivery.id}/redeliver",
                       headers=mine).status_code == 404


def test_delete_removes_the_webhook_and_its_log(client, key_for, org, receiver):
    admin = key_for("admin")
    made = _create(client, admin, receiver.url).json
    emit(org.id, "deal.created", {"n": 1})
    db.session.commit()
    gone = client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin)
    assert gone.status_code == 200 and gone.json == {"id": made["id"], "deleted": True}
    assert Webhook.query.count() == 0 and WebhookDelivery.query.count() == 0
