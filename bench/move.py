"""Gate bench: server time of a gated move through move_deal, back and forth."""

import statistics
import time

from sqlalchemy import event

from app.deals.service import move_deal
from app.extensions import db
from app.models import Deal, Pipeline, User
from bench.board import _login


def move_figures(app, pipeline_id, admin_id, moves=200) -> dict:
    """Median time of `moves` moves Discovery -> Proposal (gated forward) and back (backward)."""
    with app.app_context():
        pipeline = db.session.get(Pipeline, pipeline_id)
        opens = pipeline.open_stages
        discovery, proposal = opens[1], opens[2]
        # An odd-numbered seeded deal in Discovery has its exit facts; add Proposal's entry fact.
        deal = (Deal.query.filter_by(pipeline_id=pipeline_id, stage_id=discovery.id)
                .filter(Deal.title.like("% deal 2")).first()
                or Deal.query.filter_by(pipeline_id=pipeline_id, stage_id=discovery.id).first())
        deal_id = deal.id
        facts = {f.key: True for f in proposal.required_fields("entry")}
        facts.update({f.key: deal.facts.get(f.key) or "Agreed" for f in discovery.required_fields("exit")})
        admin = db.session.get(User, admin_id)
        move_deal(deal, proposal, admin, facts=facts)  # warm-up, and the facts are now stored
        move_deal(db.session.get(Deal, deal_id), discovery, admin)
        forward, backward = [], []
        for i in range(moves):
            target = proposal if i % 2 == 0 else discovery
            start = time.perf_counter()
            deal = db.session.get(Deal, deal_id)
            move_deal(deal, target, admin, version=deal.version)
            (forward if target is proposal else backward).append((time.perf_counter() - start) * 1000)
        db.session.remove()
    return {"move_ms": statistics.median(forward + backward),
            "forward_ms": statistics.median(forward), "backward_ms": statistics.median(backward),
            "move_queries": board_move_queries(app, deal_id, proposal.id)}


def board_move_queries(app, deal_id, to_stage_id) -> int:
    """SQL statements of one gated move from the board (HTTP, HTMX), reply rendered included."""
    client = app.test_client()
    _login(client)
    with app.app_context():
        version = db.session.get(Deal, deal_id).version
        engine = db.engine
        db.session.remove()
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.post(f"/deals/{deal_id}/move", headers={"HX-Request": "true"},
                               data={"stage_id": to_stage_id, "version": version, "source": "board"})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements) if response.status_code == 200 else None
