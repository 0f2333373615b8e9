"""Which open deals of a stage lack facts it requires, counted in SQL from the deals' facts JSON.

The criteria editor says, after a save, how many open deals in the stage lack a fact it has just
started to require. One statement over the deals' stored facts, never a loop over deals in
Python. A fact is met as `app.deals.facts.is_met` says: a checkbox when it is true, any other
field when it holds something that is not null nor blank text (stored text is already trimmed by
`parse_fact`, so SQL's trim of spaces is enough).
"""

from sqlalchemy import String, and_, bindparam, func, not_, or_, select

from app.extensions import db
from app.models import Deal, FieldDef, Stage
from app.statements import dialect, prebuilt


def _met(dialect_name: str, n: int, checkbox: bool):
    """SQL: the deal's facts meet field number `n` (its key, or JSON path on SQLite, bound as key_n)."""
    key = bindparam(f"key_{n}", type_=String)
    if dialect_name == "postgresql":  # facts is a json column: -> for the value, ->> for its text
        kind = func.json_typeof(Deal.facts.op("->")(key))
        text = Deal.facts.op("->>", return_type=String)(key)
        if checkbox:  # coalesce: an absent fact is unmet, not unknown (NOT NULL would be NULL)
            return func.coalesce(and_(kind == "boolean", text == "true"), False)
        return and_(kind.is_not(None), kind != "null", or_(kind != "string", func.btrim(text) != ""))
    kind = func.json_type(Deal.facts, key)
    if checkbox:
        return func.coalesce(kind, "") == "true"
    return and_(kind.is_not(None), kind != "null",
                or_(kind != "text", func.trim(func.json_extract(Deal.facts, key)) != ""))


@prebuilt
def _lacking_statement(dialect_name: str, checkboxes: tuple):
    """Count the open deals of a stage that miss at least one of len(checkboxes) fields."""
    lacks = or_(*(not_(_met(dialect_name, n, checkbox)) for n, checkbox in enumerate(checkboxes)))
    return (select(func.count()).select_from(Deal)
            .where(Deal.org_id == bindparam("org_id"), Deal.stage_id == bindparam("stage_id"),
                   Deal.status == "open", lacks))


def _key_param(dialect_name: str, key: str) -> str:
    return key if dialect_name == "postgresql" else f'$."{key}"'  # keys are slugs: [a-z0-9_]


def open_deals_lacking(stage: Stage, fields: list[FieldDef]) -> int:
    """How many open deals in `stage` lack at least one of `fields` (one statement; 0 for no fields)."""
    if not fields or stage.kind != "open":
        return 0
    name = dialect()
    params = {"org_id": stage.org_id, "stage_id": stage.id}
    for n, field in enumerate(fields):
        params[f"key_{n}"] = _key_param(name, field.key)
    statement = _lacking_statement(name, tuple(f.type == "checkbox" for f in fields))
    return db.session.execute(statement, params).scalar_one()
