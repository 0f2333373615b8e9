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
