"""Test data built through the real services."""

import itertools

from app.auth.service import create_organization, create_user
from app.deals.service import create_deal, move_deal
from app.extensions import db
from app.models import Company, Contact, Pipeline, User

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def make_org(name=None, templates=("article",), buyer_confirms=False):
    """Create an organisation with an admin, a manager and a rep.

    `buyer_confirms`: with the templates' buyer marks (facts only the buyer's confirmation in the deal
    room meets), as sign-up gives them; off by default, so deals can be built by typing every fact.
    """
    n = next(_seq)
    org = create_organization(name or f"Org {n}", f"admin{n}@org{n}.example.com", PASSWORD,
                              admin_name=f"Ada Admin{n}", templates=list(templates), buyer_confirms=buyer_confirms)
    create_user(org, f"manager{n}@org{n}.example.com", f"Max Manager{n}", "manager", PASSWORD)
    create_user(org, f"rep{n}@org{n}.example.com", f"Rae Rep{n}", "rep", PASSWORD)
    return org


def user(org, role="admin"):
    return User.query.filter_by(org_id=org.id, role=role).order_by(User.id).first()


def pipeline(org, name="Article five-stage"):
    return Pipeline.query.filter_by(org_id=org.id, name=name).one()


def stage(pipeline_, name):
    return next(s for s in pipeline_.stages if s.name == name)


def full_facts(pipeline_, stage_, when="entry"):
    """Valid values for every field `stage_` requires on `when`."""
    from tests.values import sample_value

    return {f.key: sample_value(f) for f in stage_.required_fields(when)}


def facts_from_start(pipeline_, stage_):
    """Valid values for everything a deal created in `stage_` needs (every stage up to it)."""
    from app.deals.service import requirements_from_start
    from tests.values import sample_value

    return {r.field.key: sample_value(r.field) for r in requirements_from_start(pipeline_, stage_)}


def make_contact(org, email="pat@prospect.example", name="Pat Prospect", company="Prospect Inc", **values):
    """Store a contact of `org` at the named company (made when new; None for no company)."""
    if company:
        company_row = Company.query.filter_by(org_id=org.id, name=company).first() or Company(org_id=org.id, name=company)
        db.session.add(company_row)
        db.session.flush()
        values["company_id"] = company_row.id
    contact = Contact(org_id=org.id, email=email, name=name, **values)
    db.session.add(contact)
    db.session.commit()
    return contact


def make_deal(org, stage_name=None, facts=None, owner=None, title="Acme renewal", amount="1000",
              pipeline_name="Article five-stage"):
    """Create a deal in the named stage, moving it there through the gate with valid facts."""
    p = pipeline(org, pipeline_name)
    actor = user(org, "admin")
    owner = owner or user(org, "rep")
    first = p.open_stages[0]
    deal = create_deal(p, actor, title=title, owner=owner, amount=amount,
                       facts={**full_facts(p, first), **(facts or {})})
    if stage_name and stage_name != first.name:
        from app.deals.service import plan_move

        target = stage(p, stage_name)
        for s in p.open_stages[1:] + [p.stage_by_kind("won")]:
            from tests.values import sample_value

            needed = {r.field.key: sample_value(r.field) for r in plan_move(deal, s).requirements}
            move_deal(deal, s, actor, facts=needed)
            if s.id == target.id:
                break
    return deal
