"""Which open deals of a stage lack facts it requires, counted in SQL from the deals' facts JSON.

The criteria editor says, after a save, how many open deals in the stage lack a fact it has just
started to require. One statement over the deals' stored facts, never a loop over deals in
Python; a fact is met as `app.pipelines.fact_sql.unmet` says (the deals list counts the same way).
"""

from sqlalchemy import bindparam, func, or_, select

from app.extensions import db
from app.models import Deal, FieldDef, Stage
from app.pipelines.fact_sql import key_value, unmet
from app.statements import dialect, prebuilt


@prebuilt
def _lacking_statement(dialect_name: str, flags: tuple):
    """Count the open deals of a stage that miss at least one of len(flags) fields ((checkbox, buyer) each)."""
    lacks = or_(*(unmet(dialect_name, f"key_{n}", checkbox, buyer) for n, (checkbox, buyer) in enumerate(flags)))
    return (select(func.count()).select_from(Deal)
            .where(Deal.org_id == bindparam("org_id"), Deal.stage_id == bindparam("stage_id"),
                   Deal.status == "open", lacks))


def open_deals_lacking(stage: Stage, fields: list[FieldDef]) -> int:
    """How many open deals in `stage` lack at least one of `fields` to leave it (one statement; 0 for no
    fields); a fact only the buyer may confirm is lacking until they have."""
    if not fields or stage.kind != "open":
        return 0
    name = dialect()
    buyer = stage.buyer_keys("exit")
    params = {"org_id": stage.org_id, "stage_id": stage.id}
    for n, field in enumerate(fields):
        params[f"key_{n}"] = key_value(name, field.key)
    statement = _lacking_statement(name, tuple((f.type == "checkbox", f.key in buyer) for f in fields))
    return db.session.execute(statement, params).scalar_one()
