"""Each service writes its event's outbox row in the transaction of the change (and none when the change
is refused); `data` is the object as the API shows it."""

import json

import pytest

from app.deals.service import create_deal, move_deal, update_deal
from app.errors import GateRefused
from app.extensions import db
from app.models import Enrollment, LossReason, WebhookDelivery, utcnow
from app.webhooks.shapes import deal_json
from tests import factories


def _events(types=None) -> list:
    db.session.expire_all()
    rows = WebhookDelivery.query.order_by(WebhookDelivery.id).all()
    return [json.loads(r.body) for r in rows if types is None or r.event_type in types]


def test_deal_created_carries_the_deal_as_the_api_shows_it(org, subscribe, client, key_for):
    subscribe(["deal.created"])
    deal = factories.make_deal(org)
    (event,) = _events()
    assert event["type"] == "deal.created" and event["data"] == {"deal": deal_json(deal)}
    response = client.get(f"/api/v1/deals/{deal.id}", headers=key_for("admin"))
    assert event["data"]["deal"] == response.json


def test_a_refused_create_writes_no_event(org, subscribe):
    subscribe(["deal.created"])
    pipeline = factories.pipeline(org)
    with pytest.raises(GateRefused):
        create_deal(pipeline, factories.user(org, "admin"), title="Too soon", stage=pipeline.open_stages[2])
    db.session.rollback()
    assert _events() == []


def test_deal_moved_won_and_lost_say_what_the_transition_records(org, subscribe):
    subscribe(["deal.moved", "deal.won", "deal.lost", "deal.updated"])
    deal = factories.make_deal(org, "Closed Won")
    moved = _events(["deal.moved"])
    assert moved and all({"from_stage_id", "to_stage_id", "facts", "criteria", "deal"} <= set(e["data"])
                         for e in moved)
    last = moved[-1]["data"]
    assert last["to_stage_id"] == deal.stage_id and last["deal"]["status"] == "won"
    assert last["criteria"] and isinstance(last["criteria"], list)
    (won,) = _events(["deal.won"])
    assert won["data"]["deal"]["id"] == deal.id

    other = factories.make_deal(org, title="Beta")
    pipeline = factories.pipeline(org)
    reason = LossReason.query.filter_by(org_id=org.id).first()
    move_deal(other, pipeline.stage_by_kind("lost"), factories.user(org, "admin"), loss_reason_id=reason.id,
              reason="Their budget was cut")
    (lost,) = _events(["deal.lost"])
    assert lost["data"]["deal"]["status"] == "lost" and lost["data"]["reason"] == "Their budget was cut"

    update_deal(other, factories.user(org, "admin"), version=other.version, title="Beta renamed")
    (updated,) = _events(["deal.updated"])
    assert updated["data"]["deal"]["title"] == "Beta renamed"


def test_tasks_created_and_done(org, subscribe):
    from app.tasks.service import complete_task, create_task

    subscribe(["task.created", "task.done"])
    admin = factories.user(org, "admin")
    task = create_task(admin, title="Call Pat")
    complete_task(task, admin)
    created, done = _events()
    assert created["type"] == "task.created" and created["data"]["task"]["title"] == "Call Pat"
    assert done["type"] == "task.done" and done["data"]["task"]["done_at"] is not None
    assert created["id"] != done["id"]


def test_a_new_lead_and_its_status_change(org, subscribe):
    from app.contacts.service import save_contact
    from app.leads.service import create_or_update_lead

    subscribe(["lead.created", "lead.status_changed"])
    admin = factories.user(org, "admin")
    contact, created, _ = create_or_update_lead(admin, {"email": "new@lead.example", "name": "Nia Lead"})
    assert created
    create_or_update_lead(admin, {"email": "new@lead.example", "name": "Nia Lead"})  # known: no second event
    (event,) = _events(["lead.created"])
    assert event["data"]["contact"]["email"] == "new@lead.example" and "breakdown" in event["data"]["contact"]
    save_contact(admin, {"name": "Nia Lead", "email": "new@lead.example", "lead_status": "customer"}, contact)
    (changed,) = _events(["lead.status_changed"])
    assert changed["data"]["to"] == "customer" and changed["data"]["contact"]["status"] == "customer"


def test_unsubscribe_and_a_reply(org, subscribe):
    from app.sequences.service import end_enrollment, unsubscribe
    from tests.sequences.conftest import make_sequence

    subscribe(["contact.unsubscribed", "enrollment.replied"])
    contact = factories.make_contact(org, email="pat@prospect.example")
    sequence = make_sequence(org, factories.user(org, "manager"))
    enrollment = Enrollment(org_id=org.id, sequence_id=sequence.id, contact_id=contact.id,
                            owner_id=factories.user(org, "rep").id, status="active")
    db.session.add(enrollment)
    db.session.commit()
    end_enrollment(enrollment, "replied", utcnow())
    db.session.commit()
    unsubscribe(org.id, "pat@prospect.example")
    unsubscribe(org.id, "pat@prospect.example")  # already out: no second event
    replied, gone = _events()
    assert replied["type"] == "enrollment.replied" and replied["data"]["enrollment"]["status"] == "replied"
    assert gone["type"] == "contact.unsubscribed"
    assert gone["data"]["contact"]["id"] == contact.id and gone["data"]["contact"]["unsubscribed"] is True


def test_a_buyer_confirmed_room_step(org, subscribe):
    from app.rooms.service import add_step, mark_confirmed, open_room

    subscribe(["room.step_confirmed"])
    deal = factories.make_deal(org)
    admin = factories.user(org, "admin")
    room, _ = open_room(deal, admin)
    step = add_step(room, admin, title="Share the budget")
    contact = factories.make_contact(org, email="dana@buyer.example")
    mark_confirmed(step, contact, "Dana Ortiz", utcnow())
    db.session.commit()
    (event,) = _events()
    assert event["data"]["step"]["status"] == "done" and event["data"]["deal_id"] == deal.id
    assert event["data"]["step"]["confirmed_by"] == "dana@buyer.example"


def test_the_stale_sweep_emits_task_created_for_the_reminders_it_inserts(org, subscribe):
    from app.tasks.service import sweep_stale
    from tests.tasks.helpers import stale_deal

    subscribe(["task.created"])
    deal = stale_deal(org, days_in_stage=8, max_days=7, owner=factories.user(org, "rep"))
    other = factories.make_org(name="Quiet elsewhere", templates=["article"])
    stale_deal(other, days_in_stage=8, max_days=7, owner=factories.user(other, "rep"))
    sweep_stale()
    (event,) = _events()
    assert event["data"]["task"]["kind"] == "stale_reminder" and event["data"]["task"]["deal_id"] == deal.id


def test_a_bounce_ends_the_enrollment_with_its_event(org, subscribe):
    from app.sequences.service import end_enrollment
    from tests.sequences.conftest import make_sequence

    subscribe(["enrollment.bounced"])
    contact = factories.make_contact(org, email="gone@prospect.example")
    enrollment = Enrollment(org_id=org.id, sequence_id=make_sequence(org, factories.user(org, "manager")).id,
                            contact_id=contact.id, owner_id=factories.user(org, "rep").id, status="active")
    db.session.add(enrollment)
    db.session.commit()
    end_enrollment(enrollment, "bounced")
    end_enrollment(enrollment, "bounced")  # already ended: nothing more
    db.session.commit()
    (event,) = _events()
    assert event["type"] == "enrollment.bounced" and event["data"]["enrollment"]["status"] == "bounced"
