"""Whether a deal's fact meets a requirement, in SQL, for statements that count missing facts over many
deals without loading them (the criteria editor's "open deals lacking", the deals list's missing facts).

It says in SQL what `app.deals.facts.is_met` says in Python (a checkbox when it is true, any other field
when it holds something that is not null nor blank text: stored text is already trimmed by `parse_fact`)
and, for a requirement only the buyer may meet, what `app.deals.provenance.confirmed_by_buyer` says (the
fact's record in `facts_meta` is the buyer's, or an override with a reason). A fact is named by a bound
parameter: its key on PostgreSQL, a JSON path on SQLite (`key_value` makes it; keys are slugs).
"""

from sqlalchemy import String, Text, and_, bindparam, cast, func, not_, or_

from app.models import Deal

WHITESPACE = " \t\r\n"


def key_value(dialect_name: str, key: str) -> str:
    """The value to bind for a fact's parameter."""
    return key if dialect_name == "postgresql" else f'$."{key}"'


def _key(dialect_name: str, name: str):
    if dialect_name == "postgresql":
        return cast(bindparam(name, type_=String), Text)
    return bindparam(name, type_=String)


def unmet(dialect_name: str, name: str, checkbox: bool, buyer: bool = False):
    """SQL: the deal's fact bound as `name` does not meet its requirement (a checkbox one if `checkbox`;
    only the buyer's confirmation meets it if `buyer`)."""
    key = _key(dialect_name, name)
    if dialect_name == "postgresql":
        if checkbox:
            missing = func.coalesce(cast(Deal.facts.op("->")(key), Text), "") != "true"
        else:
            missing = func.btrim(func.coalesce(Deal.facts.op("->>", return_type=Text)(key), ""), WHITESPACE) == ""
    elif checkbox:
        missing = func.coalesce(func.json_type(Deal.facts, key), "") != "true"
    else:
        missing = func.trim(func.coalesce(func.json_extract(Deal.facts, key), ""), WHITESPACE) == ""
    return or_(missing, not_(_confirmed_by_buyer(dialect_name, key))) if buyer else missing


def _confirmed_by_buyer(dialect_name: str, key):
    if dialect_name == "postgresql":
        record = Deal.facts_meta.op("->")(key)
        source = func.coalesce(record.op("->>", return_type=Text)("source"), "")
        reason = func.coalesce(record.op("->>", return_type=Text)("reason"), "")
    else:
        source = func.coalesce(func.json_extract(Deal.facts_meta, key + ".source"), "")
        reason = func.coalesce(func.json_extract(Deal.facts_meta, key + ".reason"), "")
    return or_(source == "buyer", and_(source == "override", func.trim(reason, WHITESPACE) != ""))
