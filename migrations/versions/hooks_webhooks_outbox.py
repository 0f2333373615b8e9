"""webhooks: an organisation's webhook subscriptions (url, events, encrypted secret) and
webhook_delivery, the outbox written with each change and delivered by the worker

Revision ID: 7d3e5a9c1b20
Revises: abbfeeb3d5fe
Create Date: 2026-12-05 02:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d3e5a9c1b20'
down_revision = 'abbfeeb3d5fe'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.String(length=400), nullable=False),
    sa.Column('secret', sa.String(length=400), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=300), nullable=False),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_webhook_created_by_id_user')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_webhook_org_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook'))
    )
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_org_active', ['org_id', 'active'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_org_id'), ['org_id'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('attempted_at', sa.DateTime(), nullable=True),
    sa.Column('response_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.String(length=500), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.Column('redelivery_of', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status in ('pending','sending','retrying','delivered','failed')", name=op.f('ck_webhook_delivery_status')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_webhook_delivery_org_id_organization')),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhook.id'], name=op.f('fk_webhook_delivery_webhook_id_webhook'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_delivery_hook_status', ['webhook_id', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_org_id'), ['org_id'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_org_id'))
        batch_op.drop_index('ix_webhook_delivery_hook_status')
        batch_op.drop_index('ix_webhook_delivery_due')
    op.drop_table('webhook_delivery')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_org_id'))
        batch_op.drop_index('ix_webhook_org_active')
    op.drop_table('webhook')
