"""a rep's day: deal.expected_close_date (with its forecast index) and contact.routed_because

Revision ID: e1c4a7b2d9f0
Revises: 9d3f6a1c2e75
Create Date: 2026-12-04 20:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e1c4a7b2d9f0'
down_revision = '9d3f6a1c2e75'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_close_date', sa.Date(), nullable=True))
        batch_op.create_index('ix_deal_expected_close', ['org_id', 'pipeline_id', 'status', 'expected_close_date'],
                              unique=False)
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routed_because', sa.String(length=200), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('routed_because')
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_expected_close')
        batch_op.drop_column('expected_close_date')
