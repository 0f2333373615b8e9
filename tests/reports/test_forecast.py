"""Weekly forecast snapshots (idempotent per week) and forecast accuracy with its bias."""

from datetime import datetime, timedelta

from app.extensions import db
from app.models import ForecastSnapshot
from app.reports.forecast import accuracy, snapshot_forecasts, week_start
from app.reports.service import add_months
from app.sweeps import SWEEPS, run_all
from tests import factories
from tests.reports.history import make_history


def test_the_weekly_snapshot_freezes_the_forecast_once_per_week(org):
    rep = factories.user(org, "rep")
    make_history(org, rep, [("Qualified", datetime.utcnow() - timedelta(days=3)),
                            ("Discovery", datetime.utcnow() - timedelta(days=1))], amount="10000")
    assert "forecast_snapshots" in dict(SWEEPS)
    run_all()
    run_all()  # the second tick of the week inserts nothing
    snapshot_forecasts()
    rows = ForecastSnapshot.query.filter_by(org_id=org.id).all()
    pipelines = {p.id for p in org_pipelines(org)}
    assert {r.pipeline_id for r in rows} == pipelines and len(rows) == len(pipelines)
    article = next(r for r in rows if r.pipeline_id == factories.pipeline(org).id)
    assert (article.open_count, article.weighted_cents) == (1, 250000)  # 10,000 at Discovery's 25 %
    next_week = datetime.utcnow() + timedelta(days=7)
    assert run_all(now=next_week)["forecast_snapshots"]["created"] == len(pipelines)  # flask run-due --now


def org_pipelines(org):
    from app.models import Pipeline

    return Pipeline.query.filter_by(org_id=org.id, archived=False).all()


def test_accuracy_compares_the_snapshot_at_a_months_start_with_what_was_won(client, org, login_as):
    pipeline = factories.pipeline(org)
    today = datetime.utcnow().date()
    last_month = add_months(today.replace(day=1), -1)
    # The forecast frozen in the week the month began: 20,000.00 weighted.
    db.session.add(ForecastSnapshot(org_id=org.id, pipeline_id=pipeline.id, week_start=week_start(last_month),
                                    weighted_cents=2_000_000))
    db.session.commit()
    won_at = datetime(last_month.year, last_month.month, 10, 12)
    rep = factories.user(org, "rep")
    make_history(org, rep, [("Qualified", won_at - timedelta(days=4)), ("Discovery", won_at - timedelta(days=3)),
                            ("Proposal", won_at - timedelta(days=2)), ("Negotiation", won_at - timedelta(days=1)),
                            ("Closed Won", won_at)], amount="15000")
    row = next(r for r in accuracy(pipeline, org) if r["kind"] == "month" and r["from"] == last_month)
    assert (row["forecast"], row["won"]) == (20000, 15000)
    assert (row["accuracy"], row["bias"]) == (0.75, -0.25)  # 1 - 5000/20000; won 25 % under the forecast
    login_as("manager")
    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    assert "75.0 %" in page and "-25.0 %" in page


def _accuracy_csv(client, pipeline) -> dict:
    """The accuracy export as {period label: row}."""
    import csv
    import io

    response = client.get(f"/reports/{pipeline.id}/export?table=accuracy")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    return {row[0]: [cell.removeprefix("'") for cell in row] for row in rows[1:]}  # formula-safe cells


def test_a_rep_measures_their_own_forecast_and_a_manager_the_teams(client, org, login_as):
    from app.models import OwnerForecastSnapshot
    from tests.reports.history import second_rep

    pipeline = factories.pipeline(org)
    rep, other = factories.user(org, "rep"), second_rep(org)
    today = datetime.utcnow().date()
    last_month = add_months(today.replace(day=1), -1)
    opened = datetime.combine(last_month, datetime.min.time()) - timedelta(days=20)
    # Open at the month's start, at Discovery's 25 %: the rep's 2,500.00 and the other rep's 7,500.00 weighted.
    make_history(org, rep, [("Qualified", opened), ("Discovery", opened + timedelta(days=1))], amount="10000")
    make_history(org, other, [("Qualified", opened), ("Discovery", opened + timedelta(days=1))], amount="30000")
    snapshot_forecasts(now=datetime.combine(last_month, datetime.min.time()) + timedelta(hours=12))
    shares = {s.owner_id: s for s in OwnerForecastSnapshot.query.filter_by(pipeline_id=pipeline.id)}
    assert (shares[rep.id].weighted_cents, shares[other.id].weighted_cents) == (250_000, 750_000)
    assert shares[factories.user(org, "admin").id].open_count == 0  # every active user has a row
    # Won in that month: the rep 2,000.00, the other rep 9,000.00.
    won_at = datetime(last_month.year, last_month.month, 10, 12)
    for owner, amount in ((rep, "2000"), (other, "9000")):
        make_history(org, owner, [("Qualified", won_at - timedelta(days=4)), ("Discovery", won_at - timedelta(days=3)),
                                  ("Proposal", won_at - timedelta(days=2)), ("Negotiation", won_at - timedelta(days=1)),
                                  ("Closed Won", won_at)], amount=amount)
    label = last_month.strftime("%B %Y")

    login_as("manager")
    team = _accuracy_csv(client, pipeline)[label]
    assert team[3:] == ["90.0 %", "+10.0 %"]  # 11,000 won against 10,000 forecast
    login_as("rep")
    own = _accuracy_csv(client, pipeline)[label]
    assert own[3:] == ["80.0 %", "-20.0 %"]  # 2,000 won against the rep's own 2,500
    assert "2,500" in own[1] and "2,000" in own[2]
    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    assert "80.0 %" in page and "+10.0 %" not in page


def test_a_rep_sees_no_snapshot_for_weeks_frozen_before_owners_had_shares(client, org, login_as):
    pipeline = factories.pipeline(org)
    last_month = add_months(datetime.utcnow().date().replace(day=1), -1)
    db.session.add(ForecastSnapshot(org_id=org.id, pipeline_id=pipeline.id, week_start=week_start(last_month),
                                    weighted_cents=2_000_000))  # a team snapshot alone, as older weeks have
    db.session.commit()
    login_as("rep")
    row = _accuracy_csv(client, pipeline)[last_month.strftime("%B %Y")]
    assert row[1] == "no snapshot" and row[3] == "—"
