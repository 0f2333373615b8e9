"""sequences: an organisation's own relay, public address and unsubscribe mailbox; the outbox page's index

outreach_settings gains the relay (host, port, security, username, the password encrypted with
Fernet), the public https address links are built on and the unsubscribe mailbox. Empty
values mean the installation's SMTP_URL, BASE_URL and UNSUBSCRIBE_MAILTO, so existing
organisations keep sending as before. step_send gets (org_id, claimed_at) for the outbox page.

Revision ID: c5d8a1f3e7b2
Revises: 6b2e9d4f1c08
Create Date: 2026-12-04 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5d8a1f3e7b2'
down_revision = '6b2e9d4f1c08'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outreach_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relay_host', sa.String(length=253), server_default='', nullable=False))
        batch_op.add_column(sa.Column('relay_port', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('relay_security', sa.String(length=8), server_default='starttls', nullable=False))
        batch_op.add_column(sa.Column('relay_username', sa.String(length=254), server_default='', nullable=False))
        batch_op.add_column(sa.Column('relay_password_encrypted', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('public_url', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('unsubscribe_mailto', sa.String(length=254), server_default='', nullable=False))
        batch_op.create_check_constraint('relay_security', "relay_security in ('none','starttls','ssl')")
        batch_op.create_check_constraint('relay_port', 'relay_port is null or relay_port between 1 and 65535')
    with op.batch_alter_table('step_send', schema=None) as batch_op:
        batch_op.create_index('ix_step_send_org_claimed', ['org_id', 'claimed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('step_send', schema=None) as batch_op:
        batch_op.drop_index('ix_step_send_org_claimed')
    with op.batch_alter_table('outreach_settings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outreach_settings_relay_port'), type_='check')
        batch_op.drop_constraint(op.f('ck_outreach_settings_relay_security'), type_='check')
        batch_op.drop_column('unsubscribe_mailto')
        batch_op.drop_column('public_url')
        batch_op.drop_column('relay_password_encrypted')
        batch_op.drop_column('relay_username')
        batch_op.drop_column('relay_security')
        batch_op.drop_column('relay_port')
        batch_op.drop_column('relay_host')
