"""The reports page and its CSV over HTTP: what each role sees, fixed SQL, one-click stage fixes."""

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import event

from app.extensions import db
from app.models import Stage
from tests import factories
from tests.reports.history import make_history, random_histories, second_rep


def _count_statements(app, client, url):
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with app.app_context():  # a fresh session and g, as a real request has
            response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen)


def test_the_report_page_issues_the_same_number_of_statements_at_any_data_size(app, client, org, login_as):
    owners = [factories.user(org, "rep"), second_rep(org)]
    base = datetime.utcnow() - timedelta(days=50)
    random_histories(org, owners, base, 4, seed=1)
    login_as("manager")
    url = f"/reports/{factories.pipeline(org).id}"
    small = _count_statements(app, client, url)
    random_histories(org, owners + [factories.user(org, "manager")], base, 40, seed=2)
    assert _count_statements(app, client, url) == small
    # 19, one for the deal room figures (reports/rooms.py) and one for the objections (reports/objections.py),
    # each every figure of its table in one statement.
    assert small <= 21


def test_a_rep_sees_their_own_numbers_and_the_team_median(client, org, login_as):
    rep = factories.user(org, "rep")
    other = second_rep(org)
    t0 = datetime.utcnow() - timedelta(days=10)
    make_history(org, rep, [("Qualified", t0), ("Discovery", t0 + timedelta(days=2))], title="Mine")
    make_history(org, other, [("Qualified", t0), ("Discovery", t0 + timedelta(days=6))], title="Theirs")
    login_as("rep")
    page = client.get(f"/reports/{factories.pipeline(org).id}").get_data(as_text=True)
    assert "These are your own deals" in page
    assert rep.name in page and other.name not in page
    rows = _csv(client, f"/reports/{factories.pipeline(org).id}/export?table=time_by_owner")
    assert rows == [["Owner", "Stage", "Median", "Team median", "Stays"], [rep.name, "Qualified", "2.0", "4.0", "1"]]


def _csv(client, url):
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_every_table_downloads_as_csv_for_the_chosen_period(client, org, login_as):
    t0 = datetime.utcnow() - timedelta(days=10)
    make_history(org, factories.user(org, "rep"), [("Qualified", t0), ("Discovery", t0 + timedelta(days=1))])
    login_as("manager")
    pipeline_id = factories.pipeline(org).id
    for table in ("conversion", "time_in_stage", "time_by_owner", "forecast", "calibration", "outcomes"):
        rows = _csv(client, f"/reports/{pipeline_id}/export?table={table}&preset=last_90_days")
        assert len(rows) >= 2, table
    assert _csv(client, f"/reports/{pipeline_id}/export?table=conversion")[1][:3] == ["Qualified", "1", "1"]
    assert client.get(f"/reports/{pipeline_id}/export?table=secrets").status_code == 404


def test_a_bad_period_says_so_and_shows_the_last_90_days(client, org, login_as):
    login_as("manager")
    response = client.get(f"/reports/{factories.pipeline(org).id}?from=2026-02-31")
    assert response.status_code == 422
    assert "must be a date written YYYY-MM-DD" in response.get_data(as_text=True)
    assert "Showing the last 90 days instead" in response.get_data(as_text=True)


def test_admin_adopts_a_measured_probability_and_applies_a_suggested_maximum(client, org, login_as):
    login_as("admin")
    stage = factories.stage(factories.pipeline(org), "Proposal")
    response = client.post(f"/reports/stages/{stage.id}/probability", data={"probability": "38"},
                           follow_redirects=True)
    assert "Proposal now forecasts at 38 %." in response.get_data(as_text=True)
    client.post(f"/reports/stages/{stage.id}/max-days", data={"max_days": "12"})
    client.post(f"/reports/stages/{stage.id}/category", data={"category": "commit"})
    refused = client.post(f"/reports/stages/{stage.id}/max-days", data={"max_days": "99999999999999999999"},
                          follow_redirects=True)
    assert "must be a whole number from 1 to 365" in refused.get_data(as_text=True)
    db.session.expire_all()
    stage = db.session.get(Stage, stage.id)
    assert (stage.probability, stage.max_days, stage.forecast_category) == (38, 12, "commit")


def test_odd_ids_and_periods_are_a_clear_answer_never_a_500(client, org, login_as):
    login_as("admin")
    for url in ("/reports/2147483648", "/reports/99999999999999999999", "/reports/stages/9223372036854775808/max-days"):
        method = client.post if "stages" in url else client.get
        assert method(url).status_code == 404, url
    pipeline_id = factories.pipeline(org).id
    for query in ("from=%ED%A0%80", "to=%FF%FE", "from=2026-01-01&to=2025-01-01", "preset=%00", "from=" + "9" * 5000):
        response = client.get(f"/reports/{pipeline_id}?{query}")
        assert response.status_code == 422 and "Showing the last 90 days instead" in response.get_data(as_text=True)
    assert client.get(f"/reports/?pipeline={'9' * 40}").status_code == 302
    stage = factories.stage(factories.pipeline(org), "Proposal")
    response = client.post(f"/reports/stages/{stage.id}/probability", data="probability=%ED%A0%80",
                           content_type="application/x-www-form-urlencoded", follow_redirects=True)
    assert "must be a whole number from 0 to 100" in response.get_data(as_text=True)


def test_the_forecast_shows_amounts_as_money_on_the_page_and_in_the_csv(client, org, login_as):
    t0 = datetime.utcnow() - timedelta(days=5)
    make_history(org, factories.user(org, "rep"), [("Qualified", t0), ("Discovery", t0 + timedelta(days=1))],
                 amount="40000")
    probability = factories.stage(factories.pipeline(org), "Discovery").probability
    weighted = f"${40000 * probability // 100:,}"
    login_as("manager")
    pipeline_id = factories.pipeline(org).id
    page = client.get(f"/reports/{pipeline_id}").get_data(as_text=True)
    assert "$40,000" in page and weighted in page and "40000.00" not in page
    rows = _csv(client, f"/reports/{pipeline_id}/export?table=forecast")
    # In the CSV an amount is a number with its currency beside it, a probability a fraction.
    weighted_number = f"{40000 * probability // 100}.00"
    assert rows[0][-1] == "Currency"
    assert ["Discovery", "pipeline", "1", "40000.00", str(probability / 100), weighted_number, "USD"] in rows
    assert ["Weighted forecast", weighted_number, "1 open deal", "", "USD"] in \
        _csv(client, f"/reports/{pipeline_id}/export?table=outcomes")
