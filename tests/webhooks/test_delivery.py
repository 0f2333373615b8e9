"""Delivery you can trust, against a real HTTP endpoint: signed, same id on every try, retried only when
it may help, in order per subscription, disabled after a day of failures."""

import json
import time
from datetime import timedelta

from app.extensions import db
from app.models import Notification, Webhook, WebhookDelivery, utcnow
from app.webhooks.delivery import STALE_CLAIM
from app.webhooks.events import emit
from tests import factories


def _emit(org, n=1, event_type="deal.created"):
    for i in range(n):
        emit(org.id, event_type, {"n": i})
    db.session.commit()


def _rows(hook) -> list:
    db.session.expire_all()
    return WebhookDelivery.query.filter_by(webhook_id=hook.id).order_by(WebhookDelivery.id).all()


def test_a_delivery_is_signed_json_with_the_documented_shape(org, receiver, subscribe, deliver):
    subscribe()
    _emit(org)
    assert deliver()["delivered"] == 1
    (got,) = receiver.received
    assert got["verified"]
    event = got["event"]
    assert set(event) == {"id", "type", "created_at", "data"}
    assert event["type"] == "deal.created" and event["data"] == {"n": 0} and event["id"].startswith("evt_")
    assert got["headers"]["Content-Type"] == "application/json"
    assert abs(int(got["headers"]["Stagegate-Timestamp"]) - time.time()) < 60


def test_two_500s_then_200_is_delivered_once_with_the_same_id_on_every_try(org, receiver, subscribe, deliver):
    hook = subscribe()
    receiver.script = [500, 500, 200]
    _emit(org)
    assert deliver()["retrying"] == 1
    (row,) = _rows(hook)
    assert row.status == "retrying" and row.response_code == 500 and row.attempts == 1
    deliver()  # not due yet: nothing is sent
    assert len(receiver.received) == 1
    deliver(timedelta(minutes=1))
    deliver(timedelta(minutes=5))
    (row,) = _rows(hook)
    assert row.status == "delivered" and row.attempts == 3 and row.response_code == 200
    assert row.response_body == "ok"
    assert [r["action"] for r in receiver.received] == [500, 500, 200]
    assert len({r["event"]["id"] for r in receiver.received}) == 1
    assert all(r["verified"] for r in receiver.received)


def test_a_dropped_connection_is_retried(org, receiver, subscribe, deliver):
    hook = subscribe()
    receiver.script = ["drop"]
    _emit(org)
    deliver()
    (row,) = _rows(hook)
    assert row.status == "retrying" and row.response_code is None and "connection" in row.error
    deliver(timedelta(minutes=1))
    assert _rows(hook)[0].status == "delivered"


def test_an_endpoint_that_stalls_past_the_timeout_is_retried(org, receiver, subscribe, deliver, short_timeout):
    hook = subscribe()
    receiver.script = [("stall", 2)]
    _emit(org)
    started = time.monotonic()
    deliver()
    assert time.monotonic() - started < 1.8
    (row,) = _rows(hook)
    assert row.status == "retrying" and "no answer within 0.5 s" in row.error


def test_a_redirect_is_not_followed_and_not_retried(org, receiver, subscribe, deliver):
    hook = subscribe()
    receiver.script = ["redirect"]
    _emit(org, 2)
    deliver()
    first, second = _rows(hook)
    assert first.status == "failed" and first.response_code == 302 and first.error == "redirect not followed"
    assert second.status == "delivered"  # a failed delivery does not hold up the next one
    assert len(receiver.received) == 2


def test_410_and_400_fail_at_once(org, receiver, subscribe, deliver):
    hook = subscribe()
    receiver.script = [410, 400]
    _emit(org, 2)
    deliver()
    deliver(timedelta(hours=3))
    rows = _rows(hook)
    assert [(r.status, r.response_code, r.attempts) for r in rows] == [("failed", 410, 1), ("failed", 400, 1)]
    assert len(receiver.received) == 2


def test_429_waits_as_long_as_retry_after_says(org, receiver, subscribe, deliver):
    hook = subscribe()
    receiver.script = [("status", 429, {"Retry-After": "120"}, b"slow down")]
    _emit(org)
    before = utcnow()
    deliver()
    (row,) = _rows(hook)
    assert row.status == "retrying" and row.response_body == "slow down"
    assert timedelta(seconds=115) <= row.next_attempt_at - before <= timedelta(seconds=125)
    deliver(timedelta(seconds=60))
    assert len(receiver.received) == 1
    deliver(timedelta(seconds=130))
    assert _rows(hook)[0].status == "delivered"


def test_a_retrying_event_holds_back_the_later_ones_of_its_subscription(org, receiver, subscribe, deliver):
    hook = subscribe()
    receiver.script = [503]
    _emit(org, 3)
    deliver()
    assert [r.status for r in _rows(hook)] == ["retrying", "pending", "pending"]
    deliver(timedelta(minutes=1))
    assert [r.status for r in _rows(hook)] == ["delivered"] * 3
    assert [e["data"]["n"] for e in receiver.events()] == [0, 0, 1, 2]


def test_a_thousand_events_arrive_in_order(org, receiver, subscribe, deliver):
    hook = subscribe()
    _emit(org, 1000)
    started = time.monotonic()
    counts = deliver()
    assert counts["delivered"] == 1000, counts
    assert time.monotonic() - started < 60
    assert [e["data"]["n"] for e in receiver.events()] == list(range(1000))
    assert all(r["verified"] for r in receiver.received)
    assert {r.status for r in _rows(hook)} == {"delivered"}


def test_only_subscribed_events_of_the_same_organisation_are_queued(org, receiver, subscribe, deliver):
    subscribe(events=["deal.won"])
    other = factories.make_org(templates=["article"])
    _emit(org, 1, "deal.created")
    _emit(other, 1, "deal.won")
    assert WebhookDelivery.query.count() == 0
    _emit(org, 1, "deal.won")
    assert WebhookDelivery.query.count() == 1


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_admins_told(org, receiver, subscribe, deliver):
    hook = subscribe()
    admin = factories.user(org, "admin")
    receiver.script = [500] * 50
    _emit(org, 2)
    deliver()
    deliver(timedelta(hours=12))
    assert db.session.get(Webhook, hook.id).active
    deliver(timedelta(hours=25))
    db.session.expire_all()
    hook = db.session.get(Webhook, hook.id)
    assert not hook.active and "failed for a day" in hook.disabled_reason
    assert [r.status for r in _rows(hook)] == ["failed", "pending"]
    told = Notification.query.filter_by(org_id=org.id, kind="webhook").all()
    assert admin.id in {n.user_id for n in told} and all("disabled" in n.text for n in told)
    sent = len(receiver.received)
    deliver(timedelta(hours=30))
    assert len(receiver.received) == sent  # disabled: nothing more goes out


def test_a_delivery_cut_off_by_a_dead_worker_is_sent_again_with_its_id(org, receiver, subscribe, deliver):
    hook = subscribe()
    _emit(org)
    row = _rows(hook)[0]
    row.status, row.claimed_at, row.attempts, row.next_attempt_at = "sending", utcnow(), 1, None
    db.session.commit()
    deliver()
    assert not receiver.received  # another worker may still be on it
    deliver(STALE_CLAIM + timedelta(seconds=1))
    (row,) = _rows(hook)
    assert row.status == "delivered" and row.attempts == 2
    assert receiver.events()[0]["id"] == row.event_id


def test_a_claimed_row_is_taken_by_one_sweep_only(org, receiver, subscribe):
    from app.webhooks.delivery import _claim

    hook = subscribe()
    _emit(org)
    row_id = _rows(hook)[0].id
    now = utcnow()
    assert _claim(row_id, now) is not None
    assert _claim(row_id, now) is None


def test_the_body_is_the_one_written_with_the_change(org, receiver, subscribe, deliver):
    hook = subscribe()
    _emit(org)
    (row,) = _rows(hook)
    deliver()
    assert json.loads(row.body) == receiver.events()[0]
