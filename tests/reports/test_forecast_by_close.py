"""The weighted forecast by expected close date: known answers on the reports page and its CSV, per role.

The Article pipeline's probabilities: Qualified 10 %, Discovery 25 %, Proposal 50 %, Negotiation 75 %.
"""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from app.auth.service import create_api_key
from app.deals.service import create_deal
from app.extensions import db
from app.formatting import money
from app.pipelines.service import create_pipeline
from app.reports.forecast import by_expected_close
from app.reports.service import add_months, quarter_start
from tests import factories
from tests.reports.history import make_history, second_rep

ZONE = "America/New_York"


def _download(client, pipeline) -> list:
    response = client.get(f"/reports/{pipeline.id}/export?table=forecast_by_close")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Expected to close", "Period", "Weighted", "Open deals", "Amount", "Currency"]
    return rows[1:]


def _table(client, pipeline) -> dict:
    """The forecast_by_close CSV as {row label: [open deals, amount, weighted]}, amounts shown as money (the
    CSV holds them as numbers, with a currency column: a spreadsheet can add them up)."""
    rows = _download(client, pipeline)
    assert {row[5] for row in rows} == {"USD"}
    return {row[0]: [row[3], money(Decimal(row[4])), money(Decimal(row[2]))] for row in rows}


def _quarter(day) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year}"


def _deal(org, stage, amount, expected, owner=None, title=None):
    deal = factories.make_deal(org, stage_name=stage, amount=amount, owner=owner, title=title or f"{stage} {amount}")
    deal.expected_close_date = expected
    db.session.commit()
    return deal


def _known_deals(org):
    """The deals of the known-answer tests, dated around today in the organisation's zone."""
    org.timezone = ZONE
    db.session.commit()
    today = datetime.now(ZoneInfo(ZONE)).date()
    month, quarter = today.replace(day=1), quarter_start(today)
    rep, other = factories.user(org, "rep"), second_rep(org)
    _deal(org, "Proposal", "10000", month, rep, "A")  # 5,000 weighted: this month, this quarter
    _deal(org, "Discovery", "8000", add_months(month, 1), rep, "B")  # 2,000: next month
    _deal(org, "Negotiation", "40000", add_months(quarter, 5), rep, "C")  # 30,000: next quarter's last month
    _deal(org, "Qualified", "12345.67", add_months(quarter, 6), rep, "D")  # 1,234.567: later
    _deal(org, "Discovery", "5000", quarter - timedelta(days=1), rep, "E")  # 1,250: before this quarter
    _deal(org, "Proposal", "3000", None, rep, "F")  # 1,500: no date
    _deal(org, "Negotiation", "100000", month, other, "G")  # 75,000: this month, another rep's
    # Not open, or not this pipeline's, or not this organisation's: never counted.
    won = _deal(org, "Closed Won", "50000", month, rep, "Won")
    assert won.status == "won"
    lost = make_history(org, rep, [("Qualified", datetime.utcnow() - timedelta(days=2)),
                                   ("Closed Lost", datetime.utcnow() - timedelta(days=1))], amount="60000")
    lost.expected_close_date = month
    elsewhere = create_deal(create_pipeline(org, "Partners"), factories.user(org), title="Elsewhere", amount="70000")
    elsewhere.expected_close_date = month
    stranger = factories.make_org()
    _deal(stranger, "Negotiation", "80000", month, title="Stranger")
    db.session.commit()
    # Next month is in this quarter unless this month ends a quarter.
    return add_months(month, 1) < add_months(quarter, 3)


def test_a_manager_sees_the_teams_forecast_by_expected_close_date(client, org, login_as):
    next_month_in_this_quarter = _known_deals(org)
    pipeline = factories.pipeline(org)
    login_as("manager")
    today = datetime.now(ZoneInfo(ZONE)).date()
    month, quarter = today.replace(day=1), quarter_start(today)
    assert [row[:2] for row in _download(client, pipeline)] == [
        ["This month", month.strftime("%B %Y")], ["Next month", add_months(month, 1).strftime("%B %Y")],
        ["This quarter", _quarter(quarter)], ["Next quarter", _quarter(add_months(quarter, 3))],
        ["Later", f"from {_quarter(add_months(quarter, 6))}"],
        ["Before this quarter (date passed)", f"before {_quarter(quarter)}"], ["No expected close date", "—"],
        ["All open deals", "—"]]
    table = _table(client, pipeline)
    assert table["This month"] == ["2", "$110,000", "$80,000"]  # A 5,000 + G 75,000
    assert table["Next month"] == ["1", "$8,000", "$2,000"]  # B
    if next_month_in_this_quarter:
        assert table["This quarter"] == ["3", "$118,000", "$82,000"]  # A + B + G
        assert table["Next quarter"] == ["1", "$40,000", "$30,000"]  # C
    else:
        assert table["This quarter"] == ["2", "$110,000", "$80,000"]  # A + G
        assert table["Next quarter"] == ["2", "$48,000", "$32,000"]  # B + C
    # 12,345.67 × 10 / 100 = 1,234.567, rounded once to the cent.
    assert table["Later"] == ["1", "$12,345.67", "$1,234.57"]  # D
    assert table["Before this quarter (date passed)"] == ["1", "$5,000", "$1,250"]  # E
    assert table["No expected close date"] == ["1", "$3,000", "$1,500"]  # F
    # Every open deal: 5,000 + 2,000 + 30,000 + 1,234.567 + 1,250 + 1,500 + 75,000 = 115,984.567.
    assert table["All open deals"] == ["7", "$178,345.67", "$115,984.57"]

    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    assert "Forecast by expected close date" in page and "$115,984.57" in page
    assert f"with months and quarters in {ZONE}" in page
    assert "“All open deals” is the weighted forecast above" in page
    # The same total as GET /api/v1/metrics's forecast, whose definition (all open deals now) is unchanged.
    raw, _ = create_api_key(factories.user(org), "metrics")
    forecast = client.get(f"/api/v1/metrics?pipeline_id={pipeline.id}",
                          headers={"Authorization": f"Bearer {raw}"}).json["forecast"]
    assert (forecast["weighted"], forecast["open_count"]) == ("115984.57", 7)


def test_a_rep_sees_only_their_own_deals_by_expected_close_date(client, org, login_as):
    next_month_in_this_quarter = _known_deals(org)
    pipeline = factories.pipeline(org)
    login_as("rep")
    table = _table(client, pipeline)
    assert table["This month"] == ["1", "$10,000", "$5,000"]  # A; G is the other rep's
    assert table["This quarter"] == (["2", "$18,000", "$7,000"] if next_month_in_this_quarter
                                     else ["1", "$10,000", "$5,000"])
    # 115,984.567 - G's 75,000 = 40,984.567.
    assert table["All open deals"] == ["6", "$78,345.67", "$40,984.57"]
    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    assert "Open deals of yours now" in page and "$100,000" not in page


def test_months_and_quarters_are_the_organisations(org):
    pipeline = factories.pipeline(org)
    _deal(org, "Proposal", "10000", date(2026, 4, 15), title="Mid April")  # 5,000 weighted
    _deal(org, "Discovery", "4000", date(2026, 3, 31), title="Last of March")  # 1,000 weighted
    # 22:30 UTC on 31 March 2026 is already 00:30 on 1 April in Berlin (summer time since 29 March).
    now = datetime(2026, 3, 31, 22, 30)
    utc = {r["key"]: (r["open_count"], str(r["weighted"])) for r in by_expected_close(pipeline, org, now)}
    assert utc["this_month"] == utc["this_quarter"] == (1, "1000.00")  # March, Q1
    assert utc["next_month"] == utc["next_quarter"] == (1, "5000.00")  # April, Q2
    org.timezone = "Europe/Berlin"
    db.session.commit()
    berlin = {r["key"]: (r["open_count"], str(r["weighted"])) for r in by_expected_close(pipeline, org, now)}
    assert berlin["this_month"] == berlin["this_quarter"] == (1, "5000.00")  # April, Q2
    assert berlin["earlier"] == (1, "1000.00")  # 31 March has passed there
    assert berlin["next_month"] == berlin["next_quarter"] == (0, "0.00")


def test_forecast_categories_are_cumulative_and_name_their_stages(client, org, login_as):
    """Issue 19 item 3: commit ⊆ best case ⊆ pipeline, this quarter's and every open deal's, known answers."""
    import csv as csv_module
    import io
    from datetime import datetime, timedelta

    from app.extensions import db
    from app.reports.forecast import forecast_category
    from app.reports.service import add_months, local_today, quarter_start
    from tests import factories
    from tests.reports.history import make_history

    pipeline = factories.pipeline(org)
    by_name = {s.name: s for s in pipeline.stages}
    assert [forecast_category(by_name[n]) for n in ("Discovery", "Proposal", "Negotiation")] == \
        ["pipeline", "best_case", "commit"]  # 25 %, 50 %, 75 %
    rep, t0 = factories.user(org, "rep"), datetime.utcnow() - timedelta(days=10)
    today = local_today(org.zone)
    next_quarter = add_months(quarter_start(today), 3) + timedelta(days=1)
    path = ["Qualified", "Discovery", "Proposal", "Negotiation"]
    for stage, amount, close in (("Negotiation", "10000", today), ("Proposal", "20000", today),
                                 ("Discovery", "8000", None), ("Proposal", "4000", next_quarter)):
        steps = path[:path.index(stage) + 1]
        deal = make_history(org, rep, [(s, t0 + timedelta(days=i)) for i, s in enumerate(steps)], amount=amount)
        deal.expected_close_date = close
    db.session.commit()
    login_as("manager")
    body = client.get(f"/reports/{pipeline.id}/export?table=forecast_categories").get_data(as_text=True)
    rows = {r[0]: r[1:] for r in csv_module.reader(io.StringIO(body.lstrip("\ufeff")))}
    # This quarter: Negotiation 10,000 (7,500 weighted) and Proposal 20,000 (10,000). All open adds the
    # undated Discovery 8,000 (2,000) and next quarter's Proposal 4,000 (2,000).
    assert rows["Category"] == ["Stages", "Deals this quarter", "Weighted this quarter", "Amount this quarter",
                                    "All open deals", "Weighted, all open", "Amount, all open", "Currency"]
    assert rows["Commit"] == ["Negotiation", "1", "7500.00", "10000.00", "1", "7500.00", "10000.00", "USD"]
    assert rows["Best case (with commit)"] == ["Proposal, Negotiation", "2", "17500.00", "30000.00", "3", "19500.00",
                                              "34000.00", "USD"]
    assert rows["Pipeline (every open deal: best case and commit included)"][1:] == \
        ["2", "17500.00", "30000.00", "4", "21500.00", "42000.00", "USD"]
    page = client.get(f"/reports/{pipeline.id}").get_data(as_text=True)
    assert "commit ⊆ best case ⊆ pipeline" in page
