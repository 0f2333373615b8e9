"""reports: stage_transition.from_entered_at (when the deal entered the stage it left), backfilled

Adds the nullable from_entered_at column (the `at` of the deal's previous transition in
(at, id) order; NULL on each deal's creation) and backfills every existing row with one
UPDATE ... FROM over a LAG() window (the same SQL on PostgreSQL and SQLite >= 3.33). Then
the reports' indexes: ix_transition_org_to_at gains the columns conversion and time in stage
read (index-only scans), and ix_transition_deal_stage (deal_id, to_stage_id, at) answers
"did this deal enter the meeting stage". The indexes are built after the backfill.

Revision ID: 5e1f0c2a7b93
Revises: 3663cd717c1a
Create Date: 2026-11-27 16:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0c2a7b93'
down_revision = '3663cd717c1a'
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE stage_transition SET from_entered_at = prev.entered_at
FROM (SELECT id, LAG(at) OVER (PARTITION BY deal_id ORDER BY at, id) AS entered_at
      FROM stage_transition) AS prev
WHERE prev.id = stage_transition.id AND prev.entered_at IS NOT NULL
"""


def upgrade():
    with op.batch_alter_table('stage_transition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_entered_at', sa.DateTime(), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table('stage_transition', schema=None) as batch_op:
        batch_op.drop_index('ix_transition_org_to_at')
        batch_op.create_index('ix_transition_org_to_at', ['org_id', 'to_stage_id', 'at', 'deal_id', 'id',
                                                          'from_stage_id', 'from_entered_at'], unique=False)
        batch_op.create_index('ix_transition_deal_stage', ['deal_id', 'to_stage_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('stage_transition', schema=None) as batch_op:
        batch_op.drop_index('ix_transition_deal_stage')
        batch_op.drop_index('ix_transition_org_to_at')
        batch_op.create_index('ix_transition_org_to_at', ['org_id', 'to_stage_id', 'at'], unique=False)
        batch_op.drop_column('from_entered_at')
