"""The API's gated move costs a fixed, small number of SQL statements whatever the number of deals."""

import pytest

from app.auth.service import create_api_key
from app.extensions import db
from app.models import Deal, StageTransition
from tests import factories
from tests.deals.test_board_queries import count_queries, fresh_request
from tests.deals.test_move_queries import clone_deals


def api_move(client, headers, deal_id, body):
    fresh_request()
    with count_queries() as statements:
        response = client.post(f"/api/v1/deals/{deal_id}/move", json=body, headers=headers)
    return response, statements


@pytest.mark.parametrize("deals", [10, 1000])
def test_a_gated_api_move_stays_within_budget_at_any_size(client, org, deals):
    pipe = factories.pipeline(org)
    qualified, discovery = factories.stage(pipe, "Qualified"), factories.stage(pipe, "Discovery")
    deal = factories.make_deal(org)
    clone_deals(factories.make_deal(org, "Discovery", title="Other"), deals - 2)
    raw, _ = create_api_key(factories.user(org, "manager"), "bench key")
    headers = {"Authorization": f"Bearer {raw}"}
    deal_id, discovery_id, qualified_id = deal.id, discovery.id, qualified.id
    # A key's first call in a minute also records when it was used (an UPDATE, then its user read
    # again after that commit): a cost of the key, not of the move, so the key is used once first.
    assert client.get(f"/api/v1/deals/{deal_id}", headers=headers).status_code == 200
    facts = {"budget_range": "25k", "decision_maker": "Dana Ortiz, CFO", "dm_meeting_date": "2031-03-04"}

    response, statements = api_move(client, headers, deal_id,
                                    {"stage_id": discovery_id, "version": deal.version, "facts": facts})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stage_id"] == discovery_id
    print(f"API gated move: {len(statements)} SQL statements at {deals} deals")
    assert len(statements) <= 11, "\n\n".join(statements)

    fresh_request()
    moved = db.session.get(Deal, deal_id)
    assert moved.stage_id == discovery_id and moved.facts["decision_maker"]
    assert StageTransition.query.filter_by(deal_id=deal_id, to_stage_id=discovery_id).count() == 1

    back, statements = api_move(client, headers, deal_id, {"stage_id": qualified_id})  # backward: no gate
    assert back.status_code == 200 and back.get_json()["stage_id"] == qualified_id
    assert len(statements) <= 11, "\n\n".join(statements)
