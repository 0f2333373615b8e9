"""Sweeps running at the same time never post one event twice, and each subscription's events still
arrive in order."""

import threading

from app.extensions import db
from app.models import WebhookDelivery
from app.webhooks.delivery import send_due
from app.webhooks.events import emit


def test_three_sweeps_at_once_deliver_each_event_once_in_order(app, org, receiver, subscribe):
    first, second = subscribe().id, subscribe(url=receiver.url + "?second").id
    for i in range(150):
        emit(org.id, "deal.created", {"n": i})
    db.session.commit()
    db.session.remove()
    errors = []

    def sweep():
        try:
            with app.app_context():
                while send_due(limit=40).get("delivered"):
                    pass
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with app.app_context():
        assert {r.status for r in WebhookDelivery.query} == {"delivered"}
    per_delivery: dict = {}
    for got in receiver.received:
        key = got["headers"]["Stagegate-Delivery"]
        per_delivery[key] = per_delivery.get(key, 0) + 1
    assert len(receiver.received) == 300 and max(per_delivery.values()) == 1
    by_hook = {first: [], second: []}
    with app.app_context():
        hook_of = dict(db.session.query(WebhookDelivery.id, WebhookDelivery.webhook_id))
    for got in receiver.received:
        by_hook[hook_of[int(got["headers"]["Stagegate-Delivery"])]].append(got["event"]["data"]["n"])
    assert by_hook[first] == list(range(150)) and by_hook[second] == list(range(150))
