"""reports: owner_forecast_snapshot, each owner's share of a pipeline's weekly forecast snapshot

A rep's forecast accuracy is measured against their own frozen forecast, as every other report
table shows a rep their own deals. Weeks snapshotted before this table existed have no owner
rows: a rep sees "no snapshot" for them.

Revision ID: 8c4a1f2e9d37
Revises: 8d4a1f7c2e95
Create Date: 2026-11-28 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c4a1f2e9d37'
down_revision = '8d4a1f7c2e95'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('owner_forecast_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('open_count', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('weighted_cents', sa.BigInteger(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_owner_forecast_snapshot_org_id_organization')),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_owner_forecast_snapshot_owner_id_user')),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipeline.id'], name=op.f('fk_owner_forecast_snapshot_pipeline_id_pipeline')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_forecast_snapshot')),
    sa.UniqueConstraint('pipeline_id', 'week_start', 'owner_id', name='uq_owner_forecast_snapshot_week')
    )
    with op.batch_alter_table('owner_forecast_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_forecast_snapshot_org_id'), ['org_id'], unique=False)


def downgrade():
    with op.batch_alter_table('owner_forecast_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_owner_forecast_snapshot_org_id'))
    op.drop_table('owner_forecast_snapshot')
