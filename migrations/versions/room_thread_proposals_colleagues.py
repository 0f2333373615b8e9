"""room thread, date proposals, colleague requests; sealed outbound email

Revision ID: c7c4090c7113
Revises: 41c8952f904f
Create Date: 2026-12-05 02:26:15.768304

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7c4090c7113'
down_revision = '41c8952f904f'
branch_labels = None
depends_on = None


def upgrade():
    
    op.create_table('room_colleague',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('requested_by_contact_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status in ('pending','approved','declined')", name=op.f('ck_room_colleague_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_room_colleague_decided_by_id_user')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_room_colleague_org_id_organization')),
    sa.ForeignKeyConstraint(['requested_by_contact_id'], ['contact.id'], name=op.f('fk_room_colleague_requested_by_contact_id_contact')),
    sa.ForeignKeyConstraint(['room_id'], ['deal_room.id'], name=op.f('fk_room_colleague_room_id_deal_room')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_room_colleague')),
    sa.UniqueConstraint('room_id', 'email', name='uq_room_colleague_email')
    )
    with op.batch_alter_table('room_colleague', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_colleague_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_room_colleague_room_id'), ['room_id'], unique=False)

    op.create_table('room_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('(contact_id is null) <> (user_id is null)', name=op.f('ck_room_comment_one_author')),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_room_comment_contact_id_contact')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_room_comment_org_id_organization')),
    sa.ForeignKeyConstraint(['room_id'], ['deal_room.id'], name=op.f('fk_room_comment_room_id_deal_room')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_room_comment_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_room_comment'))
    )
    with op.batch_alter_table('room_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_room_comment_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_room_comment_room_id'), ['room_id'], unique=False)

    with op.batch_alter_table('outbound_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('room_invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_room_invite_email_id_outbound_email'), 'outbound_email', ['email_id'], ['id'])

    with op.batch_alter_table('room_step', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('proposed_note', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('proposed_by_contact_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('proposed_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_room_step_proposed_by_contact_id_contact'), 'contact', ['proposed_by_contact_id'], ['id'])




def downgrade():
    
    with op.batch_alter_table('room_step', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_room_step_proposed_by_contact_id_contact'), type_='foreignkey')
        batch_op.drop_column('proposed_at')
        batch_op.drop_column('proposed_by_contact_id')
        batch_op.drop_column('proposed_note')
        batch_op.drop_column('proposed_on')

    with op.batch_alter_table('room_invite', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_room_invite_email_id_outbound_email'), type_='foreignkey')
        batch_op.drop_column('email_id')

    with op.batch_alter_table('outbound_email', schema=None) as batch_op:
        batch_op.drop_column('sealed')

    with op.batch_alter_table('room_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_room_comment_room_id'))
        batch_op.drop_index(batch_op.f('ix_room_comment_org_id'))

    op.drop_table('room_comment')
    with op.batch_alter_table('room_colleague', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_room_colleague_room_id'))
        batch_op.drop_index(batch_op.f('ix_room_colleague_org_id'))

    op.drop_table('room_colleague')

