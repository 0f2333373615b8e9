"""A move PostgreSQL rolls back to break a deadlock answers "nothing was saved, try again" (503), not a 500."""

import threading
import time

import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import Deal, StageTransition
from app.models.tally import StageTally
from tests import factories
from tests.deals.test_move_queries import HX

FACTS = {"fact_budget_range": "25k", "fact_decision_maker": "Dana Ortiz, CFO", "fact_dm_meeting_date": "2031-03-04"}


def test_a_move_chosen_as_a_deadlock_victim_says_nothing_was_saved_and_a_retry_works(client, login_as, org):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: it never picks a deadlock victim")
    login_as("manager")
    pipe = factories.pipeline(org)
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    deal = factories.make_deal(org, title="Caught in the middle")
    factories.make_deal(org, "Discovery", title="Already there", owner=deal.owner)
    deal_id, owner_id, version = deal.id, deal.owner_id, deal.version
    qualified_id, discovery_id = qualified.id, discovery.id
    db.session.commit()
    holding, errors, engine = threading.Event(), [], db.engine

    def other_writer():
        # Another transaction takes the Discovery tally row, then (while the move waits for it)
        # asks for the Qualified one the move already holds: a deadlock. Its own deadlock check
        # waits 10 s, the app's 1 s (PostgreSQL's default), so the app's move is the victim.
        try:
            with engine.connect() as conn, conn.begin():
                conn.execute(text("SET LOCAL deadlock_timeout = '10s'"))
                lock = text("UPDATE stage_tally SET deals = deals WHERE stage_id = :s AND owner_id = :o")
                conn.execute(lock, {"s": discovery_id, "o": owner_id})
                holding.set()
                time.sleep(0.5)
                conn.execute(lock, {"s": qualified_id, "o": owner_id})
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert holding.wait(10), errors
    data = {"stage_id": discovery_id, "version": version, "source": "board", "dialog": "1", "owner": "all", **FACTS}
    response = client.post(f"/deals/{deal_id}/move", data=data, headers=HX)
    writer.join(30)
    assert errors == []
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "nothing was saved" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Deal, deal_id).stage_id == qualified_id  # nothing was saved
    assert StageTransition.query.filter_by(deal_id=deal_id, to_stage_id=discovery_id).count() == 0
    assert db.session.get(StageTally, (qualified_id, owner_id)).deals == 1
    db.session.rollback()

    again = client.post(f"/deals/{deal_id}/move", data=data, headers=HX)  # as the message says
    assert again.status_code == 200 and "Moved " in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Deal, deal_id).stage_id == discovery_id
    assert db.session.get(StageTally, (discovery_id, owner_id)).deals == 2


