"""Stale-deal reminders: exactly one per stay, set-based, and the manager's stale list."""

from datetime import timedelta

from app.deals.service import move_deal, plan_move
from app.extensions import db
from app.models import utcnow
from app.sweeps import SWEEPS, run_all
from app.tasks.service import neglected_deal_ids, stale_by_owner, stay_key, sweep_stale
from tests import factories
from tests.tasks.helpers import reminders, stale_deal, stale_notifications
from tests.values import sample_value


def test_rep_who_ignores_a_deal_for_eight_days_is_reminded_exactly_once_over_three_sweeps(org):
    rep = factories.user(org, "rep")
    deal = stale_deal(org, days_in_stage=8, max_days=7, owner=rep)
    results = [sweep_stale() for _ in range(3)]
    assert [r["created"] for r in results] == [1, 0, 0]
    [task] = reminders(deal)
    assert task.owner_id == rep.id and task.done_at is None
    assert task.unique_key == stay_key(deal)
    assert "Quiet Acme deal" in task.title and "7 days" in task.title
    [note] = stale_notifications(rep)
    assert note.unique_key == task.unique_key and note.read_at is None


def test_deal_within_its_stage_maximum_gets_no_reminder(org):
    deal = stale_deal(org, days_in_stage=6, max_days=7)
    assert sweep_stale()["created"] == 0
    assert reminders(deal) == [] and stale_notifications() == []


def test_won_deals_are_never_stale(org):
    from app.models import Deal

    pipeline = factories.pipeline(org)
    deal = factories.make_deal(org, pipeline.stage_by_kind("won").name)
    db.session.execute(db.update(Deal).where(Deal.id == deal.id)
                       .values(stage_entered_at=utcnow() - timedelta(days=90)))
    db.session.commit()
    assert sweep_stale()["created"] == 0
    assert reminders(deal) == []


def test_moving_away_and_coming_back_is_a_new_stay_with_a_new_reminder(org):
    admin = factories.user(org, "admin")
    deal = stale_deal(org, days_in_stage=20, max_days=7)
    first_stage = deal.stage
    sweep_stale()
    [first] = reminders(deal)
    pipeline = deal.pipeline
    second_stage = pipeline.open_stages[1]
    second_stage.max_days = 60
    db.session.commit()
    facts = {r.field.key: sample_value(r.field) for r in plan_move(deal, second_stage).requirements}
    move_deal(deal, second_stage, admin, facts=facts, at=utcnow() - timedelta(days=12))
    result = sweep_stale()
    assert result == {"created": 0, "resolved": 1}  # the old stay ended: its reminder closes itself
    move_deal(deal, first_stage, admin, at=utcnow() - timedelta(days=9))
    for _ in range(3):
        sweep_stale()
    tasks = reminders(deal)
    assert len(tasks) == 2
    assert {t.unique_key for t in tasks} == {first.unique_key, stay_key(deal)}
    assert [t.done_at is None for t in sorted(tasks, key=lambda t: t.id)] == [False, True]
    assert len(stale_notifications()) == 2


def test_one_sweep_reminds_every_owner_of_each_of_their_stale_deals(org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    deals = [stale_deal(org, 10, owner=rep, title=f"Rep deal {i}") for i in range(3)]
    deals.append(stale_deal(org, 10, owner=manager, title="Manager deal"))
    stale_deal(org, 2, owner=rep, title="Fresh deal")
    other = factories.make_org()
    stale_deal(other, 10)
    assert sweep_stale()["created"] == 5
    assert {t.deal_id for t in reminders()} >= {d.id for d in deals}
    assert len(stale_notifications(rep)) == 3 and len(stale_notifications(manager)) == 1


def test_stale_sweep_is_registered_with_the_worker_tick(org):
    stale_deal(org, 9)
    assert "stale_reminders" in dict(SWEEPS)
    assert run_all()["stale_reminders"]["created"] == 1
    assert run_all()["stale_reminders"]["created"] == 0


def test_stale_list_groups_deals_by_owner_with_days_over(org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    stale_deal(org, 10, max_days=7, owner=rep, title="Ten days")
    stale_deal(org, 12, max_days=7, owner=rep, title="Twelve days")
    stale_deal(org, 3, max_days=7, owner=manager, title="Fine")
    [(owner, items)] = stale_by_owner(org.id)
    assert owner.id == rep.id
    assert [(i.deal.title, i.days_over) for i in items] == [("Twelve days", 5), ("Ten days", 3)]


def test_neglected_deals_have_no_open_task_and_no_recent_activity(org):
    from app.models import Activity, Deal

    quiet = stale_deal(org, 10, title="Quiet")
    busy = stale_deal(org, 10, title="Has an open task")
    called = stale_deal(org, 10, title="Called yesterday")
    called_long_ago = stale_deal(org, 10, title="Called a month ago")
    fresh = stale_deal(org, 2, title="Fresh")
    touched = stale_deal(org, 10, title="Recently edited")
    old = utcnow() - timedelta(days=10)
    quiet_ids = [quiet.id, busy.id, called.id, called_long_ago.id]
    db.session.execute(db.update(Deal).where(Deal.id.in_(quiet_ids)).values(updated_at=old))
    db.session.add_all([
        Activity(org_id=org.id, deal_id=called.id, kind="call", at=utcnow() - timedelta(days=1)),
        Activity(org_id=org.id, deal_id=called_long_ago.id, kind="call", at=utcnow() - timedelta(days=30)),
    ])
    db.session.commit()
    from app.tasks.service import create_task

    create_task(factories.user(org, "rep"), title="Call them", deal_id=busy.id)
    other = factories.make_org()
    foreign = stale_deal(other, 10)
    ids = [*quiet_ids, fresh.id, touched.id, foreign.id]
    assert neglected_deal_ids(org.id, ids) == {quiet.id, called_long_ago.id}
    assert neglected_deal_ids(org.id, []) == set()


def test_a_stale_notice_says_which_stage_the_deal_is_in_now(client, org, login_as):
    rep = login_as("rep")
    deal = stale_deal(org, days_in_stage=8, max_days=7, owner=rep)
    first = deal.stage.name
    sweep_stale()
    page = client.get("/tasks/notifications").get_data(as_text=True)
    assert f"has been in {first}" in page and f"Still in {first}." in page
    target = factories.pipeline(org).open_stages[1]
    facts = {r.field.key: sample_value(r.field) for r in plan_move(deal, target).requirements}
    move_deal(deal, target, factories.user(org, "admin"), facts=facts)
    page = client.get("/tasks/notifications").get_data(as_text=True)
    assert f"has been in {first}" in page and f"Moved on: now in {target.name}." in page
