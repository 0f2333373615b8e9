"""a rep's day: deal.expected_close_date (with its forecast index), its changes in deal_field_change,
contact.routed_because, and forecast snapshots that freeze what was expected to close in the month and
quarter (accuracy compares those with what was won), marked when rebuilt from history

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


OLD_FIELDS = "field in ('amount','next_step_due')"
NEW_FIELDS = "field in ('amount','next_step_due','expected_close_date')"


def upgrade():
    with op.batch_alter_table('deal_field_change', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deal_field_change_field'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_deal_field_change_field'), NEW_FIELDS)
    for table in ('forecast_snapshot', 'owner_forecast_snapshot'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('month_weighted_cents', sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column('quarter_weighted_cents', sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column('reconstructed', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_close_date', sa.Date(), nullable=True))
        batch_op.create_index('ix_deal_expected_close', ['org_id', 'pipeline_id', 'status', 'expected_close_date'],
                              unique=False)
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routed_because', sa.String(length=200), server_default='', nullable=False))


def downgrade():
    op.execute("DELETE FROM deal_field_change WHERE field = 'expected_close_date'")
    with op.batch_alter_table('deal_field_change', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deal_field_change_field'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_deal_field_change_field'), OLD_FIELDS)
    for table in ('forecast_snapshot', 'owner_forecast_snapshot'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('reconstructed')
            batch_op.drop_column('quarter_weighted_cents')
            batch_op.drop_column('month_weighted_cents')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('routed_because')
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_expected_close')
        batch_op.drop_column('expected_close_date')
