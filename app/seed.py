"""The demo organisation: idempotent, built through the real services (and so the gate)."""

import random
from datetime import timedelta

from app.auth.service import create_organization, create_user
from app.deals.service import create_deal, move_deal, record_buyer_fact
from app.extensions import db
from app.models import Organization, Pipeline, User, utcnow

DEMO_SLUG = "demo-agency"
DEMO_ADMIN = "admin@demo.example.com"
DEMO_PASSWORD = "stagegate-demo"
PEOPLE = [
    ("manager@demo.example.com", "Morgan Reyes", "manager"),
    ("rep@demo.example.com", "Riley Chen", "rep"),
    ("sam@demo.example.com", "Sam Okafor", "rep"),
]
COMPANIES = ["Northwind", "Acme Logistics", "Bluebird Dental", "Copperline", "Evergreen Realty",
             "Fjord Analytics", "Granite Insurance", "Harbor & Co", "Ion Labs", "Juniper Health",
             "Kestrel Media", "Lumen Schools", "Maple Freight", "Nimbus Cloud", "Orchard Foods"]
VALUES = {
    "checkbox": True, "long_text": "Documented on the call; see notes.", "text": "Agreed on the call",
    "money": "25000.00", "number": 10, "email": "buyer@example.com", "url": "https://example.com",
}


def _value(field, i):
    if field.type == "date":
        return (utcnow().date() + timedelta(days=10 + i % 20)).isoformat()
    if field.type == "choice":
        return field.choices[0]
    if field.type == "contact":
        return f"dm{i}@{COMPANIES[i % len(COMPANIES)].split()[0].lower()}.example"
    return VALUES[field.type]


def seed_demo() -> tuple[Organization, bool]:
    """Create the demo organisation once; return it and whether it was created now."""
    org = Organization.query.filter_by(slug=DEMO_SLUG).first()
    if org is not None:
        seed_demo_sequence(org)
        return org, False
    org = create_organization("Demo Agency", DEMO_ADMIN, DEMO_PASSWORD, admin_name="Alex Admin",
                              templates=["article", "b2b"], buyer_confirms=True)
    org.slug = DEMO_SLUG
    db.session.commit()
    users = [User.query.filter_by(email=DEMO_ADMIN).one()]
    users += [create_user(org, email, name, role, DEMO_PASSWORD) for email, name, role in PEOPLE]
    rng = random.Random(7)
    for pipeline in Pipeline.query.filter_by(org_id=org.id).order_by(Pipeline.id):
        _seed_deals(pipeline, users, rng)
    seed_leads(org)
    seed_demo_sequence(org)
    _seed_report_history(org, users, rng)
    org.demo_room_link = seed_demo_room(org)  # printed by `flask seed-demo` (only its hash is kept)
    return org, True


def seed_demo_room(org) -> str:
    """A deal room on one open deal of the article pipeline: a plan, a thread, a date the buyer proposed,
    a colleague waiting for approval, and the rep's booking hours; return the buyer's link ("" if none)."""
    from app.booking.hours import save_hours, window_field
    from app.models import Deal, DealRoom
    from app.rooms.service import add_step, complete_seller_step, invite, invite_by_token, open_room
    from app.rooms.thread import ask_colleague, buyer_comment, propose_date, seller_comment
    from app.sequences.sending import base_url

    rep = User.query.filter_by(org_id=org.id, email="rep@demo.example.com").first()
    if rep is None or DealRoom.query.filter_by(org_id=org.id).first() is not None:
        return ""
    deal = (Deal.query.filter_by(org_id=org.id, owner_id=rep.id, status="open")
            .order_by(Deal.company_id.is_(None), Deal.amount.desc(), Deal.id).first())
    if deal is None:
        return ""
    values = {"timezone": "", "lengths": ["30", "60"], "notice_hours": "4", "horizon_days": "21"}
    for day in range(5):
        values[window_field(day, 0, "start")], values[window_field(day, 0, "end")] = "09:00", "12:00"
        values[window_field(day, 1, "start")], values[window_field(day, 1, "end")] = "13:00", "17:00"
    save_hours(rep, values)
    room, _ = open_room(deal, rep)
    today = utcnow().date()
    kickoff = add_step(room, rep, title="Share the security questionnaire answers", side="seller",
                       due_on=(today + timedelta(days=2)).isoformat())
    complete_seller_step(room, rep, kickoff.id)
    add_step(room, rep, title="Legal reviews the MSA", side="buyer", due_on=(today + timedelta(days=7)).isoformat())
    company = (deal.company.name if deal.company is not None else "buyer").split()[0].lower()
    link = invite(room, rep, f"dana.ortiz@{company}.example", base_url=base_url(org.id))
    link.invite.contact.name = link.invite.contact.name or "Dana Ortiz"
    db.session.commit()
    buyer = invite_by_token(link.url.rsplit("/", 1)[1])
    buyer_comment(buyer, "Our CFO signs off on Thursdays. Can we plan the proposal review around that?")
    seller_comment(deal, rep, "Thursday works for us. I have put the review on the plan.")
    legal = next(s for s in room.steps if s.title == "Legal reviews the MSA")
    propose_date(buyer, legal.id, (today + timedelta(days=10)).isoformat(), "Our counsel is away next week")
    ask_colleague(buyer, f"sam.lee@{company}.example", "Sam Lee")
    return link.url


DEMO_SEQUENCE = "Cold outreach: 3 touches in 2 weeks"


def seed_demo_sequence(org) -> None:
    """Add the demo sequence (email, follow-up, call, LinkedIn, break-up email) once."""
    from app.models import Sequence
    from app.sequences.service import save_sequence

    if Sequence.query.filter_by(org_id=org.id, name=DEMO_SEQUENCE).first() is not None:
        return
    manager = User.query.filter_by(org_id=org.id, role="manager").order_by(User.id).first() \
        or User.query.filter_by(org_id=org.id, role="admin").order_by(User.id).first()
    save_sequence(manager, {"name": DEMO_SEQUENCE, "steps": [
        {"type": "email", "wait_days": 0, "subject": "{{company}} and your pipeline",
         "body": "Hi {{first_name}},\n\nTeams like {{company}} use Stagegate to stop deals slipping between "
                 "stages. Worth a 15-minute call next week?\n\n{{owner_name}}"},
        {"type": "email", "wait_days": 3, "subject": "Re: {{company}} and your pipeline",
         "body": "Hi {{first_name}}, bumping this in case it got buried. Is pipeline hygiene on your list "
                 "this quarter?\n\n{{owner_name}}"},
        {"type": "call", "wait_days": 2, "body": "Call {{name}}: ask about their current CRM and stage rules."},
        {"type": "linkedin", "wait_days": 2, "body": "Connect with {{name}}; mention the emails."},
        {"type": "email", "wait_days": 5, "subject": "Close the loop?",
         "body": "Hi {{first_name}}, I will stop writing after this one. If timing is wrong, just say so "
                 "and I will check back next quarter.\n\n{{owner_name}}"},
    ]})


def _seed_deals(pipeline, users, rng) -> None:
    opens = pipeline.open_stages
    manager = users[1]
    for i in range(24):
        owner = users[2 + i % 2] if i % 5 else users[1]
        first = opens[0]
        facts = {f.key: _value(f, i) for f in first.required_fields("entry")}
        age = rng.randint(3, 60)
        created = utcnow() - timedelta(days=age, hours=rng.randint(0, 20))
        deal = create_deal(pipeline, manager, title=f"{COMPANIES[i % len(COMPANIES)]} — {pipeline.name.split()[0]} {i + 1}",
                           owner=owner, amount=rng.choice([4800, 12000, 25000, 48000, 90000]),
                           facts=facts, created_at=created,
                           # Spread over the next months, a few already passed (no rng draw: the rest of
                           # the demo stays as it was).
                           expected_close_date=(created + timedelta(days=40 + (i * 11) % 90)).date())
        steps = rng.randint(0, len(opens))
        at = created
        for target in (opens[1:] + [pipeline.stage_by_kind("won")])[:steps]:
            needs = _needs(deal, target)
            needed = {r.field.key: _value(r.field, i) for r in needs if not r.buyer}
            at = at + timedelta(days=rng.randint(1, max(1, age // (steps + 1))), hours=1)
            if at >= utcnow():
                break
            _buyer_confirms(deal, [r for r in needs if r.buyer], i)
            move_deal(deal, target, manager, facts=needed, at=at)
        if i % 9 == 4 and deal.status == "open":
            move_deal(deal, pipeline.stage_by_kind("lost"), manager, reason="Timing")


def _buyer_confirms(deal, requirements, i) -> None:
    """The demo's buyers confirm what only a buyer can (the templates mark those), as the room would:
    a demo deal past Proposal has its acknowledgement from its buyer, not typed by the rep."""
    if not requirements:
        return
    buyer = f"dm{i}@{COMPANIES[i % len(COMPANIES)].split()[0].lower()}.example"
    for r in requirements:
        record_buyer_fact(deal, r.field.key, "Demo Buyer", buyer, utcnow().date() + timedelta(days=10 + i % 20))
    db.session.commit()


def _needs(deal, target):
    from app.deals.service import plan_move

    return plan_move(deal, target).requirements


LEADS = [  # (email, name, company, industry, size, title, events)
    ("jo@harborinsure.example", "Jo Harper", "Harbor Insurance", "Insurance", "25", "Owner",
     ["form_fill", "email_click", "meeting_booked"]),
    ("kim@ledgerly.example", "Kim Ortiz", "Ledgerly", "Accounting", "60", "Head of Sales", ["form_fill", "email_reply"]),
    ("lou@gmail.com", "Lou Park", "", "", "", "", ["page_view", "page_view", "form_fill"]),
    ("max@brightdental.example", "Max Weber", "Bright Dental", "Healthcare", "12", "Practice manager", ["email_open"]),
]


def seed_leads(org) -> None:
    """An ICP, a lead form and a few scored leads (idempotent: skipped once the form exists)."""
    from app.leads import lead_forms, scoring, settings
    from app.leads.service import create_or_update_lead
    from app.models.leads import LeadForm

    if LeadForm.query.filter_by(org_id=org.id).first() is not None:
        return
    admin = User.query.filter_by(org_id=org.id, role="admin").order_by(User.id).first()
    settings.save_icp(admin, {"icp_industries": "Insurance, Accounting", "icp_sizes": "11-50, 51-200",
                              "icp_titles": "Owner, Head of Sales", "icp_countries": "",
                              "icp_pains": "Leads answered too late; no follow-up discipline",
                              "icp_triggers": "New sales hire; missed quarter"})
    lead_forms.save_form(admin, {"name": "Book a demo", "title": "Book a 20-minute demo", "high_intent": "1",
                                 "intro": "Tell us a little about you and we will call you back within minutes.",
                                 "consent_text": "I agree to be contacted about Stagegate.",
                                 "follow_up_minutes": "15"},
                         [{"maps_to": "email", "label": "Work email", "required": True},
                          {"maps_to": "name", "label": "Your name", "required": True},
                          {"maps_to": "company", "label": "Company", "required": False},
                          {"maps_to": "phone", "label": "Phone", "required": False},
                          {"maps_to": "message", "label": "What should we prepare?", "required": False}])
    for email, name, company, industry, size, title, events in LEADS:
        contact, _created, _result = create_or_update_lead(admin, {
            "email": email, "name": name, "company": company, "industry": industry, "company_size": size,
            "title": title, "source": "Seed"})
        for i, kind in enumerate(events):
            scoring.record_event(contact, kind, utcnow() - timedelta(days=len(events) - i))


def _seed_report_history(org, users, rng) -> None:
    """Give the reports something to show: calls on deals, repricing and next steps this week, a snapshot."""
    from app.contacts.service import log_activity
    from app.deals.service import update_deal
    from app.models import Deal
    from app.reports.forecast import snapshot_forecasts

    manager = users[1]
    for deal in Deal.query.filter_by(org_id=org.id).order_by(Deal.id):
        start = deal.created_at + timedelta(hours=3)
        if start < utcnow():
            log_activity(manager, rng.choice(["call", "meeting", "note"]),
                         rng.choice(["Discovery call with the buyer", "Walked through pricing",
                                     "Sent the case study they asked for"]), deal=deal, at=start)
        if deal.status == "open" and deal.id % 4 == 1:
            update_deal(deal, manager, version=deal.version, amount=str(int(deal.amount or 0) + 2500),
                        next_step="Call the decision maker", next_step_due=utcnow().date() + timedelta(days=3))
    snapshot_forecasts()
