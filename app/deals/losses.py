"""Why deals are lost: lost deals grouped by the organisation's listed reasons, then "Other"."""

from dataclasses import dataclass, field

from app.deals.service import OTHER
from app.extensions import db
from app.models import Deal, LossReason


@dataclass
class LossGroup:
    label: str
    count: int
    loss_reason_id: int | None = None
    texts: list = field(default_factory=list)  # for "Other": the latest free-text reasons


def listed_reasons(org_id: int) -> list:
    """The organisation's loss reasons a rep picks from, in their order."""
    return (LossReason.query.filter_by(org_id=org_id, archived=False)
            .order_by(LossReason.position, LossReason.id).all())


def loss_breakdown(org_id: int, pipeline_id: int | None = None, examples: int = 5) -> list:
    """Count lost deals per listed reason (archived ones only when used), then "Other" (counted in SQL).

    A free-text reason is "Other" with its text; an organisation that lists its own "Other"
    sees those deals there, with the texts beside it.
    """
    lost = db.and_(Deal.org_id == org_id, Deal.status == "lost",
                   *([Deal.pipeline_id == pipeline_id] if pipeline_id is not None else []))
    counts = dict(db.session.query(Deal.loss_reason_id, db.func.count(Deal.id)).filter(lost)
                  .group_by(Deal.loss_reason_id).all())
    groups, other = [], None
    for reason in LossReason.query.filter_by(org_id=org_id).order_by(LossReason.position, LossReason.id):
        n = counts.get(reason.id, 0)
        if reason.archived and not n:
            continue
        groups.append(LossGroup(reason.label, n, reason.id))
        if reason.label.lower() == OTHER.lower():
            other = groups[-1]
    if other is None:
        other = LossGroup(OTHER, counts.get(None, 0))
        groups.append(other)
    if other.count:
        rows = (db.session.query(Deal.loss_reason_other).filter(lost, Deal.loss_reason_other.isnot(None))
                .order_by(Deal.closed_at.desc(), Deal.id.desc()).limit(examples))
        other.texts = [text for (text,) in rows]
    return groups
