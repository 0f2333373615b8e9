"""The board's column totals come from stage_tally, kept by triggers on deal: they stay exact
through every path that writes deals (form, API, board, ORM, Core bulk writes), on both engines."""

import random
import threading
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, text, update

from app.auth.service import create_api_key, create_user
from app.deals.service import plan_move
from app.extensions import db
from app.models import Deal, StageTally, utcnow
from tests import factories
from tests.tally_check import assert_board_totals_exact, grouped_deals, tally_rows
from tests.values import sample_value

HX = {"HX-Request": "true"}


@pytest.fixture
def pipe(org):
    return factories.pipeline(org)


def needed_facts(deal, to_stage) -> dict:
    return {r.field.key: sample_value(r.field) for r in plan_move(deal, to_stage).requirements}


def remove_deal(deal_id) -> None:
    """Delete a deal and the rows that point at it (the app itself never deletes a deal)."""
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "deal" and table.name != "deal":
                db.session.execute(delete(table).where(fk.parent == deal_id))
    db.session.execute(delete(Deal).where(Deal.id == deal_id))
    db.session.commit()


def test_totals_stay_exact_through_form_api_board_edits_and_deletes(client, login_as, org, pipe):
    manager = login_as("manager")
    rep = factories.user(org, "rep")
    other = create_user(org, "otto@seller.example.com", "Otto Other", "rep", factories.PASSWORD)
    owners = (rep.id, other.id, manager.id)
    raw, _ = create_api_key(factories.user(org, "admin"), "tally key")
    api = {"Authorization": f"Bearer {raw}"}
    qualified, discovery = pipe.open_stages[0], pipe.open_stages[1]
    assert_board_totals_exact(client, pipe, owners)  # empty board: every column at 0

    # Created through the new-deal form (the manager owns it) and through the API (for Otto).
    response = client.post("/deals/new", data={
        "pipeline_id": pipe.id, "title": "Form deal", "amount": "3000.10", "stage_id": qualified.id,
        "fact_icp_confirmed": "y", "fact_pain": "Manual work"})
    assert response.status_code == 302
    response = client.post("/api/v1/deals", headers=api, json={
        "pipeline_id": pipe.id, "title": "API deal", "amount": "1250.45", "owner_email": other.email,
        "facts": {"icp_confirmed": True, "pain": "Spreadsheets"}})
    assert response.status_code == 201, response.json
    api_deal = db.session.get(Deal, response.json["id"])
    factory_deal = factories.make_deal(org, title="Factory deal", amount="999.99", owner=rep)
    assert_board_totals_exact(client, pipe, owners)

    # Moved on the board (HTMX) and through the API.
    response = client.post(f"/deals/{factory_deal.id}/move", headers=HX, data={
        "stage_id": discovery.id, "version": factory_deal.version, "source": "board", "dialog": "1",
        **{f"fact_{k}": str(v) for k, v in needed_facts(factory_deal, discovery).items()}})
    assert response.status_code == 200
    assert response.headers.get("HX-Retarget") == f"#cards-{discovery.id}", response.get_data(as_text=True)
    assert_board_totals_exact(client, pipe, owners)
    response = client.post(f"/api/v1/deals/{api_deal.id}/move", headers=api, json={
        "stage_id": discovery.id, "facts": needed_facts(api_deal, discovery)})
    assert response.status_code == 200, response.json
    assert_board_totals_exact(client, pipe, owners)

    # Amount changed and cleared through the API.
    version = response.json["version"]
    response = client.patch(f"/api/v1/deals/{api_deal.id}", headers=api, json={"version": version, "amount": "7.05"})
    assert response.status_code == 200, response.json
    assert_board_totals_exact(client, pipe, owners)
    response = client.patch(f"/api/v1/deals/{api_deal.id}", headers=api,
                            json={"version": response.json["version"], "amount": None})
    assert response.status_code == 200, response.json
    assert_board_totals_exact(client, pipe, owners)

    # A new owner (no screen changes a deal's owner: the ORM, as a script would) and a deletion.
    deal = db.session.get(Deal, factory_deal.id)
    deal.owner_id = other.id
    deal.amount = Decimal("123456.78")
    db.session.commit()
    assert_board_totals_exact(client, pipe, owners)
    remove_deal(api_deal.id)
    assert_board_totals_exact(client, pipe, owners)
    assert tally_rows() == grouped_deals()


def test_a_search_still_counts_only_the_matching_deals(client, login_as, org, pipe):
    login_as("manager")
    factories.make_deal(org, title="Acme renewal", amount="1500")
    factories.make_deal(org, title="Birch rollout", amount="2500")
    response = client.get(f"/deals/board/{pipe.id}", query_string={"owner": "all", "q": "birch"})
    head = response.get_data(as_text=True).split(f'id="col-head-{pipe.open_stages[0].id}"')[1].split("</header>")[0]
    assert "1 deal<" in head and "$2,500" in head


AMOUNTS = [None, Decimal("0.01"), Decimal("19.99"), Decimal("1000"), Decimal("250000.50"),
           Decimal("99999999.99"), Decimal("-40.10")]


def test_after_a_random_sequence_of_writes_the_tally_equals_a_group_by_over_deals(client, login_as, org, pipe):
    """ORM and Core inserts, moves, owner and amount changes (one deal or many in one UPDATE) and
    deletes, in a random order: after each, stage_tally equals the deals grouped by (stage, owner)."""
    login_as("manager")
    rng = random.Random(8)
    owners = [factories.user(org, "rep").id, factories.user(org, "manager").id,
              create_user(org, "una@seller.example.com", "Una Other", "rep", factories.PASSWORD).id]
    stages = [s.id for s in pipe.stages]
    now = utcnow()

    def row(i):
        return {"org_id": org.id, "pipeline_id": pipe.id, "stage_id": rng.choice(stages),
                "owner_id": rng.choice(owners), "title": f"Deal {i}", "amount": rng.choice(AMOUNTS),
                "currency": "USD", "facts": {}, "status": "open", "stage_entered_at": now,
                "created_at": now, "updated_at": now, "version": 1, "next_step": ""}

    ids = []
    for step in range(120):
        op = rng.choice(["orm_add", "core_add", "move", "owner", "amount", "bulk", "delete"] if ids
                        else ["orm_add", "core_add"])
        if op == "orm_add":
            deal = Deal(**row(step))
            db.session.add(deal)
            db.session.commit()
            ids.append(deal.id)
        elif op == "core_add":  # as imports' and seeds' bulk inserts do
            db.session.execute(insert(Deal), [row(step) for _ in range(rng.randint(1, 4))])
            db.session.commit()
            ids = [d for (d,) in db.session.execute(db.select(Deal.id))]
        elif op in ("move", "owner", "amount"):
            deal = db.session.get(Deal, rng.choice(ids))
            if op == "move":
                deal.stage_id = rng.choice(stages)
            elif op == "owner":
                deal.owner_id = rng.choice(owners)
            else:
                deal.amount = rng.choice(AMOUNTS)
            if rng.random() < 0.3:  # several columns in one UPDATE
                deal.stage_id, deal.amount = rng.choice(stages), rng.choice(AMOUNTS)
            db.session.commit()
        elif op == "bulk":  # one UPDATE over several deals, as a sweep would write
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 5)))
            db.session.execute(update(Deal).where(Deal.id.in_(chosen)).values(
                stage_id=rng.choice(stages), amount=rng.choice(AMOUNTS)))
            db.session.commit()
        else:
            gone = rng.choice(ids)
            remove_deal(gone)
            ids.remove(gone)
        assert tally_rows() == grouped_deals(), f"step {step}: {op}"
    assert len(ids) > 10
    assert_board_totals_exact(client, pipe, owners)


def test_opposite_moves_at_the_same_time_never_deadlock(app, org, pipe):
    """Two connections move two deals of one owner between the same two stages in opposite
    directions at the same instant, many times: the trigger locks the two tally rows in one
    order, so PostgreSQL never reports a deadlock, and the tally ends exact."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no row locks to order")
    first, second = pipe.open_stages[0].id, pipe.open_stages[1].id
    a = factories.make_deal(org, title="Goes right")
    b = factories.make_deal(org, title="Goes left")
    db.session.execute(update(Deal).where(Deal.id == b.id).values(stage_id=second))
    db.session.commit()
    rounds, errors = 1200, []
    barrier, engine = threading.Barrier(2), db.engine

    def mover(deal_id, there, back):
        try:
            with engine.connect() as conn:
                for n in range(rounds):
                    barrier.wait(timeout=30)
                    with conn.begin():
                        conn.execute(text("UPDATE deal SET stage_id = :s WHERE id = :d"),
                                     {"s": there if n % 2 == 0 else back, "d": deal_id})
        except Exception as exc:  # noqa: BLE001 - any error fails the test below, with its text
            errors.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=mover, args=(a.id, second, first)),
               threading.Thread(target=mover, args=(b.id, first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert tally_rows() == grouped_deals()
    assert StageTally.query.filter_by(stage_id=first).one().deals >= 0
