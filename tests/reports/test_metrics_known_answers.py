"""The SQL metrics equal an independent plain-Python computation, on SQLite and PostgreSQL alike."""

from datetime import datetime, timedelta

from app.extensions import db
from app.reports.service import Period, metrics
from tests import factories
from tests.reports.history import expected_metrics, make_history

ZONE = "America/New_York"


def _check(actual, expected, pipeline):
    for row in actual["stage_conversion"]:
        assert (row["entered"], row["advanced"], row["rate"]) == expected["conversion"][row["stage_id"]]
    for row in actual["time_in_stage"]:
        want = expected["stays"].get(row["stage_id"], (None, None, 0))
        assert (row["median_days"], row["mean_days"], row["n"]) == want, row
    got = {(r["stage_id"], r["owner_email"]): (r["median_days"], r["mean_days"], r["n"])
           for r in actual["time_in_stage_by_owner"]}
    shown = {s.id for s in pipeline.open_stages}
    assert got == {k: v for k, v in expected["by_owner"].items() if k[0] in shown}
    assert actual["win_rate"] == expected["win_rate"]
    assert actual["meeting_to_close"] == expected["meeting_to_close"]
    cycle = actual["cycle_days"]
    assert (cycle["median"], cycle["mean"], cycle["n"]) == expected["cycle"]
    assert actual["forecast"]["weighted"] == expected["weighted"]
    assert actual["forecast"]["open_count"] == expected["open_count"]


def test_every_metric_matches_an_independent_computation_for_a_manager(book):
    org, pipeline = book["org"], book["pipeline"]
    period = Period(book["start"], book["end"], org.zone)
    actual = metrics(pipeline, period, factories.user(org, "manager"))
    expected = expected_metrics(org, pipeline, book["start"], book["end"], ZONE)
    assert sum(r["entered"] for r in actual["stage_conversion"]) > 10  # the data set is not trivial
    assert any(r["n"] > 2 for r in actual["time_in_stage"])
    assert actual["won"] + actual["lost"] > 0
    _check(actual, expected, pipeline)


def test_a_rep_sees_their_own_numbers_and_the_team_medians(book):
    org, pipeline = book["org"], book["pipeline"]
    rep = factories.user(org, "rep")
    period = Period(book["start"], book["end"], org.zone)
    mine = metrics(pipeline, period, rep)
    everyone = metrics(pipeline, period, factories.user(org, "manager"))
    expected = expected_metrics(org, pipeline, book["start"], book["end"], ZONE, owner_id=rep.id)
    assert mine["scope"] == "own"
    assert {r["owner_email"] for r in mine["time_in_stage_by_owner"]} <= {rep.email}
    assert mine["time_in_stage"] == everyone["time_in_stage"]  # the team's medians
    expected["stays"] = expected_metrics(org, pipeline, book["start"], book["end"], ZONE)["stays"]
    _check(mine, expected, pipeline)
    assert mine["forecast"]["open_count"] < everyone["forecast"]["open_count"]


def test_period_edges_are_midnight_in_the_organisations_zone(org):
    org.timezone = ZONE
    db.session.commit()
    rep = factories.user(org, "rep")
    day = datetime.utcnow().date() - timedelta(days=20)
    offset = 5 if org.zone.utcoffset(datetime(day.year, day.month, day.day, 12)) == timedelta(hours=-5) else 4
    midnight_utc = datetime(day.year, day.month, day.day, offset)  # 00:00 that day in New York
    before = make_history(org, rep, [("Qualified", midnight_utc - timedelta(minutes=1))], title="Before")
    after = make_history(org, rep, [("Qualified", midnight_utc)], title="After")
    pipeline = factories.pipeline(org)
    period = Period(day, day + timedelta(days=1), org.zone)
    numbers = metrics(pipeline, period, factories.user(org, "admin"))
    qualified = factories.stage(pipeline, "Qualified")
    row = next(r for r in numbers["stage_conversion"] if r["stage_id"] == qualified.id)
    assert row["entered"] == 1
    assert before.id != after.id


def test_a_loss_never_counts_as_advancing_and_a_back_dated_move_counts_when_it_happened(org):
    rep = factories.user(org, "rep")
    now = datetime.utcnow()
    t0 = now - timedelta(days=10)
    make_history(org, rep, [("Qualified", t0), ("Closed Lost", t0 + timedelta(days=1))], title="Lost")
    make_history(org, rep, [("Qualified", t0), ("Discovery", t0 + timedelta(days=2))], title="Moved on")
    pipeline = factories.pipeline(org)
    qualified = factories.stage(pipeline, "Qualified")
    today = now.date()
    numbers = metrics(pipeline, Period(today - timedelta(days=30), today + timedelta(days=1), org.zone),
                      factories.user(org, "admin"))
    row = next(r for r in numbers["stage_conversion"] if r["stage_id"] == qualified.id)
    assert (row["entered"], row["advanced"], row["rate"]) == (2, 1, 0.5)
    stay = next(r for r in numbers["time_in_stage"] if r["stage_id"] == qualified.id)
    # Both stays in Qualified ended (one by the loss, after 1 day; one by the advance, after 2).
    assert (stay["n"], stay["median_days"], stay["mean_days"]) == (2, 1.5, 1.5)
    # A period that ended before the back-dated moves sees none of them.
    early = metrics(pipeline, Period(today - timedelta(days=60), today - timedelta(days=11), org.zone),
                    factories.user(org, "admin"))
    assert all(r["entered"] == 0 for r in early["stage_conversion"])
