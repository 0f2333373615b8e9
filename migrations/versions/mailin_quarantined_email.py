"""sequences: quarantined_email, inbound messages set aside; address and subject lengths checked on SQLite

A message that cannot be handled (a database error, an invalid address, a parser failure) is
kept in quarantined_email with its reason for an admin to retry or drop, and the IMAP poll and
the webhook move past it. suppression.email and inbound_email.from_email/subject get CHECK
constraints on their lengths, so SQLite (which does not enforce VARCHAR lengths) refuses what
PostgreSQL refuses; rows SQLite took beyond those lengths are cleared first (an address longer
than 254 characters cannot be delivered to). inbound_email loses its lone org_id index: the
unique (org_id, message_key) serves the same lookups, and with stale statistics PostgreSQL
chose the lone index and read every message the organisation ever received to find a few.

Revision ID: c5d8a1e3f702
Revises: 8c4a1f2e9d37
Create Date: 2026-12-04 15:03:16

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5d8a1e3f702'
down_revision = '8c4a1f2e9d37'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('quarantined_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('message_key', sa.String(length=64), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('headers_only', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('sender', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("source in ('imap','webhook')", name=op.f('ck_quarantined_email_source')),
    sa.CheckConstraint("status in ('held','handled','dropped')", name=op.f('ck_quarantined_email_status')),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_quarantined_email_mailbox_id_mailbox'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_quarantined_email_org_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_email')),
    sa.UniqueConstraint('org_id', 'message_key', name='uq_quarantined_email_key')
    )
    with op.batch_alter_table('quarantined_email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantined_email_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_quarantined_email_org_status', ['org_id', 'status', 'received_at'], unique=False)

    op.execute("DELETE FROM suppression WHERE length(email) > 254")
    op.execute("UPDATE inbound_email SET from_email = '' WHERE length(from_email) > 254")
    op.execute("UPDATE inbound_email SET subject = substr(subject, 1, 300) WHERE length(subject) > 300")
    with op.batch_alter_table('suppression', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_suppression_email_length'), 'length(email) <= 254')
    with op.batch_alter_table('inbound_email', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_inbound_email_lengths'),
                                         'length(from_email) <= 254 and length(subject) <= 300')
        batch_op.drop_index('ix_inbound_email_org_id')


def downgrade():
    with op.batch_alter_table('inbound_email', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_email_org_id', ['org_id'], unique=False)
        batch_op.drop_constraint(op.f('ck_inbound_email_lengths'), type_='check')
    with op.batch_alter_table('suppression', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_suppression_email_length'), type_='check')
    with op.batch_alter_table('quarantined_email', schema=None) as batch_op:
        batch_op.drop_index('ix_quarantined_email_org_status')
        batch_op.drop_index(batch_op.f('ix_quarantined_email_org_id'))

    op.drop_table('quarantined_email')
