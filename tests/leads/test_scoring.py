"""The scoring service: defaults, breakdown, lapse, crossings fired once, routing."""

from datetime import timedelta

from app.extensions import db
from app.leads.scoring import record_event, rescore
from app.models import Activity, Company, Contact, Deal, Notification, Task, User, utcnow
from app.models.leads import EngagementRule, FitRule, LeadCrossing, LeadSettings
from tests import factories
from tests.factories import make_contact

LEE = {"name": "Lee", "company": None}  # a lead with no company record


def tasks_of(contact, kind):
    return Task.query.filter_by(contact_id=contact.id, kind=kind).all()


def test_new_organisation_gets_the_default_engagement_points_and_thresholds(org):
    rules = {r.event_type: (r.points, r.daily_cap) for r in EngagementRule.query.filter_by(org_id=org.id)}
    assert rules == {"meeting_booked": (40, None), "email_reply": (25, None), "form_fill": (20, None),
                     "email_click": (5, None), "page_view": (1, 10), "email_open": (0, None)}
    settings = LeadSettings.query.filter_by(org_id=org.id).one()
    assert (settings.mql_threshold, settings.hot_threshold, settings.lapse_days) == (40, 70, 90)
    assert FitRule.query.filter_by(org_id=org.id).count() == 0


def test_a_form_fill_scores_20_with_its_reason(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    result = record_event(contact, "form_fill")
    assert (result.score, result.fit, result.engagement, result.level) == (20, 0, 20, "new")
    assert [item["rule"] for item in result.breakdown] == ["form fill"]
    assert db.session.get(Contact, contact.id).lead_score == 20


def test_page_views_count_at_most_ten_a_day(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    for _ in range(14):
        result = record_event(contact, "page_view")
    assert result.engagement == 10
    assert "daily cap" in result.breakdown[0]["rule"]


def test_email_opens_score_nothing(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    assert record_event(contact, "email_open").score == 0


def test_fit_rules_add_points_named_by_what_matched(org):
    db.session.add(FitRule(org_id=org.id, field="industry", operator="in", value="Insurance, Banking", points=15))
    db.session.add(FitRule(org_id=org.id, field="company_size", operator="in", value="11-50", points=10))
    db.session.commit()
    contact = make_contact(org, "lee@acme.example", **LEE, lead_facts={"industry": "Insurance", "company_size": "25"})
    result = rescore(contact)
    assert result.fit == 25
    assert {"rule": "industry Insurance", "points": 15} in result.breakdown


def test_points_lapse_after_90_days(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    record_event(contact, "meeting_booked", utcnow() - timedelta(days=91))
    assert db.session.get(Contact, contact.id).lead_score == 0
    result = record_event(contact, "meeting_booked", utcnow() - timedelta(days=89))
    assert result.score == 40
    assert result.expires_at is not None and result.expires_at < utcnow() + timedelta(days=2)


def test_crossing_mql_then_hot_creates_one_task_of_each_and_routes_to_a_rep(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    record_event(contact, "meeting_booked")  # 40: MQL
    record_event(contact, "meeting_booked")  # 80: hot
    for _ in range(3):
        record_event(contact, "email_reply")  # still hot: nothing new
    contact = db.session.get(Contact, contact.id)
    assert contact.lead_status == "hot"
    assert len(tasks_of(contact, "lead_follow_up")) == 1
    assert len(tasks_of(contact, "hot_lead")) == 1
    rep = factories.user(org, "rep")
    assert contact.owner_id == rep.id
    hot = tasks_of(contact, "hot_lead")[0]
    assert hot.owner_id == rep.id and hot.due_at <= utcnow() + timedelta(minutes=5)
    assert Notification.query.filter_by(user_id=rep.id, kind="lead_hot").count() == 1
    changes = Activity.query.filter_by(contact_id=contact.id, kind="lead").all()
    assert sorted(a.body.split(" at ")[0] for a in changes) == ["Became Hot", "Became MQL"]


def test_rescoring_the_same_facts_twice_fires_nothing_more(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    record_event(contact, "meeting_booked")
    rescore(contact)
    rescore(contact)
    assert LeadCrossing.query.filter_by(contact_id=contact.id).count() == 1


def test_a_crossing_with_a_taken_unique_key_is_skipped_not_duplicated(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    db.session.add(LeadCrossing(org_id=org.id, contact_id=contact.id, kind="mql", unique_key=f"mql:{contact.id}:1"))
    db.session.commit()
    db.session.query(LeadCrossing).delete()  # the count says 0, the key is gone: simulate a racing writer
    db.session.add(LeadCrossing(org_id=org.id, contact_id=contact.id, kind="hot", unique_key=f"mql:{contact.id}:1"))
    db.session.commit()
    result = record_event(contact, "meeting_booked")
    assert result.level == "mql" and result.crossed == []
    assert tasks_of(contact, "lead_follow_up") == []


def test_a_lead_at_a_known_company_goes_to_the_company_owner(org):
    manager = factories.user(org, "manager")
    company = Company(org_id=org.id, name="Acme", domain="acme.example")
    db.session.add(company)
    db.session.flush()
    db.session.add(Contact(org_id=org.id, email="boss@acme.example", company_id=company.id, owner_id=manager.id))
    db.session.commit()
    contact = make_contact(org, "new.person@acme.example", **LEE)
    record_event(contact, "meeting_booked")
    assert db.session.get(Contact, contact.id).owner_id == manager.id
    assert tasks_of(contact, "lead_follow_up")[0].owner_id == manager.id


def test_round_robin_skips_deactivated_reps_and_honours_weights(org):
    from app.auth.service import create_user

    second = create_user(org, "second@rr.example", "Second Rep", "rep", factories.PASSWORD)
    gone = create_user(org, "gone@rr.example", "Gone Rep", "rep", factories.PASSWORD)
    gone.active = False
    first = factories.user(org, "rep")
    settings = LeadSettings.query.filter_by(org_id=org.id).one()
    settings.routing_weights = {str(second.id): 2}
    db.session.commit()
    owners = []
    for i in range(6):
        contact = make_contact(org, f"rr{i}@freemail.example", **LEE)
        record_event(contact, "meeting_booked")
        owners.append(db.session.get(Contact, contact.id).owner_id)
    assert owners.count(second.id) == 4 and owners.count(first.id) == 2
    assert gone.id not in owners
    assert db.session.get(User, gone.id).active is False
    assert Deal.query.count() == 0
