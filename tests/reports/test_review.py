"""The weekly review and the deal audit over HTTP: what changed since last week, exactly."""

from datetime import date, datetime, timedelta

from app.deals.service import update_deal
from app.extensions import db
from app.models import Activity, DealFieldChange
from tests import factories
from tests.reports.history import make_history


def test_weekly_review_lists_each_change_of_the_week_per_rep(client, org, login_as):
    rep = factories.user(org, "rep")
    now = datetime.utcnow()
    old = now - timedelta(days=30)
    make_history(org, rep, [("Qualified", old), ("Discovery", now - timedelta(days=2))], title="Advanced deal")
    make_history(org, rep, [("Qualified", old), ("Discovery", old + timedelta(days=1)),
                            ("Qualified", now - timedelta(days=1))], title="Backward deal")
    make_history(org, rep, [("Qualified", old), ("Closed Lost", now - timedelta(days=3))], title="Lost deal")
    make_history(org, rep, [("Qualified", old), ("Discovery", old + timedelta(days=2))], title="Quiet stale deal")
    make_history(org, rep, [("Qualified", now - timedelta(hours=5))], title="Brand new deal")
    edited = make_history(org, rep, [("Qualified", old)], title="Repriced deal", amount="1000")
    update_deal(edited, rep, version=edited.version, amount="2500", next_step_due=date.today() + timedelta(days=2))
    update_deal(edited, rep, version=edited.version, next_step_due=date.today() + timedelta(days=9))
    assert DealFieldChange.query.filter_by(deal_id=edited.id).count() == 3  # amount, date set, date pushed
    login_as("manager")
    page = client.get(f"/reports/{factories.pipeline(org).id}/review").get_data(as_text=True)
    section = page[page.index(rep.name):]
    for expected in ("Advanced deal", "Backward deal", "Lost deal", "Brand new deal", "Repriced deal",
                     "1000.00 → 2500.00", "next step pushed from", "Quiet stale deal"):
        assert expected in section, expected
    assert "Moved back" in section and "Amount changed" in section
    assert "Quiet stale deal" not in section.split("Needs attention")[0]  # it did not change this week


def test_deal_audit_shows_activities_beside_the_facts_that_let_each_move_through(client, org, login_as):
    rep = factories.user(org, "rep")
    t0 = datetime.utcnow() - timedelta(days=9)
    deal = make_history(org, rep, [("Qualified", t0), ("Discovery", t0 + timedelta(days=2)),
                                   ("Closed Lost", t0 + timedelta(days=4))], title="Audited deal")
    db.session.add(Activity(org_id=org.id, deal_id=deal.id, user_id=rep.id, kind="call", body="Talked budget",
                            at=t0 + timedelta(days=1)))
    db.session.commit()
    login_as("manager")
    page = client.get(f"/reports/{factories.pipeline(org).id}/audit").get_data(as_text=True)
    assert "Audited deal" in page and "Talked budget" in page
    assert "Qualified → Discovery" in page
    assert "Let through by: Budget range captured, Decision maker identified" in page
    assert "Reason: Price" in page
