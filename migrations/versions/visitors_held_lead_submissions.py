"""lead_submission: status (received | held), why it was held, and who accepted it when

A public form post without the proofs (page token, unused nonce, empty honeypot) is stored
as `held` and never processed until someone accepts it. Existing rows are `received`.
ix_lead_submission_pending gains the status (the worker's scan skips held rows in the
index), and ix_lead_submission_held, partial on held rows, serves the review list and its
counts without costing a normal submission an index write.

Revision ID: 8d4a1f7c2e95
Revises: c5d8a1f3e7b2
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8d4a1f7c2e95'
down_revision = 'c5d8a1f3e7b2'
branch_labels = None
depends_on = None

HELD = sa.text("status = 'held'")


def upgrade():
    with op.batch_alter_table('lead_submission', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=8), server_default='received', nullable=False))
        batch_op.add_column(sa.Column('held_reason', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_lead_submission_reviewed_by_id_user'), 'user',
                                    ['reviewed_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(batch_op.f('ck_lead_submission_status'), "status in ('received','held')")
        batch_op.drop_index('ix_lead_submission_pending')
        batch_op.create_index('ix_lead_submission_pending', ['status', 'processed_at', 'id'], unique=False)
        batch_op.create_index('ix_lead_submission_held', ['org_id', 'form_id', 'id'], unique=False,
                              postgresql_where=HELD, sqlite_where=HELD)


def downgrade():
    # Held rows were never processed; without the status they would be, so they go.
    op.execute("DELETE FROM lead_submission WHERE status = 'held'")
    with op.batch_alter_table('lead_submission', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_submission_held', postgresql_where=HELD, sqlite_where=HELD)
        batch_op.drop_index('ix_lead_submission_pending')
        batch_op.create_index('ix_lead_submission_pending', ['processed_at', 'id'], unique=False)
        batch_op.drop_constraint(batch_op.f('ck_lead_submission_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_lead_submission_reviewed_by_id_user'), type_='foreignkey')
        batch_op.drop_column('reviewed_by_id')
        batch_op.drop_column('reviewed_at')
        batch_op.drop_column('held_reason')
        batch_op.drop_column('status')
