"""A move records the stay it ends (from_entered_at on its own transition), and time in stage shows it."""

import csv
import io
from datetime import datetime, timedelta

from app.auth.service import create_api_key
from app.extensions import db
from app.models import StageTransition
from tests import factories
from tests.reports.history import make_history

HX = {"HX-Request": "true"}


def _time_in_stage(client, pipeline_id) -> dict:
    """The time-in-stage CSV a manager downloads, by stage name: [median, mean, stays]."""
    response = client.get(f"/reports/{pipeline_id}/export?table=time_in_stage")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Stage", "Median", "Mean", "Stays"]
    return {row[0]: row[1:4] for row in rows[1:]}


def _history(deal_id):
    db.session.expire_all()
    return StageTransition.query.filter_by(deal_id=deal_id).order_by(StageTransition.at, StageTransition.id).all()


def test_a_board_move_records_the_stay_it_ends_and_time_in_stage_counts_it(client, org, login_as):
    login_as("manager")
    pipeline = factories.pipeline(org)
    entered = datetime.utcnow().replace(microsecond=0) - timedelta(days=3)
    deal = make_history(org, factories.user(org, "rep"), [("Qualified", entered)], title="Baker St Dental")
    assert _time_in_stage(client, pipeline.id)["Qualified"] == ["", "", "0"]  # a stay still open is not counted (no figure)

    discovery = factories.stage(pipeline, "Discovery")
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": discovery.id, "version": deal.version,
                                                           "source": "board"}, headers=HX)
    assert response.status_code == 200 and "Moved Baker St Dental" in response.get_data(as_text=True)

    created, forward = _history(deal.id)
    assert created.from_entered_at is None
    assert forward.from_stage_id == created.to_stage_id and forward.from_entered_at == created.at == entered
    table = _time_in_stage(client, pipeline.id)
    assert table["Qualified"] == ["3.0", "3.0", "1"]  # entered 3 days ago, left just now
    assert table["Discovery"] == ["", "", "0"]


def test_api_moves_dated_in_the_past_make_stays_of_those_lengths(client, org, login_as):
    pipeline = factories.pipeline(org)
    t0 = datetime.utcnow().replace(microsecond=0) - timedelta(days=10)
    deal = make_history(org, factories.user(org, "rep"), [("Qualified", t0)], title="Acme")
    raw, _ = create_api_key(factories.user(org, "admin"), "history")
    headers = {"Authorization": f"Bearer {raw}"}
    for version, (stage, days) in enumerate([("Discovery", 4), ("Qualified", 4.5), ("Discovery", 6)], start=1):
        at = (t0 + timedelta(days=days)).isoformat() + "+00:00"
        response = client.post(f"/api/v1/deals/{deal.id}/move", headers=headers,
                               json={"stage_id": factories.stage(pipeline, stage).id, "version": version, "at": at})
        assert response.status_code == 200, response.json

    history = _history(deal.id)
    assert [t.from_entered_at for t in history] == [None, *(t.at for t in history[:-1])]
    login_as("manager")
    table = _time_in_stage(client, pipeline.id)
    assert table["Qualified"] == ["2.75", "2.75", "2"]  # 4 days, then 1.5 days after moving back
    assert table["Discovery"] == ["0.5", "0.5", "1"]


def test_a_refused_move_records_no_stay(client, org, login_as):
    login_as("rep")
    pipeline = factories.pipeline(org)
    deal = factories.make_deal(org, owner=factories.user(org, "rep"))  # no facts: Discovery's gate refuses
    response = client.post(f"/deals/{deal.id}/move", data={"stage_id": factories.stage(pipeline, "Discovery").id,
                                                           "version": deal.version, "source": "board"}, headers=HX)
    assert response.status_code == 200 and "move-dialog" in response.get_data(as_text=True)
    assert [t.kind for t in _history(deal.id)] == ["create"]
    login_as("manager")
    assert _time_in_stage(client, pipeline.id)["Qualified"][2] == "0"
