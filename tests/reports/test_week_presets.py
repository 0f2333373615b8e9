"""The meeting's periods: "this week" and "last week", Monday first, in the organisation's time zone."""

import re
from datetime import date, datetime, timedelta

from app.extensions import db
from app.reports.service import parse_period
from tests import factories
from tests.reports.history import make_history


def test_the_week_turns_at_monday_midnight_in_the_organisations_zone(org):
    org.timezone = "America/New_York"
    db.session.commit()
    sunday_late = datetime(2026, 12, 7, 4, 30)  # Sunday 6 December, 23:30 in New York; Monday in UTC
    this_week = parse_period({"preset": "this_week"}, org, now=sunday_late)
    assert (this_week.start, this_week.end) == (date(2026, 11, 30), date(2026, 12, 7))
    assert this_week.utc_start == datetime(2026, 11, 30, 5)  # midnight in New York (EST)
    last_week = parse_period({"preset": "last_week"}, org, now=sunday_late)
    assert (last_week.start, last_week.end) == (date(2026, 11, 23), date(2026, 11, 30))
    monday = parse_period({"preset": "this_week"}, org, now=sunday_late + timedelta(hours=1))  # 00:30 Monday
    assert (monday.start, monday.end) == (date(2026, 12, 7), date(2026, 12, 14))


def test_the_report_page_offers_the_weeks_and_counts_a_deal_in_this_week_only(client, org, login_as):
    org.timezone = "Europe/Berlin"
    db.session.commit()
    now = datetime.utcnow()
    week = parse_period({"preset": "this_week"}, org, now=now)
    fresh = now - min(timedelta(hours=1), (now - week.utc_start) / 2)  # in this Berlin week, in the past
    make_history(org, factories.user(org, "rep"), [("Qualified", fresh)], title="Fresh deal")
    make_history(org, factories.user(org, "rep"), [("Qualified", week.utc_start - timedelta(minutes=1))],
                 title="Older deal")  # Sunday 23:59 in Berlin: last week
    login_as("manager")
    pipeline = factories.pipeline(org)
    page = client.get(f"/reports/{pipeline.id}?preset=this_week").get_data(as_text=True)
    assert re.search(r'preset=last_week"[^>]*>Last week</a>', page)
    qualified = factories.stage(pipeline, "Qualified").id
    this_week = client.get(f"/reports/{pipeline.id}/deals?metric=stage_conversion&stage_id={qualified}"
                           "&preset=this_week").get_data(as_text=True)
    assert "Fresh deal" in this_week and "Older deal" not in this_week
    last_week = client.get(f"/reports/{pipeline.id}/deals?metric=stage_conversion&stage_id={qualified}"
                           "&preset=last_week").get_data(as_text=True)
    assert "Older deal" in last_week and "Fresh deal" not in last_week
