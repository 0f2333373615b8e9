"""Lapsed points fall away, unanswered hot leads escalate once, the clock honours business hours,
speed-to-lead per rep, and rescoring everyone shows progress."""

from datetime import datetime, timedelta

from app.extensions import db
from app.leads import scoring
from app.leads.routing import clock_start
from app.leads.service import speed_to_lead
from app.leads.sweeps import run_lead_sweeps
from app.models import Activity, Contact, Notification, Organization, utcnow
from app.models.leads import LeadCrossing, LeadSettings
from tests import factories
from tests.factories import make_contact
from tests.leads.test_scoring import LEE


def test_points_fall_away_when_they_lapse_and_the_timeline_says_so(org):
    contact = make_contact(org, "lee@acme.example", **LEE)
    scoring.record_event(contact, "meeting_booked", utcnow() - timedelta(days=89))
    assert db.session.get(Contact, contact.id).score_level == "mql"
    result = run_lead_sweeps(utcnow() + timedelta(days=2))
    assert result["lapsed"] == 1
    contact = db.session.get(Contact, contact.id)
    assert (contact.lead_score, contact.score_level, contact.score_expires_at) == (0, "new", None)
    assert Activity.query.filter(Activity.contact_id == contact.id, Activity.body.like("Fell back to New%")).count() == 1
    assert run_lead_sweeps(utcnow() + timedelta(days=3))["lapsed"] == 0


def _hot_lead(org, email="hot@acme.example"):
    contact = make_contact(org, email, **LEE)
    scoring.record_event(contact, "meeting_booked")
    scoring.record_event(contact, "meeting_booked")
    return db.session.get(Contact, contact.id)


def test_an_untouched_hot_lead_escalates_to_the_managers_once(org):
    _hot_lead(org)
    assert run_lead_sweeps(utcnow() + timedelta(minutes=1))["escalated"] == 0  # still inside the window
    later = utcnow() + timedelta(minutes=6)
    assert run_lead_sweeps(later)["escalated"] == 1
    assert run_lead_sweeps(later + timedelta(minutes=5))["escalated"] == 0
    alerts = Notification.query.filter_by(kind="lead_late").all()
    managers = {factories.user(org, "manager").id, factories.user(org, "admin").id}
    assert {n.user_id for n in alerts} == managers and len(alerts) == 2
    assert "Lee is still waiting" in alerts[0].text


def test_a_hot_lead_that_was_called_does_not_escalate(org):
    contact = _hot_lead(org)
    db.session.add(Activity(org_id=org.id, contact_id=contact.id, kind="call", body="Spoke to them",
                            user_id=contact.owner_id))
    db.session.commit()
    assert run_lead_sweeps(utcnow() + timedelta(minutes=10))["escalated"] == 0


def test_business_hours_hold_the_clock_until_the_next_opening(org):
    settings = LeadSettings.query.filter_by(org_id=org.id).one()
    settings.hours_start, settings.hours_end, settings.hours_days = 9, 17, "12345"
    db.session.get(Organization, org.id).timezone = "Europe/Berlin"
    db.session.commit()
    friday_night = datetime(2026, 11, 27, 20, 0)  # 21:00 in Berlin, a Friday
    assert clock_start(friday_night, settings) == datetime(2026, 11, 30, 8, 0)  # Monday 09:00 Berlin
    tuesday_noon = datetime(2026, 12, 1, 11, 0)
    assert clock_start(tuesday_noon, settings) == tuesday_noon


def _clock(org, owner, started, touched_after=None, email=None):
    contact = make_contact(org, email or f"c{started.timestamp()}{owner.id}@x.example", **LEE, owner_id=owner.id)
    db.session.add(LeadCrossing(org_id=org.id, contact_id=contact.id, kind="arrival", at=started, clock_at=started,
                                owner_id=owner.id, unique_key=f"arrival:t:{contact.id}"))
    if touched_after is not None:
        db.session.add(Activity(org_id=org.id, contact_id=contact.id, kind="email", body="Hi",
                                at=started + timedelta(minutes=touched_after)))
    db.session.commit()


def test_speed_to_lead_gives_median_and_share_within_five_minutes_per_rep(org):
    rep, manager = factories.user(org, "rep"), factories.user(org, "manager")
    base = utcnow() - timedelta(days=2)
    _clock(org, rep, base, 3)
    _clock(org, rep, base + timedelta(hours=1), 20)
    _clock(org, rep, base + timedelta(hours=2))  # never touched: a miss
    _clock(org, manager, base + timedelta(hours=3), 1)
    figures = speed_to_lead(org.id, base - timedelta(days=1), utcnow())
    assert figures["n"] == 4 and figures["median_minutes"] == 3.0
    assert figures["within_window_share"] == 0.5
    by_rep = {row["owner_email"]: row for row in figures["by_rep"]}
    assert by_rep[rep.email]["median_minutes"] == 11.5 and by_rep[rep.email]["within_window_share"] == 0.3333
    assert by_rep[manager.email]["n"] == 1
    only_rep = speed_to_lead(org.id, base - timedelta(days=1), utcnow(), owner_id=rep.id)
    assert only_rep["n"] == 3
    assert speed_to_lead(org.id, utcnow(), utcnow() + timedelta(days=1))["median_minutes"] is None


def test_saving_the_icp_rescores_everyone_in_the_background_with_progress(client, org, login_as, drain):
    for i in range(5):
        make_contact(org, f"p{i}@ins.example", **LEE, lead_facts={"industry": "Insurance"})
    make_contact(org, "other@bank.example", **LEE, lead_facts={"industry": "Banking"})
    login_as("admin")
    response = client.post("/leads/settings/icp", data={"icp_industries": "Insurance, Accounting"})
    assert response.status_code == 303
    progress = client.get("/leads/settings/rescore").get_data(as_text=True)
    assert "Rescoring every contact: 0 of 6" in progress and "hx-get" in progress
    drain()
    done = client.get("/leads/settings/rescore").get_data(as_text=True)
    assert "Every contact is scored" in done and "hx-get" not in done
    scores = {c.email: c.lead_score for c in Contact.query.filter_by(org_id=org.id)}
    assert scores["p0@ins.example"] == 20 and scores["other@bank.example"] == 0
