"""mailout: the relay's answer, retries and bounces per send, sender pauses, daily counters

step_send gains relay_reply (the relay's own answer), attempts and next_attempt_at (a 4xx
is retried), and the states retrying, bounced and failed. enrollment gains enrolled_by_id
(owner_id stays the sender; existing rows were enrolled by their sender). sender_pause holds
a sender's (or every sender's) sending after a failure of the installation; sender_day counts
a sender's emails per local day under a row lock (the daily cap).

Revision ID: 9d3f6a1c2e75
Revises: c5d8a1e3f702
Create Date: 2026-12-04 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d3f6a1c2e75'
down_revision = 'c5d8a1e3f702'
branch_labels = None
depends_on = None

OLD_STATUSES = "status in ('sending','sent','unknown','skipped','task')"
NEW_STATUSES = "status in ('sending','retrying','sent','bounced','failed','unknown','skipped','task')"


def upgrade():
    op.create_table('sender_day',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_sender_day_org_id_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_sender_day_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_day')),
    sa.UniqueConstraint('user_id', 'day', name='uq_sender_day_user_day')
    )
    with op.batch_alter_table('sender_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sender_day_org_id'), ['org_id'], unique=False)

    op.create_table('sender_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('retry_at', sa.DateTime(), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('cleared_at', sa.DateTime(), nullable=True),
    sa.Column('cleared_by_id', sa.Integer(), nullable=True),
    sa.Column('open_key', sa.String(length=40), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cleared_by_id'], ['user.id'], name=op.f('fk_sender_pause_cleared_by_id_user')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_sender_pause_org_id_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_sender_pause_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_pause')),
    sa.UniqueConstraint('open_key', name=op.f('uq_sender_pause_open_key'))
    )
    with op.batch_alter_table('sender_pause', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sender_pause_org_id'), ['org_id'], unique=False)

    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrolled_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enrollment_enrolled_by_id_user'), 'user', ['enrolled_by_id'], ['id'])
    op.execute("UPDATE enrollment SET enrolled_by_id = owner_id")

    with op.batch_alter_table('step_send', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relay_reply', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_step_send_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_step_send_status'), NEW_STATUSES)
    op.execute("UPDATE step_send SET attempts = 1 WHERE status IN ('sending', 'sent', 'unknown')")


def downgrade():
    # The new states have no older equivalent: a retry or failure was "not sent", a bounce "skipped".
    op.execute("UPDATE step_send SET status = 'skipped' WHERE status IN ('retrying', 'bounced', 'failed')")
    with op.batch_alter_table('step_send', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_step_send_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_step_send_status'), OLD_STATUSES)
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('relay_reply')

    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrollment_enrolled_by_id_user'), type_='foreignkey')
        batch_op.drop_column('enrolled_by_id')

    with op.batch_alter_table('sender_pause', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sender_pause_org_id'))

    op.drop_table('sender_pause')
    with op.batch_alter_table('sender_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sender_day_org_id'))

    op.drop_table('sender_day')
