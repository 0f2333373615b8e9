"""The demo organisation: idempotent, built through the real services (and so the gate)."""

import random
from datetime import timedelta

from app.auth.service import create_organization, create_user
from app.deals.service import create_deal, move_deal
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
        return org, False
    org = create_organization("Demo Agency", DEMO_ADMIN, DEMO_PASSWORD, admin_name="Alex Admin",
                              templates=["article", "b2b"])
    org.slug = DEMO_SLUG
    db.session.commit()
    users = [User.query.filter_by(email=DEMO_ADMIN).one()]
    users += [create_user(org, email, name, role, DEMO_PASSWORD) for email, name, role in PEOPLE]
    rng = random.Random(7)
    for pipeline in Pipeline.query.filter_by(org_id=org.id).order_by(Pipeline.id):
        _seed_deals(pipeline, users, rng)
    _seed_report_history(org, users, rng)
    return org, True


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
                           facts=facts, created_at=created)
        steps = rng.randint(0, len(opens))
        at = created
        for target in (opens[1:] + [pipeline.stage_by_kind("won")])[:steps]:
            needed = {r.field.key: _value(r.field, i) for r in _needs(deal, target)}
            at = at + timedelta(days=rng.randint(1, max(1, age // (steps + 1))), hours=1)
            if at >= utcnow():
                break
            move_deal(deal, target, manager, facts=needed, at=at)
        if i % 9 == 4 and deal.status == "open":
            move_deal(deal, pipeline.stage_by_kind("lost"), manager, reason="Timing")


def _needs(deal, target):
    from app.deals.service import plan_move

    return plan_move(deal, target).requirements


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
