"""The deals export: the organisation's deals as CSV rows, filtered like the board."""


def deal_export(org_id: int, pipeline=None, status: str | None = None, owner_id: int | None = None):
    """Return (header, rows) for the organisation's deals, filtered like the board."""
    from app.extensions import db
    from app.models import Company, Contact, Deal, Pipeline, Stage, User

    fields = pipeline.active_fields if pipeline is not None else []
    header = ["Deal Title", "Amount", "Currency", "Stage", "Status", "Pipeline", "Owner", "Company Name",
              "Contact Email", "Created On", "Stage entered", "Closed On", "Expected Close Date"] + [
                  f.label for f in fields]
    query = (db.session.query(Deal, Stage.name, Pipeline.name, User.email, Company.name, Contact.email)
             .join(Stage, Deal.stage_id == Stage.id).join(Pipeline, Deal.pipeline_id == Pipeline.id)
             .join(User, Deal.owner_id == User.id)
             .outerjoin(Company, Deal.company_id == Company.id).outerjoin(Contact, Deal.contact_id == Contact.id)
             .filter(Deal.org_id == org_id))
    if pipeline is not None:
        query = query.filter(Deal.pipeline_id == pipeline.id)
    if status in ("open", "won", "lost"):
        query = query.filter(Deal.status == status)
    if owner_id:
        query = query.filter(Deal.owner_id == owner_id)
    query = query.order_by(Deal.created_at, Deal.id).yield_per(500)

    def rows():
        for deal, stage, pipeline_name, owner, company, contact in query:
            facts = deal.facts or {}
            yield [deal.title, deal.amount, deal.currency, stage, deal.status, pipeline_name, owner, company,
                   contact, deal.created_at, deal.stage_entered_at, deal.closed_at,
                   deal.expected_close_date] + [facts.get(f.key) for f in fields]

    return header, rows()
