"""The board's column totals, kept by database triggers on `deal` (O(stages) to read, not O(deals)).

`stage_tally` holds, per (stage, owner), how many deals sit there and their amounts in integer
cents: exact on both engines (no float drift from repeated += / -=). Triggers on `deal`
(AFTER INSERT, AFTER DELETE, AFTER UPDATE OF stage_id, owner_id, amount) keep it right for every
path that writes deals: the ORM, Core bulk inserts (imports, seeds, benches), sweeps and tests'
factories, without application code.

No foreign keys: the tally is derived data. A row whose deals went to zero stays (at zero), and
a foreign key from it would then refuse deleting a stage, a user or an organisation that no
longer has any deal. `deal` is declared dependent on `stage_tally` (create_all makes the tally
first, then deal and its triggers; the tests' cleanup deletes deal's rows first, so the rows the
DELETE triggers write are emptied afterwards with the tally).

The trigger SQL here is what db.create_all() installs (the test suite and the benches use it);
the migration migrations/versions/tally_stage_tally_triggers.py holds its own frozen copy.
"""

from sqlalchemy import DDL, event

from app.extensions import db
from app.models.deals import Deal


class StageTally(db.Model):
    __tablename__ = "stage_tally"

    stage_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    owner_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    # The board's WHERE (org and pipeline), as on deal; taken from the deal that made the row.
    org_id = db.Column(db.Integer, nullable=False)
    pipeline_id = db.Column(db.Integer, nullable=False)
    deals = db.Column(db.BigInteger, nullable=False, default=0)
    amount_cents = db.Column(db.BigInteger, nullable=False, default=0)


# deal's triggers write stage_tally: create it first, drop (and empty) it after deal.
Deal.__table__.add_is_dependent_on(StageTally.__table__)


def _cents(row: str) -> str:
    return f"COALESCE(CAST(ROUND({row}.amount * 100) AS BIGINT), 0)"


def _upsert(stage, owner, org, pipeline, deals, cents) -> str:
    """Add (deals, cents) to the (stage, owner) row, creating it when absent (VALUES form of UPSERT)."""
    return (
        "INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) "
        f"VALUES ({stage}, {owner}, {org}, {pipeline}, {deals}, {cents}) "
        "ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, "
        "amount_cents = stage_tally.amount_cents + excluded.amount_cents;"
    )


def _add(row: str, sign: str) -> str:
    cents = _cents(row) if sign == "+" else f"-{_cents(row)}"
    return _upsert(f"{row}.stage_id", f"{row}.owner_id", f"{row}.org_id", f"{row}.pipeline_id", f"{sign}1", cents)


SQLITE_TRIGGERS = (
    f"CREATE TRIGGER stage_tally_deal_insert AFTER INSERT ON deal BEGIN {_add('NEW', '+')} END",
    f"CREATE TRIGGER stage_tally_deal_delete AFTER DELETE ON deal BEGIN {_add('OLD', '-')} END",
    # Two upserts (old row minus, new row plus): on the same row when only the amount changed.
    "CREATE TRIGGER stage_tally_deal_update AFTER UPDATE OF stage_id, owner_id, amount ON deal "
    "WHEN OLD.stage_id IS NOT NEW.stage_id OR OLD.owner_id IS NOT NEW.owner_id OR OLD.amount IS NOT NEW.amount "
    f"BEGIN {_add('OLD', '-')} {_add('NEW', '+')} END",
)

# PostgreSQL: one function for the three triggers. A move S1 -> S2 touches two tally rows; a
# concurrent move S2 -> S1 would touch them in the other order and deadlock, so the two rows are
# always updated in (stage_id, owner_id) order.
POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION stage_tally_on_deal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add('NEW', '+')}
    ELSIF TG_OP = 'DELETE' THEN
        {_add('OLD', '-')}
    ELSIF OLD.stage_id = NEW.stage_id AND OLD.owner_id = NEW.owner_id THEN
        IF OLD.amount IS DISTINCT FROM NEW.amount THEN
            {_upsert('NEW.stage_id', 'NEW.owner_id', 'NEW.org_id', 'NEW.pipeline_id', '0',
                     f"{_cents('NEW')} - {_cents('OLD')}")}
        END IF;
    ELSIF (OLD.stage_id, OLD.owner_id) < (NEW.stage_id, NEW.owner_id) THEN
        {_add('OLD', '-')}
        {_add('NEW', '+')}
    ELSE
        {_add('NEW', '+')}
        {_add('OLD', '-')}
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGERS = (
    POSTGRESQL_FUNCTION,
    "CREATE TRIGGER stage_tally_deal_insert AFTER INSERT ON deal FOR EACH ROW EXECUTE FUNCTION stage_tally_on_deal()",
    "CREATE TRIGGER stage_tally_deal_delete AFTER DELETE ON deal FOR EACH ROW EXECUTE FUNCTION stage_tally_on_deal()",
    "CREATE TRIGGER stage_tally_deal_update AFTER UPDATE OF stage_id, owner_id, amount ON deal "
    "FOR EACH ROW EXECUTE FUNCTION stage_tally_on_deal()",
)

for _sql in SQLITE_TRIGGERS:
    event.listen(Deal.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRESQL_TRIGGERS:
    event.listen(Deal.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
