"""deals: stage_tally, the board's column counts and totals kept by triggers on deal

One row per (stage, owner): its deals and their amounts in integer cents. Triggers on deal
(AFTER INSERT, AFTER DELETE, AFTER UPDATE OF stage_id, owner_id, amount) keep it exact for every
writer; the board reads a few rows per stage instead of a GROUP BY over every deal.

The trigger SQL is a frozen copy of app/models/tally.py's (what db.create_all() installs).
On PostgreSQL the triggers are created before the backfill: CREATE TRIGGER locks deal against
writes until this migration commits, so no deal written meanwhile is missed by the backfill.

Revision ID: 6b2e9d4f1c08
Revises: a7c3d9e1f254
Create Date: 2026-11-27 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6b2e9d4f1c08'
down_revision = 'a7c3d9e1f254'
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    'CREATE TRIGGER stage_tally_deal_insert AFTER INSERT ON deal BEGIN INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (NEW.stage_id, NEW.owner_id, NEW.org_id, NEW.pipeline_id, +1, COALESCE(CAST(ROUND(NEW.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents; END',
    'CREATE TRIGGER stage_tally_deal_delete AFTER DELETE ON deal BEGIN INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (OLD.stage_id, OLD.owner_id, OLD.org_id, OLD.pipeline_id, -1, -COALESCE(CAST(ROUND(OLD.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents; END',
    'CREATE TRIGGER stage_tally_deal_update AFTER UPDATE OF stage_id, owner_id, amount ON deal WHEN OLD.stage_id IS NOT NEW.stage_id OR OLD.owner_id IS NOT NEW.owner_id OR OLD.amount IS NOT NEW.amount BEGIN INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (OLD.stage_id, OLD.owner_id, OLD.org_id, OLD.pipeline_id, -1, -COALESCE(CAST(ROUND(OLD.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents; INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (NEW.stage_id, NEW.owner_id, NEW.org_id, NEW.pipeline_id, +1, COALESCE(CAST(ROUND(NEW.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents; END',
)

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION stage_tally_on_deal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (NEW.stage_id, NEW.owner_id, NEW.org_id, NEW.pipeline_id, +1, COALESCE(CAST(ROUND(NEW.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (OLD.stage_id, OLD.owner_id, OLD.org_id, OLD.pipeline_id, -1, -COALESCE(CAST(ROUND(OLD.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
    ELSIF OLD.stage_id = NEW.stage_id AND OLD.owner_id = NEW.owner_id THEN
        IF OLD.amount IS DISTINCT FROM NEW.amount THEN
            INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (NEW.stage_id, NEW.owner_id, NEW.org_id, NEW.pipeline_id, 0, COALESCE(CAST(ROUND(NEW.amount * 100) AS BIGINT), 0) - COALESCE(CAST(ROUND(OLD.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
        END IF;
    ELSIF (OLD.stage_id, OLD.owner_id) < (NEW.stage_id, NEW.owner_id) THEN
        INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (OLD.stage_id, OLD.owner_id, OLD.org_id, OLD.pipeline_id, -1, -COALESCE(CAST(ROUND(OLD.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
        INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (NEW.stage_id, NEW.owner_id, NEW.org_id, NEW.pipeline_id, +1, COALESCE(CAST(ROUND(NEW.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
    ELSE
        INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (NEW.stage_id, NEW.owner_id, NEW.org_id, NEW.pipeline_id, +1, COALESCE(CAST(ROUND(NEW.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
        INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents) VALUES (OLD.stage_id, OLD.owner_id, OLD.org_id, OLD.pipeline_id, -1, -COALESCE(CAST(ROUND(OLD.amount * 100) AS BIGINT), 0)) ON CONFLICT (stage_id, owner_id) DO UPDATE SET deals = stage_tally.deals + excluded.deals, amount_cents = stage_tally.amount_cents + excluded.amount_cents;
    END IF;
    RETURN NULL;
END
$$
"""

POSTGRESQL_TRIGGERS = (
    'CREATE TRIGGER stage_tally_deal_insert AFTER INSERT ON deal FOR EACH ROW EXECUTE FUNCTION stage_tally_on_deal()',
    'CREATE TRIGGER stage_tally_deal_delete AFTER DELETE ON deal FOR EACH ROW EXECUTE FUNCTION stage_tally_on_deal()',
    'CREATE TRIGGER stage_tally_deal_update AFTER UPDATE OF stage_id, owner_id, amount ON deal FOR EACH ROW EXECUTE FUNCTION stage_tally_on_deal()',
)

BACKFILL = """
INSERT INTO stage_tally (stage_id, owner_id, org_id, pipeline_id, deals, amount_cents)
SELECT stage_id, owner_id, MIN(org_id), MIN(pipeline_id), COUNT(*),
       SUM(COALESCE(CAST(ROUND(amount * 100) AS BIGINT), 0))
FROM deal GROUP BY stage_id, owner_id
"""

TRIGGERS = ("stage_tally_deal_insert", "stage_tally_deal_delete", "stage_tally_deal_update")


def upgrade():
    op.create_table('stage_tally',
    sa.Column('stage_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('owner_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('deals', sa.BigInteger(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('stage_id', 'owner_id', name=op.f('pk_stage_tally'))
    )
    if op.get_bind().dialect.name == "postgresql":
        for sql in (POSTGRESQL_FUNCTION, *POSTGRESQL_TRIGGERS):
            op.execute(sql)
    else:
        for sql in SQLITE_TRIGGERS:
            op.execute(sql)
    op.execute(BACKFILL)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON deal" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS stage_tally_on_deal()")
    op.drop_table('stage_tally')
