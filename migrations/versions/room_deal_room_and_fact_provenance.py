"""the deal room (issue 20): deal_room, room_step, room_invite; deal.facts_meta (where each fact came
from); stage_requirement.buyer (met only by the buyer's confirmation); activity kind "room"

Revision ID: a7d20b3c5e91
Revises: e1c4a7b2d9f0
Create Date: 2026-12-04 23:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7d20b3c5e91'
down_revision = 'e1c4a7b2d9f0'
branch_labels = None
depends_on = None

OLD_KINDS = "kind in ('note','call','meeting','email','reply','form_fill','lead')"
NEW_KINDS = "kind in ('note','call','meeting','email','reply','form_fill','lead','room')"


def upgrade():
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facts_meta', sa.JSON(), server_default='{}', nullable=False))
    with op.batch_alter_table('stage_requirement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_activity_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_activity_kind'), NEW_KINDS)
    op.create_table(
        'deal_room',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_deal_room_created_by_id_user')),
        sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], name=op.f('fk_deal_room_deal_id_deal')),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_deal_room_org_id_organization')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_room')),
        sa.UniqueConstraint('deal_id', name=op.f('uq_deal_room_deal_id')),
    )
    with op.batch_alter_table('deal_room', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_room_org_id'), ['org_id'], unique=False)
    op.create_table(
        'room_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('side', sa.String(length=6), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=4), nullable=False),
        sa.Column('requirement', sa.String(length=64), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirmed_contact_id', sa.Integer(), nullable=True),
        sa.Column('confirmed_by', sa.String(length=254), nullable=True),
        sa.Column('confirmed_name', sa.String(length=200), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('confirmed_ip', sa.String(length=45), nullable=True),
        sa.Column('confirmed_user_agent', sa.String(length=300), nullable=True),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.CheckConstraint("side in ('buyer','seller')", name=op.f('ck_room_step_side')),
        sa.CheckConstraint("status in ('open','done')", name=op.f('ck_room_step_status')),
        sa.ForeignKeyConstraint(['confirmed_contact_id'], ['contact.id'],
                                name=op.f('fk_room_step_confirmed_contact_id_contact')),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_room_step_org_id_organization')),
        sa.ForeignKeyConstraint(['room_id'], ['deal_room.id'], name=op.f('fk_room_step_room_id_deal_room')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_room_step')),
    )
    with op.batch_alter_table('room_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_step_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_room_step_room_id'), ['room_id'], unique=False)
    op.create_table(
        'room_invite',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('room_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('mail_pending', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('send_result', sa.String(length=300), server_default='', nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_room_invite_contact_id_contact')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_room_invite_created_by_id_user')),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_room_invite_org_id_organization')),
        sa.ForeignKeyConstraint(['room_id'], ['deal_room.id'], name=op.f('fk_room_invite_room_id_deal_room')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_room_invite')),
        sa.UniqueConstraint('room_id', 'contact_id', name='uq_room_invite_contact'),
        sa.UniqueConstraint('token_hash', name=op.f('uq_room_invite_token_hash')),
    )
    with op.batch_alter_table('room_invite', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_invite_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_room_invite_room_id'), ['room_id'], unique=False)


def downgrade():
    op.drop_table('room_invite')
    op.drop_table('room_step')
    op.drop_table('deal_room')
    op.execute("DELETE FROM activity WHERE kind = 'room'")
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_activity_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_activity_kind'), OLD_KINDS)
    with op.batch_alter_table('stage_requirement', schema=None) as batch_op:
        batch_op.drop_column('buyer')
    with op.batch_alter_table('deal', schema=None) as batch_op:
        batch_op.drop_column('facts_meta')
