"""Oracles for the board's trigger-kept totals (app/models/tally.py): plain Python over the deals."""

import re
from collections import defaultdict
from decimal import Decimal

from app.extensions import db
from app.formatting import money
from app.models import Deal, StageTally

_HEAD = re.compile(r'id="col-head-(\d+)">.*?<span class="column-count">(\d+) deals?</span> · '
                   r'<span class="column-total">([^<]*)</span>', re.S)


def board_heads(client, pipeline, **params) -> dict:
    """{stage_id: (count, total as shown)} read off the board page, as a user sees the headers."""
    response = client.get(f"/deals/board/{pipeline.id}", query_string=params)
    assert response.status_code == 200
    heads = {int(s): (int(n), total) for s, n, total in _HEAD.findall(response.get_data(as_text=True))}
    assert heads, "no column header on the board"
    return heads


def counted_heads(pipeline, owner_id=None) -> dict:
    """The same headers from every deal of the pipeline, counted and summed in Python (exact Decimal)."""
    db.session.expire_all()
    counts, totals = defaultdict(int), defaultdict(Decimal)
    for deal in Deal.query.filter_by(pipeline_id=pipeline.id):
        if owner_id is None or deal.owner_id == owner_id:
            counts[deal.stage_id] += 1
            totals[deal.stage_id] += deal.amount or 0
    return {s.id: (counts[s.id], money(totals[s.id], "USD")) for s in pipeline.stages if not s.archived}


def assert_board_totals_exact(client, pipeline, owner_ids=()) -> None:
    """The board's headers equal a plain count and sum over the deals, for everyone and per owner."""
    assert board_heads(client, pipeline, owner="all") == counted_heads(pipeline)
    for owner_id in owner_ids:
        assert board_heads(client, pipeline, owner=owner_id) == counted_heads(pipeline, owner_id)


def tally_rows() -> dict:
    """{(stage_id, owner_id): (deals, cents)} of stage_tally, rows at zero left out."""
    db.session.expire_all()
    return {(t.stage_id, t.owner_id): (t.deals, t.amount_cents)
            for t in StageTally.query if (t.deals, t.amount_cents) != (0, 0)}


def grouped_deals() -> dict:
    """{(stage_id, owner_id): (deals, cents)} from every deal, grouped in Python."""
    grouped = defaultdict(lambda: [0, 0])
    for stage_id, owner_id, amount in db.session.execute(db.select(Deal.stage_id, Deal.owner_id, Deal.amount)):
        row = grouped[(stage_id, owner_id)]
        row[0] += 1
        row[1] += int((Decimal(str(amount)) * 100).to_integral_value()) if amount is not None else 0
    return {key: tuple(v) for key, v in grouped.items()}
