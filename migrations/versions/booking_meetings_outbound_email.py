"""booking: a rep's booking profile and weekly availability windows, meetings booked on deals (iCalendar
UID and SEQUENCE, room_id for the deal room), and outbound_email: one-off emails (meeting invitations)
sent by the worker with the same delivery truth as sequence steps

Revision ID: 41c8952f904f
Revises: 28f7006486b6
Create Date: 2026-12-04 23:43:23.083525

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '41c8952f904f'
down_revision = '28f7006486b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('availability_window',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_minute', sa.Integer(), nullable=False),
    sa.Column('end_minute', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('start_minute >= 0 and end_minute <= 1440 and start_minute < end_minute', name=op.f('ck_availability_window_minutes')),
    sa.CheckConstraint('weekday between 0 and 6', name=op.f('ck_availability_window_weekday')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_availability_window_org_id_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_availability_window_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_window'))
    )
    with op.batch_alter_table('availability_window', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_window_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_availability_window_user_day', ['user_id', 'weekday', 'start_minute'], unique=False)

    op.create_table('booking_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('lengths', sa.String(length=40), nullable=False),
    sa.Column('notice_hours', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('horizon_days between 1 and 365', name=op.f('ck_booking_profile_horizon_days')),
    sa.CheckConstraint('notice_hours between 0 and 720', name=op.f('ck_booking_profile_notice_hours')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_booking_profile_org_id_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_booking_profile_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_profile')),
    sa.UniqueConstraint('user_id', name=op.f('uq_booking_profile_user_id'))
    )
    with op.batch_alter_table('booking_profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_profile_org_id'), ['org_id'], unique=False)

    op.create_table('outbound_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=True),
    sa.Column('from_email', sa.String(length=254), nullable=False),
    sa.Column('to_email', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('message', sa.LargeBinary(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('relay_reply', sa.String(length=300), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status in ('queued','sending','retrying','sent','bounced','failed','unknown','skipped')", name=op.f('ck_outbound_email_status')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_outbound_email_org_id_organization')),
    sa.ForeignKeyConstraint(['sender_id'], ['user.id'], name=op.f('fk_outbound_email_sender_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_email')),
    sa.UniqueConstraint('key', name=op.f('uq_outbound_email_key')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbound_email_message_id'))
    )
    with op.batch_alter_table('outbound_email', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_email_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbound_email_org_id'), ['org_id'], unique=False)

    op.create_table('meeting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('uid', sa.String(length=100), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('booked_by', sa.String(length=254), nullable=False),
    sa.Column('room_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("status in ('booked','cancelled')", name=op.f('ck_meeting_status')),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_meeting_times')),
    sa.ForeignKeyConstraint(['contact_id'], ['contact.id'], name=op.f('fk_meeting_contact_id_contact')),
    sa.ForeignKeyConstraint(['deal_id'], ['deal.id'], name=op.f('fk_meeting_deal_id_deal')),
    sa.ForeignKeyConstraint(['org_id'], ['organization.id'], name=op.f('fk_meeting_org_id_organization')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_meeting_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting')),
    sa.UniqueConstraint('uid', name=op.f('uq_meeting_uid'))
    )
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.create_index('ix_meeting_deal_starts', ['deal_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_meeting_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_meeting_user_starts', ['user_id', 'status', 'starts_at'], unique=False)



def downgrade():
    with op.batch_alter_table('meeting', schema=None) as batch_op:
        batch_op.drop_index('ix_meeting_user_starts')
        batch_op.drop_index(batch_op.f('ix_meeting_org_id'))
        batch_op.drop_index('ix_meeting_deal_starts')

    op.drop_table('meeting')
    with op.batch_alter_table('outbound_email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbound_email_org_id'))
        batch_op.drop_index('ix_outbound_email_due')

    op.drop_table('outbound_email')
    with op.batch_alter_table('booking_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_profile_org_id'))

    op.drop_table('booking_profile')
    with op.batch_alter_table('availability_window', schema=None) as batch_op:
        batch_op.drop_index('ix_availability_window_user_day')
        batch_op.drop_index(batch_op.f('ix_availability_window_org_id'))

    op.drop_table('availability_window')
